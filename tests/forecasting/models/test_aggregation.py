"""Weekly and monthly sums of a daily forecast, and the dependence model of their bounds."""

import numpy as np
import pandas as pd
import pytest

from forecasting.models.aggregation import aggregate, residual_dependence


def daily(days: int = 10, start: str = "2024-07-04") -> pd.DataFrame:
    index = pd.date_range(start, periods=days, freq="D")
    forecast = np.arange(1, days + 1, dtype=float)
    return pd.DataFrame({"forecast": forecast, "lower": forecast - 1, "upper": forecast + 2, "prophet": forecast * 2},
                        index=index)


def test_weeks_run_monday_to_sunday_and_sum_the_points():
    frame = daily()  # Thursday 4 July to Saturday 13 July 2024

    weeks = aggregate(frame, "weekly", rho=0.5)

    assert [d.date().isoformat() for d in weeks.index] == ["2024-07-04", "2024-07-08"]
    assert [d.date().isoformat() for d in weeks["end"]] == ["2024-07-07", "2024-07-13"]
    assert weeks["days"].tolist() == [4, 6]
    assert weeks["forecast"].tolist() == [10.0, 45.0] and weeks["prophet"].tolist() == [20.0, 90.0]


def test_months_are_calendar_months():
    months = aggregate(daily(40, "2024-01-20"), "monthly", rho=0.0)
    assert months["days"].tolist() == [12, 28]
    assert months["forecast"].sum() == pytest.approx(sum(range(1, 41)))


@pytest.mark.parametrize(("rho", "above", "below"), [
    (1.0, 2 * 4, 1 * 4),                     # comonotonic: the bounds' half-widths add up
    (0.0, (4 * 2 ** 2) ** 0.5, 4 ** 0.5),    # independent: root of the sum of squares
])
def test_the_period_band_follows_the_dependence_model(rho, above, below):
    week = aggregate(daily(), "weekly", rho=rho).iloc[0]
    assert week["upper"] - week["forecast"] == pytest.approx(above)
    assert week["forecast"] - week["lower"] == pytest.approx(below)


def test_a_partial_dependence_lies_between_and_lower_bounds_stay_at_zero_or_more():
    frame = daily()
    frame["lower"] = 0.0
    between = aggregate(frame, "weekly", rho=0.5).iloc[1]
    assert (6 * 4) ** 0.5 < between["upper"] - between["forecast"] < 6 * 2
    assert between["lower"] >= 0


def test_closed_days_add_nothing_to_a_period():
    frame = daily()
    frame.iloc[[1, 2]] = 0.0
    week = aggregate(frame, "weekly", rho=1.0).iloc[0]
    assert week["forecast"] == 1 + 4 and week["upper"] - week["forecast"] == pytest.approx(4)


def test_daily_is_the_frame_itself_and_other_frequencies_are_refused():
    frame = daily()
    assert aggregate(frame, "daily", rho=0.3) is frame
    with pytest.raises(ValueError, match="hourly"):
        aggregate(frame, "hourly", rho=0.3)


def test_residual_dependence_is_the_uncentred_lag_one_autocorrelation_clipped():
    assert residual_dependence([1.0, 1.0, 1.0, 1.0]) == pytest.approx(0.75)   # a bias persists
    assert residual_dependence([1.0, -1.0, 1.0, -1.0]) == 0.0                  # negative: clipped
    assert residual_dependence([2.0]) == 0.0 and residual_dependence([0.0, 0.0]) == 0.0
