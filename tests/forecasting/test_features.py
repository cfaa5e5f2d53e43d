import numpy as np
import pandas as pd
import pytest

from forecasting import features


def test_there_are_at_least_twenty_distinct_features():
    assert len(features.FEATURE_NAMES) >= 20
    assert len(set(features.FEATURE_NAMES)) == len(features.FEATURE_NAMES)


def test_training_frame_has_one_complete_row_per_day_with_context(history):
    X, y = features.training_frame(history)

    assert list(X.columns) == list(features.FEATURE_NAMES)
    assert len(X) == len(history) - features.MIN_CONTEXT
    assert X.index[0] == history.index[features.MIN_CONTEXT]
    assert X.index.equals(y.index)
    assert np.isfinite(X.to_numpy()).all()
    np.testing.assert_array_equal(y.to_numpy(), history.iloc[features.MIN_CONTEXT :].to_numpy())


@pytest.mark.parametrize("cut", [40, 200, 380])
def test_changing_later_demand_does_not_change_earlier_rows(history, cut):
    changed = history.copy()
    changed.iloc[cut:] = changed.iloc[cut:] * 10 + 3

    before, _ = features.training_frame(history)
    after, _ = features.training_frame(changed)

    day = history.index[cut]
    pd.testing.assert_frame_equal(before.loc[:day], after.loc[:day])
    # The next day reads the changed value through lag_1: the comparison above can fail.
    next_day = history.index[cut + 1]
    assert after.loc[next_day, "lag_1"] != before.loc[next_day, "lag_1"]


@pytest.mark.parametrize("position", [features.MIN_CONTEXT, 90, 363, 364, 365, 429])
def test_next_features_equals_the_training_row_of_that_day(history, position):
    X, _ = features.training_frame(history)
    day = history.index[position]

    row = features.next_features(history.to_numpy()[:position], day)

    np.testing.assert_array_equal(row, X.loc[day].to_numpy())


def test_next_features_reads_only_the_last_year(history):
    values = history.to_numpy()
    day = history.index[-1] + pd.Timedelta(days=1)
    shifted = values.copy()
    shifted[: -features.MAX_LOOKBACK] = 999.0

    np.testing.assert_array_equal(features.next_features(values, day), features.next_features(shifted, day))


def test_next_features_accepts_a_precomputed_calendar_row(history):
    day = history.index[-1] + pd.Timedelta(days=1)
    calendar = features.calendar_features(pd.DatetimeIndex([day]))[0]

    np.testing.assert_array_equal(
        features.next_features(history.to_numpy(), day),
        features.next_features(history.to_numpy(), calendar_row=calendar),
    )


def test_calendar_features_of_a_known_day():
    row = features.calendar_features(pd.DatetimeIndex(["2024-02-29"]))[0]
    named = dict(zip(features.CALENDAR_FEATURES, row))

    assert named["day_of_week"] == 3  # Thursday
    assert named["month"] == 2
    assert named["day_of_month"] == 29
    assert named["day_of_year"] == 60
    assert named["week_of_year"] == 9
    assert named["quarter"] == 1
    assert named["is_weekend"] == 0
    assert named["is_month_start"] == 0
    assert named["is_month_end"] == 1
    assert named["week_sin"] == pytest.approx(np.sin(2 * np.pi * 3 / 7))


def test_history_features_on_a_ramp():
    values = np.arange(400, dtype=float)  # demand of day i is i
    row = dict(zip(features.HISTORY_FEATURES, features.history_features(values, np.array([400]))[0]))

    assert row["lag_1"] == 399
    assert row["lag_7"] == 393
    assert row["lag_28"] == 372
    assert row["lag_364"] == 36
    assert row["mean_7"] == pytest.approx(396)
    assert row["mean_28"] == pytest.approx(385.5)
    assert row["min_7"] == 393 and row["max_7"] == 399
    assert row["same_weekday_mean_4"] == pytest.approx(382.5)  # days 393, 386, 379, 372
    assert row["momentum_7_28"] == pytest.approx(10.5)


def test_lag_364_falls_back_to_the_same_weekday_mean_within_the_first_year():
    values = np.arange(100, dtype=float)
    row = dict(zip(features.HISTORY_FEATURES, features.history_features(values, np.array([100]))[0]))

    # Same weekday before day 100: days 93, 86, ..., 2 (14 of them), mean 47.5.
    assert row["lag_364"] == pytest.approx(47.5)
    assert row["same_weekday_mean_52"] == pytest.approx(47.5)


def test_too_short_history_is_refused(history):
    with pytest.raises(ValueError, match="more than 28 days"):
        features.training_frame(history.iloc[:20])
