"""The days before a product's first sale are left out of training and forecasting."""

import numpy as np
import pandas as pd
import pytest

from forecasting.models import model_set, validation
from forecasting.models.first_sale import since_first_sale


def _series(values, start="2022-01-01"):
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D"), dtype=float)


def test_the_history_starts_at_the_first_sale_but_keeps_the_days_asked_for():
    history = _series([0, 0, np.nan, 0, 3, 0, 5, 2])

    assert list(since_first_sale(history).to_numpy()) == [3, 0, 5, 2]
    np.testing.assert_array_equal(since_first_sale(history, keep=6).to_numpy(), [np.nan, 0, 3, 0, 5, 2])
    # A quiet start no longer than a later stretch without sales is the item's ordinary demand.
    intermittent = _series([0, 0, 4, 0, 0, 0, 1, 2])
    assert since_first_sale(intermittent) is intermittent
    fading = _series([0, 0, 4, 1, 0, 0])
    assert since_first_sale(fading) is fading
    never = _series([0, 0, 0])
    assert since_first_sale(never) is never  # a dead item keeps its zeros: TSB forecasts them


@pytest.fixture(scope="module")
def opened_late(history):
    # The same demand after 185 days of zeros before the product went on sale.
    zeros = _series(np.zeros(185), start=history.index[0] - pd.Timedelta(days=185))
    return pd.concat([zeros, history])


def test_a_set_trains_and_forecasts_without_the_zeros_before_the_first_sale(monkeypatch, opened_late, history,
                                                                            small_params):
    seen = []
    validate = validation.validate

    def spy(classes, series, held_out, **kwargs):
        seen.append(series)
        return validate(classes, series, held_out, **kwargs)

    monkeypatch.setattr(model_set.validation, "validate", spy)
    trained = model_set.train_model_set(opened_late, params=small_params, min_samples=100, product_id=1)

    (fitted,) = seen
    assert fitted.index[0] == history.index[0]
    assert fitted.index[-1] == history.index[-1]
    later = model_set.forecast(trained, opened_late, 14)
    pd.testing.assert_frame_equal(later, model_set.forecast(trained, history, 14))
