import json
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import InsufficientHistory, ModelIntegrityError
from forecasting.models import model_set as training
from forecasting.models.forest import ForestModel
from forecasting.models.lstm.deseasonalised import DeseasonalisedLSTM
from forecasting.models.prophet_model import ProphetModel
from tests import services

COLUMNS = ["forecast", "lower", "upper", "lower_95", "upper_95", "prophet", "lstm", "random_forest"]


@pytest.fixture(scope="module")
def trained(small_params, history):
    stages = []
    model_set = training.train_model_set(
        history, params=small_params, min_samples=100, product_id=7, progress=lambda s, p: stages.append((s, p))
    )
    return model_set, stages


def test_importing_the_models_starts_neither_prophet_nor_the_web_or_queue_libraries():
    # Prophet is imported on first use (or by a worker on purpose, before it forks).
    code = (
        "import sys, forecasting.models.model_set\n"
        "loaded = [m for m in ('tensorflow', 'keras', 'prophet', 'flask', 'celery') if m in sys.modules]\n"
        "print(','.join(loaded))"
    )
    root = services.ROOT
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)

    assert done.stdout.strip() == ""


def test_training_and_forecasting_a_model_set_never_imports_tensorflow(tmp_path):
    # TensorFlow's import alone costs a worker about 3 s and 600 MB: the LSTM runs in NumPy.
    code = (
        "import sys\n"
        "from tests.forecasting.conftest import make_history, tiny_params\n"
        "from forecasting.models.model_set import train_model_set, forecast\n"
        "history = make_history(200)\n"
        "model_set = train_model_set(history, params=tiny_params(), min_samples=100, product_id=1)\n"
        "forecast(model_set, history, 5)\n"
        "print('loaded:' + ','.join(m for m in ('tensorflow', 'keras', 'torch') if m in sys.modules))"
    )
    root = services.ROOT
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)

    assert done.stdout.strip().splitlines()[-1] == "loaded:"


def test_members_are_prophet_lstm_and_forest_in_order():
    assert training.MEMBERS == {"prophet": ProphetModel, "lstm": DeseasonalisedLSTM, "random_forest": ForestModel}


def test_too_short_history_names_the_count_and_the_minimum(small_params, history):
    with pytest.raises(InsufficientHistory, match="has 60 days .* at least 100") as caught:
        training.train_model_set(history.iloc[:60], params=small_params, min_samples=100, product_id=3)

    assert (caught.value.product_id, caught.value.count, caught.value.minimum) == (3, 60, 100)


def test_the_minimum_rises_to_what_the_models_need(small_params, history):
    with pytest.raises(InsufficientHistory) as caught:
        training.train_model_set(history.iloc[:30], params=small_params, min_samples=10, product_id=3)

    assert caught.value.minimum == training.minimum_days(small_params, 10) > 30


def test_a_history_of_exactly_the_minimum_trains_every_member(small_params, history):
    shortest = history.iloc[: training.minimum_days(small_params, 10)]

    model_set = training.train_model_set(shortest, params=small_params, min_samples=10, product_id=3)

    assert np.isfinite(training.forecast(model_set, shortest, 7).to_numpy()).all()


@pytest.mark.parametrize(("length", "expected"), [(1000, 90), (300, 60), (100, 20), (40, 8), (30, 7)])
def test_validation_tail_shrinks_for_short_histories(length, expected):
    assert training.validation_days(length, 90) == expected


def test_a_history_with_gaps_is_refused(small_params, history):
    with pytest.raises(ValueError, match="no gaps"):
        training.train_model_set(history.drop(history.index[50]), params=small_params, min_samples=100, product_id=1)


def test_model_set_holds_weights_metrics_intervals_and_timings(trained, small_params):
    model_set, _ = trained

    assert list(model_set.members) == list(training.MEMBERS)
    assert sum(model_set.weights.values()) == pytest.approx(1.0)
    assert set(model_set.metrics) == {"prophet", "lstm", "random_forest", "ensemble"}
    for values in model_set.metrics.values():
        assert set(values) == {"mae", "rmse", "smape", "mase"}
        assert values["mae"] >= 0
    assert set(model_set.training_seconds) == {"prophet", "lstm", "random_forest", "total"}
    assert model_set.training_seconds["total"] >= model_set.training_seconds["lstm"] > 0
    assert model_set.validation_days == small_params.validation_days
    assert model_set.params == small_params


def test_the_lower_error_member_weighs_more(trained):
    model_set, _ = trained
    by_error = sorted(model_set.weights, key=lambda name: model_set.metrics[name]["mae"])

    assert model_set.weights[by_error[0]] > model_set.weights[by_error[-1]]


def test_progress_is_monotonic_from_validation_to_done(trained):
    _, stages = trained
    percents = [percent for _, percent in stages]

    assert stages[0] == ("validating prophet", 0)
    assert stages[-1] == ("done", 100)
    assert percents == sorted(percents)
    # A smooth product: the stages of the member an intermittent shape adds are skipped.
    assert [stage for stage, _ in stages] == [stage for stage in training.STAGES if "tsb" not in stage]


def test_final_members_have_seen_the_whole_history(trained, history):
    model_set, _ = trained

    assert model_set.members["prophet"].prophet_.history["ds"].max() == history.index[-1]
    assert model_set.members["random_forest"].forest_.n_features_in_ > 0
    assert model_set.members["lstm"].lstm_.epochs_trained_ > 0


def test_forecast_frame_has_the_dates_columns_and_ordered_bounds(trained, history):
    model_set, _ = trained

    frame = training.forecast(model_set, history, 30)

    assert list(frame.columns) == COLUMNS
    assert frame.index.equals(pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=30, freq="D"))
    values = frame.to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (frame.lower <= frame.forecast).all() and (frame.forecast <= frame.upper).all()
    assert (frame.lower_95 <= frame.lower).all() and (frame.upper <= frame.upper_95).all()
    assert (frame.upper > frame.lower).all()


def test_forecast_is_the_weighted_member_sum(trained, history):
    model_set, _ = trained
    frame = training.forecast(model_set, history, 10)

    expected = sum(weight * frame[name] for name, weight in model_set.weights.items())

    np.testing.assert_allclose(frame.forecast, expected)


def test_describe_is_strict_json(trained):
    model_set, _ = trained

    described = json.loads(json.dumps(model_set.describe(), allow_nan=False))

    assert set(described) >= {"weights", "metrics", "intervals", "training_seconds", "params"}
    assert described["params"]["lstm_units"] == list(model_set.params.lstm_units)


def test_save_and_load_round_trip_gives_the_same_forecast(trained, history, tmp_path):
    model_set, _ = trained
    model_set.save(tmp_path)
    info = json.loads(json.dumps({**model_set.describe(), "trained_at": "2024-01-01T00:00:00+00:00"}))

    loaded = training.ModelSet.load(tmp_path, info)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "lstm_model.h5",
        "prophet_model.pkl",
        "rf_model.pkl",
        "scaler.pkl",
    ]
    assert loaded.weights == pytest.approx(model_set.weights)
    assert loaded.params == model_set.params
    pd.testing.assert_frame_equal(training.forecast(loaded, history, 20), training.forecast(model_set, history, 20))


def test_a_set_of_another_model_set_version_is_refused(trained, tmp_path):
    model_set, _ = trained
    model_set.save(tmp_path)
    old = {k: v for k, v in json.loads(json.dumps(model_set.describe())).items() if k != "model_set_version"}

    assert json.loads(json.dumps(model_set.describe()))["model_set_version"] == training.MODEL_SET_VERSION
    with pytest.raises(ModelIntegrityError, match="model set version 1"):
        training.ModelSet.load(tmp_path, old)


def test_same_seed_same_forecast(trained, small_params, history):
    model_set, _ = trained
    again = training.train_model_set(history, params=small_params, min_samples=100, product_id=7)

    pd.testing.assert_frame_equal(training.forecast(again, history, 15), training.forecast(model_set, history, 15))


def test_horizon_must_be_positive(trained, history):
    with pytest.raises(ValueError, match="horizon must be at least 1"):
        training.forecast(trained[0], history, 0)


@pytest.mark.slow
def test_production_configuration_on_three_years(history_factory, tmp_path):
    from config.settings import default_model_params

    params = default_model_params()
    history = history_factory(1100, seed=11)

    model_set = training.train_model_set(history.iloc[:-90], params=params, min_samples=100, product_id=1)
    model_set.save(tmp_path)
    loaded = training.ModelSet.load(tmp_path, json.loads(json.dumps(model_set.describe())))
    started = time.perf_counter()
    frame = training.forecast(loaded, history.iloc[:-90], 90)
    forecast_seconds = time.perf_counter() - started

    actual = history.iloc[-90:].to_numpy()
    assert list(frame.columns) == COLUMNS and len(frame) == 90
    assert np.isfinite(frame.to_numpy()).all() and (frame.to_numpy() >= 0).all()
    assert model_set.validation_days == params.validation_days
    # The synthetic demand is learnable: the ensemble beats "same as the mean" by a margin.
    assert np.abs(frame.forecast - actual).mean() < 0.8 * np.abs(actual - actual.mean()).mean()
    inside80 = np.mean((actual >= frame.lower) & (actual <= frame.upper))
    inside95 = np.mean((actual >= frame.lower_95) & (actual <= frame.upper_95))
    assert inside80 >= 0.6 and inside95 >= 0.8
    assert model_set.training_seconds["total"] < 120
    assert forecast_seconds < 10
    sizes = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert sizes["rf_model.pkl"] < 5_000_000 and sizes["lstm_model.h5"] < 2_000_000


def test_two_years_of_history_give_the_members_a_month_profile(small_params, history_factory):
    from forecasting.models.decomposition import MONTHS_MIN_DAYS

    history = history_factory(MONTHS_MIN_DAYS + 100, seed=5)

    model_set = training.train_model_set(history, params=small_params, min_samples=100, product_id=4)
    frame = training.forecast(model_set, history, 92)

    lstm = model_set.members["lstm"]
    assert np.ptp(lstm.transform_.profile_.month) > 0
    assert np.ptp(model_set.members["random_forest"].transform_.profile_.month) > 0
    assert len(frame) == 92 and np.isfinite(frame.to_numpy()).all() and (frame.to_numpy() >= 0).all()


def test_a_forecast_from_a_cutoff_ignores_every_later_day(small_params, history_factory):
    # The bench's protocol: train on the days through the cutoff, forecast the next ones in one shot.
    full = history_factory(500, seed=6)
    cutoff = full.index[-60]
    tampered = full.copy()
    tampered.loc[tampered.index > cutoff] = 10_000.0

    frames = []
    for series in (full, tampered):
        train = series.loc[:cutoff]
        model_set = training.train_model_set(train, params=small_params, min_samples=100, product_id=5)
        frames.append(training.forecast(model_set, train, 59))

    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert frames[0].index[0] == cutoff + pd.Timedelta(days=1)
