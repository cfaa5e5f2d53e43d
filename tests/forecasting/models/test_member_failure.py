"""A member that fails or forecasts non-finite values is left out with its reason; the set still trains."""

import numpy as np
import pandas as pd
import pytest

from forecasting.models import model_set as training
from forecasting.models import validation
from forecasting.models.forest import ForestModel
from forecasting.models.prophet_model import ProphetModel


def test_a_member_that_raises_is_left_out_and_the_set_still_forecasts(monkeypatch, small_params, history, tmp_path):
    def broken(self, series, **kwargs):
        raise RuntimeError("Optimization terminated abnormally\nwith more lines")

    monkeypatch.setattr(ProphetModel, "fit", broken)
    model_set = training.train_model_set(history, params=small_params, min_samples=100, product_id=4)
    frame = training.forecast(model_set, history, 14)

    assert list(model_set.members) == ["lstm", "random_forest"]
    assert model_set.excluded == {"prophet": "RuntimeError: Optimization terminated abnormally"}
    assert set(model_set.weights) == {"lstm", "random_forest"} and sum(model_set.weights.values()) == pytest.approx(1)
    assert "prophet" not in frame and np.isfinite(frame.to_numpy()).all() and (frame["forecast"] > 0).all()
    info = model_set.describe()
    assert info["members"] == ["lstm", "random_forest"] and info["excluded"]["prophet"].startswith("RuntimeError")
    model_set.save(tmp_path)
    pd.testing.assert_frame_equal(training.forecast(training.ModelSet.load(tmp_path, info), history, 14), frame)


def test_a_member_forecasting_nan_is_left_out(monkeypatch, small_params, history):
    monkeypatch.setattr(ForestModel, "predict", lambda self, series, horizon, **kwargs: np.full(horizon, np.nan))
    model_set = training.train_model_set(history, params=small_params, min_samples=100, product_id=4)

    assert "random_forest" not in model_set.members
    assert model_set.excluded == {"random_forest": "its validation forecast is not finite"}


def test_a_programming_error_is_not_swallowed(monkeypatch, small_params, history):
    def broken(self, series, **kwargs):
        raise AttributeError("a bug, not a failed fit")

    monkeypatch.setattr(ProphetModel, "fit", broken)
    with pytest.raises(AttributeError):
        training.train_model_set(history, params=small_params, min_samples=100, product_id=4)


def test_every_member_failing_is_an_error(monkeypatch, small_params, history):
    for member in training.MEMBERS.values():
        monkeypatch.setattr(member, "fit", lambda self, series, **kwargs: (_ for _ in ()).throw(ValueError("no")))
    with pytest.raises(RuntimeError, match="Every member"):
        training.train_model_set(history, params=small_params, min_samples=100, product_id=4)


def test_weights_come_from_several_origins_inside_the_tail():
    assert validation.fold_origins(90) == [0, 30, 60]
    assert validation.fold_origins(7) == [0, 2, 4]
    assert validation.fold_origins(2) == [0, 1]


def test_the_folds_score_later_origins_with_the_history_up_to_them(history, small_params):
    seen = []

    def predict(member, series, horizon):
        seen.append((series.index[-1], horizon))
        return np.full(horizon, float(series.iloc[-1]))

    found = validation.validate({"random_forest": ForestModel}, history, 30,
                                fit=lambda cls, series: cls(small_params).fit(series), predict=predict,
                                report=lambda name: None)

    end = history.index[-31]
    assert seen == [(end, 30), (end + pd.Timedelta(days=10), 10), (end + pd.Timedelta(days=20), 10)]
    truth = history.iloc[-30:].to_numpy()
    expected = np.mean([np.abs(truth[o:o + 10] - history.iloc[-31 + o]).mean() for o in (0, 10, 20)])
    assert found.fold_errors["random_forest"] == pytest.approx(expected)
