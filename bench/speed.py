"""One measured side of the speed bench, run in its own fresh process by bench.run.

    .venv/bin/python -m bench.speed train --side ours --work /tmp/x
    .venv/bin/python -m bench.speed cold --side ours --work /tmp/x

``train`` imports, trains one product (three models, validation, weights, save),
records the peak RSS, trains a second product (other data) as a warm worker child
would, then times forecasts from the saved models of the first in the same process. ``cold`` is a fresh process that imports, loads the saved models and
forecasts once. The last line of stdout is the JSON result.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

STARTED = time.perf_counter()

from pathlib import Path
from typing import Any

HORIZON = 90
WARM_REPEATS = {"ours": 30, "reference": 3}
PRODUCT_ID = 1


def _limit_threads(side: str) -> None:
    # One BLAS/OpenMP thread, as a worker child has (WORKER_THREADS=1); the reference's
    # TensorFlow gets one thread too. The libraries are imported first: threadpoolctl
    # only reaches the thread pools of libraries already loaded.
    from threadpoolctl import threadpool_limits

    from forecasting.models.model_set import import_model_libraries

    import_model_libraries()
    if side == "reference":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    threadpool_limits(limits=1)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def _ours_engine(work: Path) -> Any:
    from forecasting.data.database import make_engine

    return make_engine(f"sqlite:///{work / 'sales.db'}")


def _ours_store(work: Path) -> Any:
    from forecasting.store.model_store import ModelStore
    from forecasting.store.signature import Signer

    # One fixed key: the cold-forecast process must verify what the training process signed.
    return ModelStore(work / "models", signer=Signer(["bench-only model signing key"]))


def _ours_policy() -> Any:
    from config.settings import Settings
    from forecasting.lifecycle.steps import Policy

    return Policy.from_settings(Settings())  # the production defaults


def train_ours(work: Path) -> dict[str, Any]:
    """Train through the worker's code path (steps.train -> ModelStore), then forecast warm."""
    import forecasting.models.model_set
    from bench.data import synthetic_history
    from forecasting.data import migrations
    from forecasting.data.products import create_product
    from forecasting.data.sales import load_history, upsert_sales
    from forecasting.lifecycle import steps
    from forecasting.store.caches import LoadedCache

    _limit_threads("ours")

    imported = time.perf_counter() - STARTED
    engine = _ours_engine(work)
    migrations.upgrade(engine)
    create_product(engine, name="bench", product_id=PRODUCT_ID)
    series = synthetic_history()
    upsert_sales(engine, product_id=PRODUCT_ID, rows=[(d.date(), float(v)) for d, v in series.items()])
    store, policy = _ours_store(work), _ours_policy()
    history = load_history(engine, product_id=PRODUCT_ID)

    clock = time.perf_counter()
    info = steps.train(engine=engine, store=store, history=history, policy=policy, reason="bench")
    train_s = time.perf_counter() - clock
    rss_after_train = _peak_rss_mb()
    create_product(engine, name="bench 2", product_id=PRODUCT_ID + 1)
    other = synthetic_history(seed=12)
    upsert_sales(engine, product_id=PRODUCT_ID + 1, rows=[(d.date(), float(v)) for d, v in other.items()])
    clock = time.perf_counter()
    steps.train(engine=engine, store=store, history=load_history(engine, product_id=PRODUCT_ID + 1),
                   policy=policy, reason="bench")
    second_s = time.perf_counter() - clock

    cache = LoadedCache(4)
    clock = time.perf_counter()
    prepared = steps.prepare(engine=engine, store=store, cache=cache, product_id=PRODUCT_ID, policy=policy)
    points = steps.forecast_points(prepared.model_set, prepared.history.series, HORIZON)
    first_s = time.perf_counter() - clock
    assert not prepared.trained and len(points) == HORIZON
    warm, model_only = [], []
    for _ in range(WARM_REPEATS["ours"]):
        clock = time.perf_counter()
        prepared = steps.prepare(engine=engine, store=store, cache=cache, product_id=PRODUCT_ID, policy=policy)
        steps.forecast_points(prepared.model_set, prepared.history.series, HORIZON)
        warm.append(time.perf_counter() - clock)
        clock = time.perf_counter()
        forecasting.models.model_set.forecast(prepared.model_set, prepared.history.series, HORIZON)
        model_only.append(time.perf_counter() - clock)
    return {
        "import_s": imported,
        "train_s": train_s,
        "train_second_product_s": second_s,
        "train_detail_s": info["training_seconds"],
        "disk_bytes": store.total_bytes(PRODUCT_ID),
        "files": {name: meta["bytes"] for name, meta in info["files"].items()},
        "peak_rss_mb_after_train": rss_after_train,
        "first_forecast_s": first_s,
        "warm_forecast_s": statistics.median(warm),
        "warm_forecast_model_only_s": statistics.median(model_only),
        "cache_hits": cache.hits,
    }


def train_reference(work: Path) -> dict[str, Any]:
    """Train the seed pipeline (bench.reference), then forecast from its saved files."""
    from bench import reference
    from bench.data import synthetic_history

    _limit_threads("reference")
    import keras  # noqa: F401
    import prophet  # noqa: F401

    imported = time.perf_counter() - STARTED
    folder = work / "reference"
    folder.mkdir(parents=True, exist_ok=True)
    series = synthetic_history()
    clock = time.perf_counter()
    done = reference.train(series, folder)
    train_s = time.perf_counter() - clock
    rss_after_train = _peak_rss_mb()
    second = work / "reference-2"
    second.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter()
    reference.train(synthetic_history(seed=12), second)
    second_s = time.perf_counter() - clock
    clock = time.perf_counter()
    models = reference.load(folder)
    reference.forecast(models, series, HORIZON)
    first_s = time.perf_counter() - clock
    warm = []
    for _ in range(WARM_REPEATS["reference"]):
        clock = time.perf_counter()
        reference.forecast(models, series, HORIZON)
        warm.append(time.perf_counter() - clock)
    return {
        "import_s": imported,
        "train_s": train_s,
        "train_second_product_s": second_s,
        "train_detail_s": done["seconds"],
        "disk_bytes": _folder_bytes(folder),
        "files": {p.name: p.stat().st_size for p in sorted(folder.iterdir())},
        "peak_rss_mb_after_train": rss_after_train,
        "first_forecast_s": first_s,
        "warm_forecast_s": statistics.median(warm),
    }


def cold(side: str, work: Path) -> dict[str, Any]:
    """Import, load the saved models and forecast once, in this fresh process."""
    from bench.data import synthetic_history

    series = synthetic_history()
    if side == "reference":
        from bench import reference

        _limit_threads("reference")
        models = reference.load(work / "reference")
        reference.forecast(models, series, HORIZON)
    else:
        from forecasting.lifecycle import steps
        from forecasting.store.caches import LoadedCache

        _limit_threads("ours")
        prepared = steps.prepare(engine=_ours_engine(work), store=_ours_store(work), cache=LoadedCache(1),
                                    product_id=PRODUCT_ID, policy=_ours_policy())
        assert not prepared.trained
        steps.forecast_points(prepared.model_set, prepared.history.series, HORIZON)
    return {"cold_forecast_s": time.perf_counter() - STARTED, "peak_rss_mb": _peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["train", "cold"])
    parser.add_argument("--side", choices=["ours", "reference"], required=True)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.mode == "train":
        result = (train_ours if args.side == "ours" else train_reference)(args.work)
    else:
        result = cold(args.side, args.work)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
