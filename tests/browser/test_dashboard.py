"""The dashboard in a real browser (Debian's chromium driven by Playwright) on a real API and worker."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import redis
import requests
from werkzeug.serving import make_server

from api import create_app
from forecasting.data.demo import seed_demo
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from jobs import locks
from tests import services
from tests.api.conftest import history
from tests.services import ROOT
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import make_stack

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "var"


@pytest.fixture
def browser_ready() -> None:
    """Skip without chromium or Playwright; fail instead under CI=true, where they must be installed."""
    missing = []
    if shutil.which(CHROMIUM) is None:
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (requirements-dev.txt)")
    services.require(not missing, "the browser test needs " + " and ".join(missing))


@pytest.fixture
def served(browser_ready: None, tmp_path: Path, redis_url: str) -> Iterator[str]:
    """Serve the API over HTTP from a thread beside a real worker; product 1 trained, 2 not yet, 3 too short."""
    env = make_stack(tmp_path, f"sqlite:///{tmp_path / 'sales.db'}", redis_url,
                     PROMETHEUS_MULTIPROC_DIR=tmp_path / "metrics")
    app = create_app(env)
    engine = app.extensions["forecasting"].engine
    assert seed_demo(engine, products=2, days=730, end=date(2024, 6, 30), seed=7) == [1, 2]
    create_product(engine, name="Seasonal mug", product_id=3)
    upsert_sales(engine, product_id=3, rows=history(50))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with celery_worker(env, log=tmp_path / "worker.log"):
            job = requests.post(f"{base}/api/v1/forecast", json={"product_id": 1, "forecast_horizon": 90},
                                headers={"Prefer": "wait=30"}, timeout=60)
            job = _ended(base, job.json()["links"]["self"])
            assert job["status"] == "succeeded", job
            yield base
    finally:
        server.shutdown()
        thread.join(10)


def _ended(base: str, location: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{base}{location}?wait=10", timeout=30).json()
        if job["status"] in {"succeeded", "failed", "skipped"}:
            return job
    raise AssertionError(f"job {location} did not end in {timeout} s")


def test_dashboard_in_a_browser(served: str, redis_url: str) -> None:
    from playwright.sync_api import sync_playwright

    base = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            errors: list[str] = []
            foreign: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: None if req.url.startswith(base) else foreign.append(req.url))

            page.goto(base + "/")
            rows = page.locator("table.products tbody tr")
            assert rows.count() == 3
            assert "Demo product 1" in rows.nth(0).inner_text() and "fresh" in rows.nth(0).inner_text()
            assert "missing" in rows.nth(1).inner_text() and "not trained yet" in rows.nth(1).inner_text()
            assert "too little history" in rows.nth(2).inner_text()
            page.evaluate("window.notReloaded = true")

            # Product 1's training lock is held here, so its retrain runs but waits, and product 2's
            # waits queued behind it (the worker runs one job at a time) until the lock is let go.
            lock = redis.Redis.from_url(redis_url)
            key = locks.LOCK_KEY.format(product_id=1)
            lock.set(key, "browser-test", ex=120)
            first = requests.post(f"{base}/api/v1/models/1/retrain", json={"force": True}, timeout=30).json()
            second = requests.post(f"{base}/api/v1/models/2/retrain", json={"force": True}, timeout=30).json()
            assert first["status"] == second["status"] == "queued"
            page.locator(f'tr[data-job-id="{first["job_id"]}"] td.status', has_text="running").wait_for(timeout=60_000)
            assert page.locator(f'tr[data-job-id="{second["job_id"]}"] td.status').inner_text() == "queued"
            lock.delete(key)
            seen = _watch(page, second["job_id"], screenshot=SCREENSHOTS / "dashboard.png")
            assert seen[0] == ("queued", 0) and seen[-1] == ("succeeded", 100), seen
            assert page.evaluate("window.notReloaded") is True  # the bars moved without a reload

            page.reload()
            assert "fresh" in page.locator('tr[data-product-id="2"]').inner_text()
            page.click('tr[data-product-id="2"] a')
            page.wait_for_url(f"{base}/products/2")
            chart = page.locator("img.chart")
            chart.wait_for()
            page.wait_for_function("document.querySelector('img.chart').complete")
            assert page.evaluate("document.querySelector('img.chart').naturalWidth") > 0
            assert "succeeded" in page.locator("table.runs").inner_text()
            assert "random forest" in page.locator("table.metrics").inner_text()
            page.screenshot(path=str(SCREENSHOTS / "dashboard-product.png"), full_page=True)
            assert not errors, errors
            assert not foreign, foreign
        finally:
            browser.close()


def _watch(page, job_id: str, *, screenshot: Path, timeout: float = 240) -> list[tuple[str, int]]:
    # The (status, percent) the page shows for `job_id`, each change once, until the job ended.
    row = page.locator(f'tr[data-job-id="{job_id}"]')
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + timeout
    shot = False
    while time.monotonic() < deadline:
        if row.count():
            state = (row.locator("td.status").inner_text(), int(row.locator(".bar").get_attribute("aria-valuenow")))
            if not seen or seen[-1] != state:
                seen.append(state)
            if not shot and state[0] == "running" and 0 < state[1] < 100:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
                shot = True
            if state[0] in {"succeeded", "failed", "skipped"}:
                break
        page.wait_for_timeout(100)
    if not shot:
        page.screenshot(path=str(screenshot), full_page=True)
    return seen
