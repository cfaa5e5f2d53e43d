import numpy as np
import pandas as pd
import pytest

from forecasting.models import features


def test_feature_names_are_distinct_and_calendar_first():
    assert len(set(features.FEATURE_NAMES)) == len(features.FEATURE_NAMES)
    assert features.FEATURE_NAMES[: len(features.CALENDAR_FEATURES)] == features.CALENDAR_FEATURES


def test_training_frame_has_one_complete_row_per_day_with_context(history):
    X, y = features.training_frame(history)
    values = history.to_numpy()
    positions = np.arange(features.MIN_CONTEXT, len(values))

    assert list(X.columns) == list(features.FEATURE_NAMES)
    assert len(X) == len(history) - features.MIN_CONTEXT
    assert X.index[0] == history.index[features.MIN_CONTEXT]
    assert X.index.equals(y.index)
    assert np.isfinite(X.to_numpy()).all()
    # The target is the day's value relative to its level.
    np.testing.assert_allclose(y.to_numpy(), values[features.MIN_CONTEXT :] - features.level(values, positions))


@pytest.mark.parametrize("cut", [40, 200, 380])
def test_changing_later_values_does_not_change_earlier_rows(history, cut):
    changed = history.copy()
    changed.iloc[cut:] = changed.iloc[cut:] * 10 + 3

    before, _ = features.training_frame(history)
    after, _ = features.training_frame(changed)

    day = history.index[cut]
    pd.testing.assert_frame_equal(before.loc[:day], after.loc[:day])
    next_day = history.index[cut + 1]
    assert after.loc[next_day, "mean_28"] != before.loc[next_day, "mean_28"]


@pytest.mark.parametrize("position", [features.MIN_CONTEXT, 90, 363, 364, 365, 429])
def test_next_features_equals_the_training_row_of_that_day(history, position):
    X, y = features.training_frame(history)
    day = history.index[position]
    values = history.to_numpy()

    row, level = features.next_features(values[:position], day)

    np.testing.assert_allclose(row, X.loc[day].to_numpy(), rtol=0, atol=1e-9)
    assert level + y.loc[day] == pytest.approx(values[position])


def test_next_features_reads_only_the_last_year(history):
    values = history.to_numpy()
    day = history.index[-1] + pd.Timedelta(days=1)
    shifted = values.copy()
    shifted[: -features.MAX_LOOKBACK] = 999.0

    row, level = features.next_features(values, day)
    shifted_row, shifted_level = features.next_features(shifted, day)

    np.testing.assert_array_equal(row, shifted_row)
    assert level == shifted_level


def test_next_features_accepts_a_precomputed_calendar_row(history):
    day = history.index[-1] + pd.Timedelta(days=1)
    calendar = features.calendar_features(pd.DatetimeIndex([day]))[0]

    by_date, _ = features.next_features(history.to_numpy(), day)
    by_row, _ = features.next_features(history.to_numpy(), calendar_row=calendar)

    np.testing.assert_array_equal(by_date, by_row)


def test_calendar_features_of_a_known_day():
    row = features.calendar_features(pd.DatetimeIndex(["2024-02-29"]))[0]
    named = dict(zip(features.CALENDAR_FEATURES, row))

    assert named["day_of_week"] == 3  # Thursday
    assert named["month"] == 2
    assert named["quarter"] == 1
    assert named["is_weekend"] == 0
    assert named["week_sin"] == pytest.approx(np.sin(2 * np.pi * 3 / 7))
    assert named["year_sin"] == pytest.approx(np.sin(2 * np.pi * 60 / 365.25))


def test_level_is_the_mean_of_the_last_year_or_of_all_days_before():
    values = np.arange(400, dtype=float)  # value of day i is i

    level = features.level(values, np.array([100, 400]))

    assert level[0] == pytest.approx(49.5)  # days 0 .. 99
    assert level[1] == pytest.approx(217.5)  # days 36 .. 399


def test_history_features_on_a_ramp_are_relative_to_the_level():
    values = np.arange(400, dtype=float)
    row = dict(zip(features.HISTORY_FEATURES, features.history_features(values, np.array([400]))[0]))

    assert row["mean_28"] == pytest.approx(385.5 - 217.5)
    assert row["mean_91"] == pytest.approx(354.0 - 217.5)


def test_there_are_twenty_features_and_the_lags_are_whole_weeks_before_the_target():
    values = np.arange(400, dtype=float)
    row = dict(zip(features.HISTORY_FEATURES, features.history_features(values, np.array([400]))[0]))

    assert len(features.FEATURE_NAMES) >= 20
    base = 217.5  # the mean of days 36 .. 399
    # The target is day 400: lag k is day 400 - k, never the target or a later day.
    assert row["lag_7"] == pytest.approx(393 - base)
    assert row["lag_28"] == pytest.approx(372 - base)
    assert row["weekday_mean_4"] == pytest.approx((393 + 386 + 379 + 372) / 4 - base)
    assert row["mean_7"] == pytest.approx(396 - base)
    assert row["std_7"] == pytest.approx(np.arange(393, 400).std())


def test_too_short_history_is_refused(history):
    with pytest.raises(ValueError, match="more than 28 days"):
        features.training_frame(history.iloc[:20])
