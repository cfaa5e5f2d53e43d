import numpy as np
import pandas as pd
import pytest

from forecasting.models.decomposition import MONTHS_MIN_DAYS, SeasonalProfile, from_log, to_log


def multiplicative(days, seed=0, level=60.0):
    """Poisson demand: level x month factor x weekday factor, with 4 % growth a year."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2019-01-01", periods=days, freq="D")
    month = np.array([0.7, 0.75, 0.9, 1.05, 1.15, 1.2, 1.3, 1.15, 1.05, 1.0, 1.05, 0.75])
    weekday = np.array([0.8, 0.9, 0.9, 1.0, 1.05, 1.15, 1.2])
    mean = level * month[dates.month - 1] * weekday[dates.day_of_week] * 1.04 ** (np.arange(days) / 365)
    return pd.Series(rng.poisson(mean).astype(float), index=dates), month, weekday


def test_profile_recovers_multiplicative_month_and_weekday_factors():
    history, month, weekday = multiplicative(4 * 365, level=500.0)

    profile = SeasonalProfile.fit(history)

    np.testing.assert_allclose(profile.month, np.log(month) - np.log(month).mean(), atol=0.02)
    np.testing.assert_allclose(profile.weekday, np.log(weekday) - np.log(weekday).mean(), atol=0.02)
    assert sum(profile.month) == pytest.approx(0, abs=1e-9) and sum(profile.weekday) == pytest.approx(0, abs=1e-9)


def test_mean_shift_is_the_poisson_median_to_mean_gap():
    history, _, _ = multiplicative(3 * 365, level=25.0)

    profile = SeasonalProfile.fit(history)

    # Poisson noise at ~25 a day: the log-scale variance is about 1/25, half of it is the shift.
    assert 0.01 < profile.mean_shift < 0.04


def test_the_mean_shift_is_measured_net_of_the_known_inputs():
    # Promotions on random days, +40 % each: a spread the calendar states and the members forecast.
    history, _, _ = multiplicative(3 * 365, level=400.0)
    promo = np.random.default_rng(5).random(len(history)) < 0.4
    promoted = history * np.where(promo, 1.4, 1.0)
    known = pd.DataFrame({"promo": promo.astype(float)}, index=history.index)

    plain = SeasonalProfile.fit(history).mean_shift
    unstated = SeasonalProfile.fit(promoted).mean_shift
    stated = SeasonalProfile.fit(promoted, known=known).mean_shift

    # Left in, the promotions' spread (0.4 x 0.6 x log(1.4)**2 / 2) inflates the correction about 1.4 %.
    assert unstated - plain > 0.01
    # Net of them, only the day's own noise is corrected for (Poisson at ~400 a day: about 0.1 %).
    assert stated == pytest.approx(plain, abs=0.003)


def test_short_histories_get_weekday_offsets_only():
    history, _, weekday = multiplicative(MONTHS_MIN_DAYS - 1)

    profile = SeasonalProfile.fit(history)

    assert profile.month == (0.0,) * 12
    assert np.corrcoef(profile.weekday, np.log(weekday))[0, 1] > 0.95


def test_a_history_shorter_than_the_weekly_window_gets_a_flat_profile():
    profile = SeasonalProfile.fit(pd.Series(5.0, index=pd.date_range("2024-01-01", periods=20)))

    assert profile == SeasonalProfile()


def test_deseasonalise_and_restore_are_inverse_without_the_mean_shift():
    history, _, _ = multiplicative(800)
    profile = SeasonalProfile.fit(history)
    flat = SeasonalProfile(profile.month, profile.weekday)

    z = flat.deseasonalise(history)

    np.testing.assert_allclose(flat.restore(z, history.index), history.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(profile.restore(z, history.index), (history.to_numpy() + 1) * np.exp(profile.mean_shift) - 1)


def test_round_trip_through_a_dict():
    history, _, _ = multiplicative(800)
    profile = SeasonalProfile.fit(history)

    assert SeasonalProfile.from_dict(profile.to_dict()) == profile
    with pytest.raises(ValueError, match="12 month and 7 weekday"):
        SeasonalProfile.from_dict({"month": [0.0] * 11, "weekday": [0.0] * 7, "mean_shift": 0.0})


def test_log_scale_helpers_clip_at_zero():
    assert to_log(np.array([-3.0, 0.0]))[0] == 0.0
    assert from_log(np.array([-0.5]))[0] == 0.0
