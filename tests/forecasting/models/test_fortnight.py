import numpy as np
import pandas as pd
import pytest

from forecasting.models import fortnight
from forecasting.models.decomposition import SeasonalProfile
from forecasting.models.target_transform import LogSeasonalTransform


def promoted(days=900, lift=1.4, breaks=(300, 610), seed=0, start="2019-01-07"):
    """Poisson demand with a promotion Monday to Friday of every other week; the rhythm skips a week at `breaks`."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    week = np.arange(days) // 7
    on = week % 2 == 0
    for day in breaks:
        on = np.where(week >= day // 7, ~on, on)
    mean = 200.0 * np.where(on & (dates.day_of_week < 5), lift, 1.0)
    return pd.Series(rng.poisson(mean).astype(float), index=dates), on


def test_an_alternate_week_promotion_is_found_with_its_current_phase():
    history, on = promoted()

    profile = SeasonalProfile.fit(history)

    # Half the log lift on each side of the weekday's level, Monday to Friday; none at the weekend.
    np.testing.assert_allclose(np.abs(profile.fortnight[:5]), np.log(1.4) / 2, atol=0.03)
    np.testing.assert_allclose(profile.fortnight[5:], 0.0, atol=0.03)
    offsets = fortnight.offsets_of(history.index, profile.fortnight, profile.fortnight_phases)
    weekdays = history.index.day_of_week < 5
    recent = np.arange(len(history)) >= 620
    assert np.all((offsets > 0)[weekdays & recent] == on[weekdays & recent])


def test_the_last_phase_runs_on_into_the_forecast_days():
    history, on = promoted(days=900 + 28)
    profile = SeasonalProfile.fit(history.iloc[:900])

    future = history.index[900:]
    offsets = fortnight.offsets_of(future, profile.fortnight, profile.fortnight_phases)

    weekdays = future.day_of_week < 5
    assert np.all((offsets > 0)[weekdays] == on[900:][weekdays])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demand_without_a_two_week_cycle_gets_none(seed):
    history, _ = promoted(lift=1.0, seed=seed)

    profile = SeasonalProfile.fit(history)

    assert profile.fortnight == (0.0,) * 7 and profile.fortnight_phases == ()


def test_a_cycle_whose_weeks_do_not_alternate_is_refused():
    # Promotion weeks at random: a week-to-week effect, but nothing the next week can be read from.
    rng = np.random.default_rng(3)
    dates = pd.date_range("2019-01-07", periods=900, freq="D")
    on = rng.random(900 // 7 + 1)[np.arange(900) // 7] < 0.5
    history = pd.Series(rng.poisson(np.where(on, 280.0, 200.0)).astype(float), index=dates)

    assert SeasonalProfile.fit(history).fortnight_phases == ()


@pytest.mark.parametrize(("last_clear", "last"), [(False, -1), (True, 1)])
def test_a_single_flipped_week_does_not_start_a_phase_unless_it_is_the_last_and_clear(last_clear, last):
    phase = np.array([1, 1, 1, -1, 1, 1, -1, -1, -1, 1], dtype=float)
    clear = np.array([True] * 9 + [last_clear])

    np.testing.assert_array_equal(fortnight.steady(phase, clear), [1, 1, 1, 1, 1, 1, -1, -1, -1, last])


def test_days_before_the_first_phase_get_no_offset():
    dates = pd.date_range("2020-01-06", periods=28, freq="D")
    weeks = fortnight.week_numbers(dates)

    offsets = fortnight.offsets_of(dates, (0.1,) * 7, ((int(weeks[14]), 1),))

    assert np.all(offsets[:14] == 0) and np.all(np.abs(offsets[14:]) == pytest.approx(0.1))


def test_the_cycle_round_trips_and_a_profile_saved_before_it_has_none():
    history, _ = promoted()
    profile = SeasonalProfile.fit(history)

    assert SeasonalProfile.from_dict(profile.to_dict()) == profile
    older = {"month": [0.0] * 12, "weekday": [0.0] * 7, "mean_shift": 0.01}
    assert SeasonalProfile.from_dict(older) == SeasonalProfile(mean_shift=0.01)


def test_prophets_transform_keeps_the_cycle_but_not_the_weekday_offsets():
    history, _ = promoted()

    transform = LogSeasonalTransform(offsets=False).fit(history)

    assert transform.profile_.weekday == (0.0,) * 7
    assert transform.profile_.fortnight_phases and any(transform.profile_.fortnight)


def test_a_forecast_follows_a_change_of_phase_the_newer_history_shows():
    # Fitted before the rhythm skipped a week (day 903); the history given to the forecast shows four weeks of it.
    history, on = promoted(days=900 + 28 + 28, breaks=(300, 610, 903))
    profile = SeasonalProfile.fit(history.iloc[:896])
    future = history.index[928:]
    weekdays = future.day_of_week < 5

    stale = fortnight.offsets_of(future, profile.fortnight, profile.fortnight_phases)
    followed = profile.follow(history.iloc[:928])
    fresh = fortnight.offsets_of(future, followed.fortnight, followed.fortnight_phases)

    assert np.all((stale > 0)[weekdays] != on[928:][weekdays])
    assert np.all((fresh > 0)[weekdays] == on[928:][weekdays])
    assert SeasonalProfile().follow(history) == SeasonalProfile()


def test_a_calendar_that_states_the_promotions_leaves_the_cycle_to_it():
    history, on = promoted()
    promo = (on & (history.index.day_of_week < 5)).astype(int)
    calendar = pd.DataFrame({"open": 1, "holiday": 0, "promo": promo}, index=history.index)

    stated = LogSeasonalTransform().fit(history, calendar)
    read = LogSeasonalTransform().fit(history, calendar.drop(columns="promo"))

    assert stated.profile_.fortnight_phases == () and read.profile_.fortnight_phases


def test_the_cycle_fades_after_the_last_week_read_as_often_as_its_phase_changed():
    history, _ = promoted(days=900, breaks=(300, 610))
    profile = SeasonalProfile.fit(history)
    future = pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=70, freq="D")

    faded = fortnight.offsets_of(future, *profile._cycle())
    whole = fortnight.offsets_of(future, profile.fortnight, profile.fortnight_phases)

    # Two changes of phase in about 128 weeks since the first: a week on, the sign holds 1 - 2 * 2 / 128.
    assert profile.fortnight_hold == pytest.approx(1 - 4 / (profile.fortnight_until - profile.fortnight_phases[0][0]))
    weeks_on = fortnight.week_numbers(future) - profile.fortnight_until
    np.testing.assert_allclose(faded, whole * profile.fortnight_hold ** weeks_on)
    assert np.all(np.abs(faded[-7:]) < np.abs(whole[-7:]))
    assert fortnight.hold_of(((10, 1), (20, -1), (30, 1)), 50) == pytest.approx(0.9)
