"""A calendar reaches the models: closed days are 0 and unlearnt, holidays and regressors are inputs, nothing leaks."""

import numpy as np
import pandas as pd
import pytest

from forecasting.models import calendar_inputs
from forecasting.models import model_set as training
from forecasting.models.decomposition import SeasonalProfile

HORIZON = 35


def store_calendar(dates: pd.DatetimeIndex, seed: int = 3) -> pd.DataFrame:
    """A store shut on Sundays and one holiday a month, a promotion every other week."""
    rng = np.random.default_rng(seed)
    holiday = np.where(dates.day == 15, "founders_day", "")
    return pd.DataFrame({
        "open": (dates.day_of_week != 6) & (holiday == ""),
        "holiday": holiday,
        "promo": ((dates.isocalendar().week.to_numpy() % 2) == 0).astype(float),
        "flat": np.zeros(len(dates)),
        "noise": rng.normal(size=len(dates)),
    }, index=dates)


@pytest.fixture(scope="module")
def store(history_factory):
    base = history_factory(430 + HORIZON, seed=11)
    calendar = store_calendar(pd.DatetimeIndex(base.index))
    sales = base * np.where(calendar["promo"] > 0, 1.5, 1.0)
    sales[~calendar["open"].to_numpy()] = 0.0
    return sales.iloc[:-HORIZON], calendar


@pytest.fixture(scope="module")
def trained(store, small_params):
    history, calendar = store
    return training.train_model_set(history, calendar=calendar, params=small_params, min_samples=100, product_id=3)


def test_closed_days_are_forecast_exactly_zero_in_every_column(trained, store):
    history, calendar = store
    frame = training.forecast(trained, history, HORIZON, calendar=calendar)
    closed = ~calendar_inputs.align(calendar, frame.index)["open"].to_numpy()

    assert closed.sum() >= 5
    assert (frame[closed].to_numpy() == 0.0).all()
    assert (frame.loc[~closed, "forecast"] > 0).all()


def test_what_a_closed_day_recorded_does_not_change_the_fit(store, small_params):
    history, calendar = store
    closed = ~calendar_inputs.align(calendar, history.index)["open"].to_numpy()
    other = history.copy()
    other[closed] = 999.0  # a wrong record on a closed day is not demand either

    frames = []
    for series in (history, other):
        model_set = training.train_model_set(series, calendar=calendar, params=small_params, min_samples=100,
                                             product_id=3)
        frames.append(training.forecast(model_set, series, HORIZON, calendar=calendar))
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_closed_days_leave_the_seasonal_profile_of_the_open_days_alone(store):
    history, calendar = store
    masked = calendar_inputs.mask_closed(history, calendar)
    profile = SeasonalProfile.fit(masked)

    # Sundays are never open: no offset and no pull on the others; with the zeros they looked like a collapse.
    assert profile.weekday[6] == 0.0
    assert abs(sum(profile.weekday[:6])) < 1e-9
    assert abs(SeasonalProfile.fit(history).weekday[6]) > 1.0


def test_calendar_values_after_the_cutoff_do_not_change_the_fit(store, small_params):
    history, calendar = store
    tampered = calendar.copy()
    later = tampered.index > history.index[-1]
    tampered.loc[later, "promo"] = 7.0
    tampered.loc[later, "holiday"] = "new_holiday"
    # The day after the cutoff (a Monday or not) closed, and the next ones open: no input of the fit reads them.
    tampered.loc[later, "open"] = ~tampered.loc[later, "open"]

    sets = [training.train_model_set(history, calendar=c, params=small_params, min_samples=100, product_id=3)
            for c in (calendar, tampered)]

    assert sets[0].metrics == sets[1].metrics and sets[0].weights == sets[1].weights
    assert sets[0].intervals == sets[1].intervals
    assert sets[0].calendar == sets[1].calendar
    # The same forecast calendar gives the same forecast from both.
    pd.testing.assert_frame_equal(training.forecast(sets[0], history, HORIZON, calendar=calendar),
                                  training.forecast(sets[1], history, HORIZON, calendar=calendar))


def test_the_set_records_its_calendar_columns_and_a_forecast_uses_them(trained, store, tmp_path):
    history, calendar = store
    info = trained.describe()

    # Constant regressors carry nothing; the holiday is seen only on closed days, so it is no input.
    assert info["calendar"] == {"regressors": ["noise", "promo"], "holidays": []}
    assert trained.members["random_forest"].calendar_.regressors == ("noise", "promo")
    trained.save(tmp_path)
    loaded = training.ModelSet.load(tmp_path, info)
    pd.testing.assert_frame_equal(training.forecast(loaded, history, HORIZON, calendar=calendar),
                                  training.forecast(trained, history, HORIZON, calendar=calendar))


def test_promotions_raise_the_forecast(trained, store):
    history, calendar = store
    without = calendar.assign(promo=0.0)
    promoted = training.forecast(trained, history, HORIZON, calendar=calendar.assign(promo=1.0))
    plain = training.forecast(trained, history, HORIZON, calendar=without)
    open_days = promoted["forecast"] > 0

    assert (promoted.loc[open_days, "random_forest"].mean() > 1.1 * plain.loc[open_days, "random_forest"].mean())


def test_the_lstm_takes_the_calendars_own_effect_out_of_its_series_and_adds_it_back(trained, store):
    history, calendar = store
    lstm = trained.members["lstm"]
    columns = calendar_inputs.CalendarColumns.from_dict(lstm.known_["columns"])
    # Offsets follow known_inputs' columns: the holiday flag, the two closed neighbours, the regressors.
    promo = lstm.known_["offsets"][3 + columns.regressors.index("promo")]
    assert promo == pytest.approx(np.log(1.5), abs=0.1)
    # The same past, a promotion on every forecast day or on none.
    future = calendar.index > history.index[-1]
    promoted = training.forecast(trained, history, HORIZON, calendar=calendar.assign(promo=np.where(future, 1.0, calendar["promo"])))
    plain = training.forecast(trained, history, HORIZON, calendar=calendar.assign(promo=np.where(future, 0.0, calendar["promo"])))
    open_days = promoted["forecast"] > 0
    assert promoted.loc[open_days, "lstm"].mean() > 1.3 * plain.loc[open_days, "lstm"].mean()


def test_future_days_the_calendar_lacks_take_the_defaults(trained, store):
    history, calendar = store
    past_only = calendar.loc[: history.index[-1]]
    frame = training.forecast(trained, history, HORIZON, calendar=past_only)
    aligned = calendar_inputs.align(past_only, frame.index)

    assert aligned["open"].all() and (aligned["holiday"] == "").all() and (aligned["promo"] == 0).all()
    assert (frame["forecast"] > 0).all()


def test_prophet_learns_a_holiday_seen_on_open_days(history_factory, small_params, tmp_path):
    history = history_factory(400, seed=4)
    dates = pd.DatetimeIndex(history.index)
    calendar = pd.DataFrame({"holiday": np.where(dates.day == 1, "first", "")}, index=dates)
    history = history.mask(dates.day == 1, history * 3)

    model_set = training.train_model_set(history, calendar=calendar, params=small_params, min_samples=100, product_id=3)
    future = pd.date_range(dates[-1] + pd.Timedelta(days=1), periods=40, freq="D")
    ahead = pd.DataFrame({"holiday": np.where(future.day == 1, "first", "")}, index=future)
    frame = training.forecast(model_set, history, 40, calendar=pd.concat([calendar, ahead]))

    assert model_set.calendar["holidays"] == ["first"]
    assert frame.loc[future.day == 1, "prophet"].min() > 1.5 * frame.loc[future.day != 1, "prophet"].mean()
    # Saved and loaded, Prophet still places the holidays of the forecast's own calendar.
    model_set.save(tmp_path)
    loaded = training.ModelSet.load(tmp_path, model_set.describe())
    pd.testing.assert_frame_equal(training.forecast(loaded, history, 40, calendar=pd.concat([calendar, ahead])), frame)


def test_numeric_holiday_flags_and_open_as_integers_are_read(history_factory):
    dates = pd.date_range("2022-01-01", periods=4, freq="D")
    raw = pd.DataFrame({"open": [1, 0, 1], "holiday": [0, 1, 0], "promo": [1, 1, 0]}, index=dates[:3])
    aligned = calendar_inputs.align(raw, dates)

    assert aligned["open"].tolist() == [True, False, True, True]
    assert aligned["holiday"].tolist() == ["", calendar_inputs.FLAGGED_HOLIDAY, "", ""]
    assert aligned["promo"].tolist() == [1.0, 1.0, 0.0, 0.0]


def test_a_calendar_with_nothing_to_tell_gives_the_forecast_without_one(history_factory, small_params):
    history = history_factory(300, seed=8)
    dates = pd.date_range(history.index[0], periods=330, freq="D")
    empty = calendar_inputs.align(None, dates)

    with_it = training.train_model_set(history, calendar=empty, params=small_params, min_samples=100, product_id=3)
    without = training.train_model_set(history, params=small_params, min_samples=100, product_id=3)

    assert with_it.calendar is None
    pd.testing.assert_frame_equal(training.forecast(with_it, history, 30, calendar=empty),
                                  training.forecast(without, history, 30))


def test_the_days_around_a_closed_day_are_known_inputs():
    dates = pd.date_range("2024-12-23", periods=5, freq="D")  # Monday 23rd .. Friday 27th
    calendar = pd.DataFrame({"open": [True, True, False, True, True]}, index=dates)

    around = calendar_inputs.closed_neighbours(calendar, dates)

    np.testing.assert_array_equal(around[:, 0], [0, 0, 0, 1, 0])  # the day before is closed
    np.testing.assert_array_equal(around[:, 1], [0, 1, 0, 0, 0])  # the day after is closed
    # Days the calendar lacks are open.
    assert calendar_inputs.closed_neighbours(None, dates).sum() == 0

