"""An untrusted model set is retrained by the forecast path and the stale scan, and never unpickled."""

import logging
from datetime import timedelta

import pytest

from forecasting.data.products import create_product
from forecasting.data.sales import load_history, upsert_sales
from forecasting.lifecycle import stale_scan, steps
from forecasting.lifecycle.training_runs import list_runs
from forecasting.models.model_set import ModelSet
from forecasting.store.caches import ForecastMemo, LoadedCache
from forecasting.store.model_store import ModelStore
from forecasting.store.signature import Signer
from tests.forecasting.conftest import make_signer
from tests.forecasting.store.test_untrusted_sets import plant

SAVED_DAYS = 7


@pytest.fixture
def product(engine, history):
    pid = create_product(engine, name="signed")["id"]
    upsert_sales(engine, product_id=pid, rows=[(d.date(), float(v)) for d, v in history.items()])
    return pid


@pytest.fixture
def policy(small_params):
    return steps.Policy(params=small_params, min_samples=100, max_age=timedelta(days=7),
                        saved_forecast_days=SAVED_DAYS)


def run(path, *, engine, store, cache, product_id, policy):
    if path == "prepare":
        prepared = steps.prepare(engine=engine, store=store, cache=cache, product_id=product_id, policy=policy)
        return prepared.trained, prepared.reason
    # Longer than the saved forecast: the models are loaded and run.
    made = steps.forecast(engine=engine, store=store, cache=cache, memo=ForecastMemo(4), product_id=product_id,
                          horizon=3 * SAVED_DAYS, policy=policy)
    assert len(made.points) == 3 * SAVED_DAYS
    return made.trained, made.reason


@pytest.mark.parametrize("member_file", ["prophet_model.pkl", "rf_model.pkl", "scaler.pkl"])
@pytest.mark.parametrize("path", ["prepare", "forecast"])
def test_a_planted_pickle_runs_no_code_and_the_set_is_retrained(engine, tmp_path, product, policy, path, member_file,
                                                                 caplog):
    store, cache = ModelStore(tmp_path / "models", signer=make_signer()), LoadedCache(2)
    first = steps.train(engine=engine, store=store, history=load_history(engine, product_id=product), policy=policy,
                        reason="test")
    cache.load(store, product, ModelSet.load)  # a warm worker holds the genuine set
    marker = tmp_path / "marker"
    plant(store.root / str(product), marker, member_file)

    with caplog.at_level(logging.WARNING, logger="forecasting.lifecycle.steps"):
        trained, reason = run(path, engine=engine, store=store, cache=cache, product_id=product, policy=policy)

    assert not marker.exists(), "the planted pickle ran"
    assert (trained, reason) == (True, "untrusted")
    assert [r["reason"] for r in list_runs(engine, product_id=product)] == ["untrusted", "test"]
    [warning] = [r for r in caplog.records if r.getMessage() == "untrusted model set, retraining it"]
    assert warning.levelno == logging.WARNING and warning.fields["product_id"] == product
    info = store.read_info(product)
    assert info["set_id"] != first["set_id"] and info["reason"] == "untrusted"
    # The new set is the service's own again: the next request uses it as it is.
    assert run(path, engine=engine, store=store, cache=cache, product_id=product, policy=policy) == (False, None)
    assert not marker.exists()


def test_a_set_copied_from_an_environment_with_another_key_is_retrained(engine, tmp_path, product, policy):
    elsewhere = ModelStore(tmp_path / "models", signer=Signer(["the other environment's key"]))
    steps.train(engine=engine, store=elsewhere, history=load_history(engine, product_id=product), policy=policy,
                reason="test")
    here = ModelStore(tmp_path / "models", signer=make_signer())
    assert stale_scan.stale_products(engine=engine, store=here, policy=policy)[0] == [(product, "untrusted")]
    trained, reason = run("prepare", engine=engine, store=here, cache=LoadedCache(2), product_id=product,
                          policy=policy)
    assert (trained, reason) == (True, "untrusted")
    assert here.read_info(product)["signature"]["key_id"] == here.signer.key_id
    assert stale_scan.stale_products(engine=engine, store=here, policy=policy)[0] == []


def test_a_set_signed_with_the_old_key_of_a_rotation_is_used_as_it_is(engine, tmp_path, product, policy):
    old = ModelStore(tmp_path / "models", signer=Signer(["old key"]))
    info = steps.train(engine=engine, store=old, history=load_history(engine, product_id=product), policy=policy,
                       reason="test")
    rotated = ModelStore(tmp_path / "models", signer=Signer(["new key", "old key"]))
    assert stale_scan.stale_products(engine=engine, store=rotated, policy=policy)[0] == []
    assert run("forecast", engine=engine, store=rotated, cache=LoadedCache(2), product_id=product,
               policy=policy) == (False, None)
    assert rotated.read_info(product)["set_id"] == info["set_id"]


def test_a_set_replaced_between_the_check_and_the_load_is_retrained_as_untrusted(engine, tmp_path, product, policy,
                                                                                   monkeypatch):
    store = ModelStore(tmp_path / "models", signer=make_signer())
    steps.train(engine=engine, store=store, history=load_history(engine, product_id=product), policy=policy,
                reason="test")
    marker = tmp_path / "marker"
    real_check = steps.check

    def check_then_plant(**kwargs):
        reason = real_check(**kwargs)
        plant(store.root / str(product), marker)  # lands after the set was found fresh
        return reason

    monkeypatch.setattr(steps, "check", check_then_plant)
    prepared = steps.prepare(engine=engine, store=store, cache=LoadedCache(2), product_id=product, policy=policy)
    assert (prepared.trained, prepared.reason) == (True, "untrusted") and not marker.exists()
    assert [r["reason"] for r in list_runs(engine, product_id=product)] == ["untrusted", "test"]
