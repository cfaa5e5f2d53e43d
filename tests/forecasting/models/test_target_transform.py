import numpy as np
import pandas as pd
import pytest

from forecasting.models.decomposition import SeasonalProfile
from forecasting.models.member import NotFittedError
from forecasting.models.target_transform import LogSeasonalTransform


def test_fit_transform_is_log_demand_less_the_profile_of_its_days(history):
    transform = LogSeasonalTransform()

    z = transform.fit_transform(history)

    profile = SeasonalProfile.fit(history)
    assert transform.profile_ == profile
    pd.testing.assert_index_equal(z.index, history.index)
    np.testing.assert_array_equal(z.to_numpy(), np.log1p(history.to_numpy()) - profile(history.index))


def test_inverse_transform_restores_the_history_up_to_the_mean_correction(history):
    transform = LogSeasonalTransform()
    z = transform.fit_transform(history)

    restored = transform.inverse_transform(z.to_numpy() - transform.profile_.mean_shift, history.index)

    np.testing.assert_allclose(restored, history.to_numpy(), atol=1e-9)


def test_without_offsets_only_the_log_and_the_mean_correction_remain(history):
    transform = LogSeasonalTransform(offsets=False)

    z = transform.fit_transform(history)
    demand = transform.inverse_transform(np.zeros(3), history.index[:3])

    np.testing.assert_array_equal(z.to_numpy(), np.log1p(history.to_numpy()))
    assert transform.profile_.mean_shift == SeasonalProfile.fit(history).mean_shift > 0
    np.testing.assert_allclose(demand, np.expm1(transform.profile_.mean_shift))


def test_a_fitted_transform_round_trips_through_a_dict(history):
    transform = LogSeasonalTransform().fit(history)

    again = LogSeasonalTransform.from_dict(transform.to_dict())

    assert again.profile_ == transform.profile_ and again.offsets


def test_using_it_before_fit_is_a_clear_error(history):
    with pytest.raises(NotFittedError, match="LogSeasonalTransform is not fitted"):
        LogSeasonalTransform().transform(history)
