"""Peer methods a user would pick instead of the service: one function per method.

Local methods take one series (and its calendar, which most ignore) and return a
:class:`PeerForecast`; the global LightGBM learns all series of a data set at once.
Settings are the libraries' defaults or fixed up front, never chosen on the scored days.
Every forecast is clipped at 0: demand is never negative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.datasets import SeriesSplit

LEVELS = (80, 95)
#: Season of the yearly component of MSTL; it needs two full years of history.
YEAR = 365


@dataclass
class PeerForecast:
    """A point forecast and, when the method gives them, intervals by level (0.8, 0.95)."""

    mean: np.ndarray
    intervals: dict[float, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def _clip(values: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(values, dtype=float), 0.0, None)


def seasonal_naive(train: pd.Series, horizon: int, calendar: pd.DataFrame | None = None) -> PeerForecast:
    """Repeat last week: each day gets the demand of the same weekday in the last 7 days."""
    last_week = train.to_numpy(dtype=float)[-7:]
    return PeerForecast(np.array([last_week[step % 7] for step in range(horizon)]))


def prophet_defaults(train: pd.Series, horizon: int, calendar: pd.DataFrame | None = None) -> PeerForecast:
    """Fit Prophet with its defaults (calendar columns as extra regressors when given)."""
    from prophet import Prophet

    model = Prophet()
    history = pd.DataFrame({"ds": train.index, "y": train.to_numpy(dtype=float)})
    future = pd.DataFrame({"ds": pd.date_range(train.index[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")})
    if calendar is not None:
        for column in calendar.columns:
            model.add_regressor(column)
            history[column] = calendar[column].reindex(history["ds"]).to_numpy(dtype=float)
            future[column] = calendar[column].reindex(future["ds"]).to_numpy(dtype=float)
    model.fit(history)
    mean = model.predict(future)["yhat"].to_numpy()
    # Prophet's interval is 80 % by default; its predictive samples give both levels alike.
    samples = model.predictive_samples(future)["yhat"]
    intervals = {}
    for level in LEVELS:
        tail = (100 - level) / 2
        lower, upper = np.percentile(samples, [tail, 100 - tail], axis=1)
        intervals[level / 100] = (_clip(lower), _clip(upper))
    return PeerForecast(_clip(mean), intervals)


def _statsforecast(model: object, train: pd.Series, horizon: int, intervals: bool = True) -> PeerForecast:
    y = train.to_numpy(dtype=float)
    out = model.forecast(y=y, h=horizon, level=list(LEVELS) if intervals else None)
    bounds = {level / 100: (_clip(out[f"lo-{level}"]), _clip(out[f"hi-{level}"])) for level in LEVELS} if intervals else {}
    return PeerForecast(_clip(out["mean"]), bounds)


def auto_ets(train: pd.Series, horizon: int, calendar: pd.DataFrame | None = None) -> PeerForecast:
    """statsforecast AutoETS with a weekly season."""
    from statsforecast.models import AutoETS

    return _statsforecast(AutoETS(season_length=7), train, horizon)


def mstl(train: pd.Series, horizon: int, calendar: pd.DataFrame | None = None) -> PeerForecast:
    """statsforecast MSTL with weekly and yearly seasons (weekly only below two years of history)."""
    from statsforecast.models import MSTL

    seasons = [7, YEAR] if len(train) >= 2 * YEAR + 1 else [7]
    return _statsforecast(MSTL(season_length=seasons), train, horizon)


def auto_theta(train: pd.Series, horizon: int, calendar: pd.DataFrame | None = None) -> PeerForecast:
    """statsforecast AutoTheta with a weekly season."""
    from statsforecast.models import AutoTheta

    return _statsforecast(AutoTheta(season_length=7), train, horizon)


def adida(train: pd.Series, horizon: int, calendar: pd.DataFrame | None = None) -> PeerForecast:
    """statsforecast ADIDA (aggregate, forecast, disaggregate), for intermittent demand."""
    from statsforecast.models import ADIDA

    return _statsforecast(ADIDA(), train, horizon, intervals=False)


def tsb(train: pd.Series, horizon: int, calendar: pd.DataFrame | None = None) -> PeerForecast:
    """statsforecast TSB (Teunter-Syntetos-Babai) with smoothing 0.1 for demand and probability."""
    from statsforecast.models import TSB

    return _statsforecast(TSB(alpha_d=0.1, alpha_p=0.1), train, horizon, intervals=False)


LocalPeer = Callable[[pd.Series, int, "pd.DataFrame | None"], PeerForecast]

#: Local peers by name; the bool says whether the method uses a data set's calendar.
LOCAL: dict[str, tuple[LocalPeer, bool]] = {
    "seasonal naive (last week)": (seasonal_naive, False),
    "Prophet defaults": (prophet_defaults, True),
    "AutoETS": (auto_ets, False),
    "MSTL": (mstl, False),
    "AutoTheta": (auto_theta, False),
    "ADIDA": (adida, False),
}
#: Peers for intermittent demand only (M5 items).
INTERMITTENT: dict[str, tuple[LocalPeer, bool]] = {"TSB": (tsb, False)}


def _lightgbm_frame(splits: list[SeriesSplit], with_calendar: bool, future: bool, horizon: int) -> pd.DataFrame:
    frames = []
    for split in splits:
        if future:
            dates = pd.date_range(split.train.index[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")
            frame = pd.DataFrame({"unique_id": split.key, "ds": dates})
        else:
            frame = pd.DataFrame({"unique_id": split.key, "ds": split.train.index,
                                  "y": split.train.to_numpy(dtype=float)})
        if with_calendar and split.calendar is not None:
            for column in split.calendar.columns:
                frame[column] = split.calendar[column].reindex(frame["ds"]).to_numpy(dtype=float)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def lightgbm_global(splits: list[SeriesSplit], horizon: int, with_calendar: bool) -> dict[str, PeerForecast]:
    """Fit one LightGBM on all series (lags, rolling means, calendar features) and forecast each recursively."""
    import lightgbm
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.target_transforms import LocalStandardScaler

    model = lightgbm.LGBMRegressor(n_estimators=500, learning_rate=0.05, num_leaves=63, n_jobs=1, verbose=-1,
                                   random_state=42)
    forecaster = MLForecast(
        models={"lgbm": model}, freq="D", lags=[7, 14, 21, 28],
        lag_transforms={7: [RollingMean(window_size=7), RollingMean(window_size=28)]},
        date_features=["dayofweek", "day", "month", "dayofyear"],
        # Series differ in scale by orders of magnitude (units to thousands): one model learns the shape.
        target_transforms=[LocalStandardScaler()],
    )
    history = _lightgbm_frame(splits, with_calendar, future=False, horizon=horizon)
    forecaster.fit(history, static_features=[])
    exogenous = [c for c in history.columns if c not in ("unique_id", "ds", "y")]
    x_future = _lightgbm_frame(splits, with_calendar, future=True, horizon=horizon) if exogenous else None
    predicted = forecaster.predict(horizon, X_df=x_future)
    out = {}
    for key, group in predicted.groupby("unique_id", sort=False):
        out[str(key)] = PeerForecast(_clip(group.sort_values("ds")["lgbm"].to_numpy()))
    return out
