"""Training throughput of one process against two at once, outside Celery.

    .venv/bin/python -m bench.parallel_training [--products 4]

Each process limits BLAS and OpenMP to one thread (as a worker child does),
trains one warm-up product, then `--products` more with the production configuration.
The ratio is the ceiling the bulk retrain's 1-vs-2-process scaling can reach here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from config.settings import ROOT

CHILD = """
import json, sys, time
import numpy as np, pandas as pd
from threadpoolctl import threadpool_limits
from config.settings import default_model_params
from forecasting.models.model_set import import_model_libraries, train_model_set
import_model_libraries()
threadpool_limits(1)  # after the imports: it limits the BLAS/OpenMP libraries already loaded
seed, products = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(seed)
days = np.arange(942)
series = pd.Series(rng.poisson(50 + 10 * np.sin(days * 2 * np.pi / 7)).astype(float),
                   index=pd.date_range("2021-01-01", periods=len(days)))
train_model_set(series, params=default_model_params(), min_samples=100, product_id=1)
started = time.perf_counter()
for n in range(products):
    train_model_set(series * (1 + n / 10), params=default_model_params(), min_samples=100, product_id=1)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def run(processes: int, products: int) -> list[float]:
    """Return the training seconds of each of `processes` processes started at once."""
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(seed), str(products)], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for seed in range(processes)]
    return [json.loads(p.communicate()[0].strip().splitlines()[-1])["seconds"] for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=4)
    args = parser.parse_args()
    one = run(1, args.products)[0]
    two = run(2, args.products)
    rate_one, rate_two = args.products / one, 2 * args.products / max(two)
    print(f"{'figure':44} {'ours':>8} {'ideal':>8}")
    print(f"{'s per product, 1 process':44} {one / args.products:8.2f}")
    print(f"{'s per product per process, 2 at once':44} {max(two) / args.products:8.2f}")
    print(f"{'throughput scaling 2 vs 1':44} {rate_two / rate_one:8.2f} {2.0:8.2f}")


if __name__ == "__main__":
    main()
