"""Forecast options through the API and a real worker: what-if calendars, levels, frequency, members."""

from datetime import date, timedelta

from forecasting.data.calendar import read_calendar, upsert_calendar
from forecasting.lifecycle import saved_forecasts

END = date(2024, 6, 30)  # the last sales day of the stack's product 1


def post(stack, **body):
    response = stack.client.post("/api/v1/forecast", json={"product_id": 1, **body})
    assert response.status_code == 202, response.json
    return stack.poll(response.headers["Location"])


def test_a_what_if_calendar_is_used_for_its_forecast_and_never_kept(stack):
    engine = stack.app.extensions["forecasting"].engine
    # Known past days, open and with a promotion every fifth day; nothing known of the future.
    past = [END - timedelta(days=i) for i in range(400)]
    upsert_calendar(engine, product_id=1, rows=[{"date": day, "open": True,
                                                 "regressors": {"promo": float(day.toordinal() % 5 == 0)}}
                                                for day in past])
    first = post(stack, forecast_horizon=14)
    assert first["status"] == "succeeded", first["error"]
    fields = {w["field"]: w for w in first["result"]["warnings"]}
    assert set(fields) == {"open", "regressors.promo"}
    assert fields["open"]["count"] == 14 and fields["open"]["default"] is True
    assert fields["regressors.promo"]["days"][0] == "2024-07-01" and fields["regressors.promo"]["default"] == 0
    stored = read_calendar(engine, product_id=1)
    set_id = stack.client.get("/api/v1/models/1").json["set_id"]
    saved = saved_forecasts.load(engine, product_id=1, set_id=set_id)

    closed, promo = "2024-07-03", "2024-07-05"
    what_if = post(stack, forecast_horizon=14, calendar=[
        {"date": closed, "open": False, "holiday": "public"},
        {"date": promo, "open": True, "regressors": {"promo": 1}},
    ])

    assert what_if["status"] == "succeeded", what_if["error"]
    points = {p["date"]: p for p in what_if["result"]["points"]}
    assert all(points[closed][name] == 0 for name in ("forecast", "lower", "upper", "lower_95", "upper_95"))
    assert points[promo]["forecast"] > 0 and points[promo]["lower"] <= points[promo]["forecast"]
    # Computed for the request: the saved forecast has no closed day there.
    assert next(p for p in first["result"]["points"] if p["date"] == closed)["forecast"] > 0
    fields = {w["field"]: w for w in what_if["result"]["warnings"]}
    assert fields["open"]["count"] == 12 and closed not in fields["open"]["days"]
    assert promo not in fields["regressors.promo"]["days"] and closed in fields["regressors.promo"]["days"]
    assert what_if["result"]["options"]["calendar_overrides"] == 2
    # Nothing kept: the calendar, the saved forecast and the next default answer are as before.
    assert read_calendar(engine, product_id=1) == stored
    assert saved_forecasts.load(engine, product_id=1, set_id=set_id) == saved
    assert post(stack, forecast_horizon=14)["result"]["points"] == first["result"]["points"]
    assert what_if["result"]["model"]["trained_at"] == first["result"]["model"]["trained_at"]


def test_levels_frequency_and_members_shape_the_result(stack):
    daily = post(stack, forecast_horizon=28)
    assert daily["status"] == "succeeded", daily["error"]

    job = post(stack, forecast_horizon=28, level=[90, 50], members=["prophet"])
    assert job["status"] == "succeeded", job["error"]
    options = job["result"]["options"]
    assert options["members"] == ["prophet"] and options["weights"] == {"prophet": 1.0}
    assert options["level"] == [50, 90] and options["frequency"] == "daily"
    for point in job["result"]["points"]:
        assert set(point) == {"date", "forecast", "lower", "upper", "lower_90", "upper_90", "prophet"}
        assert point["forecast"] == point["prophet"]
        assert point["lower_90"] <= point["lower"] <= point["forecast"] <= point["upper"] <= point["upper_90"]
    assert job["result"]["model"]["weights"] == daily["result"]["model"]["weights"]  # the set's, unchanged

    weekly = post(stack, forecast_horizon=28, frequency="weekly")
    assert weekly["status"] == "succeeded", weekly["error"]
    periods = weekly["result"]["points"]
    # 2024-07-01 is a Monday: four whole weeks, each the sum of its days.
    assert [(p["date"], p["end"], p["days"]) for p in periods] == [
        ("2024-07-01", "2024-07-07", 7), ("2024-07-08", "2024-07-14", 7),
        ("2024-07-15", "2024-07-21", 7), ("2024-07-22", "2024-07-28", 7)]
    days = daily["result"]["points"]
    for week, period in enumerate(periods):
        total = sum(p["forecast"] for p in days[week * 7:(week + 1) * 7])
        assert abs(period["forecast"] - total) < 1e-2
        widths = [p["upper"] - p["forecast"] for p in days[week * 7:(week + 1) * 7]]
        # Between the independent (root of the sum of squares) and the comonotonic (sum) band.
        assert sum(w * w for w in widths) ** 0.5 - 1e-2 <= period["upper"] - period["forecast"] <= sum(widths) + 1e-2


def test_a_member_the_set_does_not_hold_is_a_422_naming_it(stack):
    assert post(stack, forecast_horizon=7)["status"] == "succeeded"
    response = stack.client.post("/api/v1/forecast", json={"product_id": 1, "members": ["prophet", "tsb"]})
    assert response.status_code == 422 and "tsb" in response.json["detail"]
    assert response.json["field"] == "members"
