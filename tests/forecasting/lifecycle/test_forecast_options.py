"""The worker's forecast step with options: computed for the request, what-if rows used and never kept."""

from datetime import timedelta

import pytest

from forecasting.data.calendar import read_calendar, upsert_calendar
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from forecasting.errors import InvalidForecastOptions
from forecasting.lifecycle import custom_forecasts, saved_forecasts, steps
from forecasting.lifecycle.forecast_options import ForecastOptions, check_overrides
from forecasting.store.caches import ForecastMemo, LoadedCache
from forecasting.store.model_store import ModelStore
from tests.forecasting.conftest import make_signer


@pytest.fixture
def product(engine, history):
    pid = create_product(engine, name="shop")["id"]
    upsert_sales(engine, product_id=pid, rows=[(d.date(), float(v)) for d, v in history.items()])
    upsert_calendar(engine, product_id=pid, rows=[
        {"date": d.date(), "open": True, "regressors": {"promo": float(i % 6 == 0)}} for i, d in
        enumerate(history.index)])
    return pid, history.index[-1].date()


def run(engine, store, memo, pid, policy, horizon=14, options=None):
    if options is None:
        return steps.forecast(engine=engine, store=store, cache=LoadedCache(2), memo=memo, product_id=pid,
                              horizon=horizon, policy=policy)
    return custom_forecasts.forecast(engine=engine, store=store, cache=LoadedCache(2), product_id=pid,
                                     horizon=horizon, policy=policy, lock=None, job_id=None, progress=None,
                                     options=options)


def test_a_what_if_forecast_is_computed_and_leaves_calendar_memo_and_saved_forecast_alone(
        engine, tmp_path, product, small_params):
    pid, end = product
    store, memo = ModelStore(tmp_path / "models", signer=make_signer()), ForecastMemo(8)
    policy = steps.Policy(params=small_params, min_samples=100, max_age=timedelta(days=7), saved_forecast_days=14)
    first = run(engine, store, memo, pid, policy)
    assert {w["field"] for w in first.warnings} == {"open", "regressors.promo"}
    stored, set_id = read_calendar(engine, product_id=pid), first.info["set_id"]
    saved = saved_forecasts.load(engine, product_id=pid, set_id=set_id)
    closed = [end + timedelta(days=n) for n in (2, 3)]

    options = ForecastOptions.from_params({"calendar": [{"date": day.isoformat(), "open": False} for day in closed]
                                           + [{"date": (end + timedelta(days=5)).isoformat(),
                                               "regressors": {"promo": 1}}]})
    what_if = run(engine, store, memo, pid, policy, options=options)

    assert what_if.source == "computed" and not what_if.trained
    by_day = {p["date"]: p for p in what_if.points}
    for day in closed:
        assert all(by_day[day.isoformat()][k] == 0 for k in ("forecast", "lower", "upper", "lower_95", "upper_95",
                                                              "prophet", "lstm", "random_forest"))
    assert all(p["forecast"] > 0 for p in what_if.points if p["date"] not in {d.isoformat() for d in closed})
    warned = {w["field"]: w for w in what_if.warnings}
    assert warned["open"]["count"] == 12 and warned["regressors.promo"]["count"] == 13
    assert what_if.options["calendar_overrides"] == 3
    assert read_calendar(engine, product_id=pid) == stored
    assert saved_forecasts.load(engine, product_id=pid, set_id=set_id) == saved
    again = run(engine, store, memo, pid, policy)
    assert again.source == "saved" and again.points == first.points


def test_options_round_trip_through_job_params():
    options = ForecastOptions(levels=(60, 90), frequency="monthly", members=("prophet", "lstm"),
                              calendar=check_overrides([{"date": "2025-01-02", "holiday": "", "open": None}]))
    params = options.to_params()
    assert params == {"level": [60, 90], "frequency": "monthly", "members": ["prophet", "lstm"],
                      "calendar": [{"date": "2025-01-02", "open": None, "holiday": ""}]}
    assert ForecastOptions.from_params({"horizon": 3, **params}) == options
    assert ForecastOptions.from_params({"horizon": 3}).is_default and ForecastOptions().to_params() == {}


def test_an_override_left_behind_by_new_sales_fails_the_job_by_name(engine, tmp_path, product, small_params):
    pid, end = product
    store = ModelStore(tmp_path / "models", signer=make_signer())
    policy = steps.Policy(params=small_params, min_samples=100, max_age=timedelta(days=7))
    options = ForecastOptions.from_params({"calendar": [{"date": end.isoformat(), "open": False}]})
    with pytest.raises(InvalidForecastOptions, match=f"row for {end} is not a forecast day"):
        run(engine, store, ForecastMemo(8), pid, policy, options=options)
