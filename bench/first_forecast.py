"""Time the first forecast of a product (training included) and a later one, over HTTP.

Run against a live stack (`make run` in another terminal):

    .venv/bin/python -m bench.first_forecast --product 1 --horizon 90
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from jobs.records import TERMINAL

SEED_PROMISE = {"first_s": "60-120", "later_s": "< 5", "disk_mb": "~25"}


def call(method: str, url: str, body: dict[str, Any] | None = None, **headers: str) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def forecast(base: str, product: int, horizon: int) -> tuple[float, dict[str, Any]]:
    """POST the forecast asking to wait for it (Prefer: wait), then wait on the job if it is not done yet."""
    started = time.perf_counter()
    status, body = call("POST", f"{base}/forecast", {"product_id": product, "forecast_horizon": horizon},
                        Prefer="wait=25")
    if status == 200:
        return time.perf_counter() - started, body
    if status != 202:
        sys.exit(f"POST /forecast answered {status}: {body}")
    while True:
        _, job = call("GET", f"{base}/jobs/{body['job_id']}?wait=25")
        if job["status"] in TERMINAL:
            return time.perf_counter() - started, job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/api/v1")
    parser.add_argument("--product", type=int, default=1)
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--later", type=int, default=5, help="later forecasts to time")
    args = parser.parse_args()

    call("DELETE", f"{args.url}/models/{args.product}")
    first_s, job = forecast(args.url, args.product, args.horizon)
    if job["status"] != "succeeded":
        sys.exit(f"first forecast {job['status']}: {job['error']}")
    later = sorted(forecast(args.url, args.product, args.horizon)[0] for _ in range(args.later))
    _, info = call("GET", f"{args.url}/models/{args.product}")
    disk_mb = sum(f["bytes"] for f in info["files"].values()) / 2**20
    seconds = info.get("training_seconds", {})
    rows = [
        ("first forecast (training included), s", f"{first_s:.1f}", SEED_PROMISE["first_s"]),
        ("later forecast, median s", f"{later[len(later) // 2]:.3f}", SEED_PROMISE["later_s"]),
        ("model set on disk, MB", f"{disk_mb:.2f}", SEED_PROMISE["disk_mb"]),
    ]
    print(f"{'figure':42} {'ours':>10} {'seed README':>12}")
    for name, ours, ref in rows:
        print(f"{name:42} {ours:>10} {ref:>12}")
    print("training seconds per model:", json.dumps(seconds))


if __name__ == "__main__":
    main()
