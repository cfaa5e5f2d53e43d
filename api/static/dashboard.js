// Refresh the jobs table while jobs are under way: poll the dashboard's jobs endpoint.
(function () {
  "use strict";
  var table = document.querySelector("table.jobs");
  if (!table) { return; }
  var url = table.getAttribute("data-refresh");
  var body = document.getElementById("jobs-body");
  var ACTIVE = 1000, IDLE = 3000;

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    return td;
  }

  function when(value) {
    return value ? value.slice(0, 16).replace("T", " ") : "\u2013";
  }

  function row(job) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-job-id", job.id);
    tr.className = "job-" + job.status;
    var id = cell(""), code = document.createElement("code");
    code.textContent = job.id.slice(0, 8);
    id.appendChild(code);
    tr.appendChild(id);
    tr.appendChild(cell(job.kind));
    var product = cell("");
    if (job.product_id) {
      var link = document.createElement("a");
      link.href = "/products/" + job.product_id;
      link.textContent = job.product_id;
      product.appendChild(link);
    }
    tr.appendChild(product);
    var status = cell(job.status);
    status.className = "status";
    tr.appendChild(status);
    var progress = cell(""), bar = document.createElement("div"), fill = document.createElement("div");
    bar.className = "bar";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuenow", job.progress);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    fill.className = "fill";
    fill.style.width = job.progress + "%";
    bar.appendChild(fill);
    progress.appendChild(bar);
    var stage = document.createElement("span");
    stage.className = "stage";
    stage.textContent = job.progress + " % " + (job.stage || "");
    progress.appendChild(stage);
    tr.appendChild(progress);
    tr.appendChild(cell(when(job.created_at)));
    tr.appendChild(cell(when(job.finished_at)));
    return tr;
  }

  function render(jobs) {
    var rows = document.createDocumentFragment();
    jobs.forEach(function (job) { rows.appendChild(row(job)); });
    if (!jobs.length) {
      var empty = document.createElement("tr"), td = cell("No jobs yet.");
      td.colSpan = 7;
      empty.appendChild(td);
      rows.appendChild(empty);
    }
    body.replaceChildren(rows);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (data) {
        render(data.jobs);
        var busy = data.jobs.some(function (job) { return job.status === "queued" || job.status === "running"; });
        window.setTimeout(poll, busy ? ACTIVE : IDLE);
      })
      .catch(function () { window.setTimeout(poll, IDLE); });
  }

  window.setTimeout(poll, ACTIVE);
}());
