"""Prophet member: trend, weekly and yearly seasonality, optional holidays, on log demand.

Log scale
    Prophet fits ``log1p(demand)`` and the forecast is turned back with ``expm1``. Retail
    demand is multiplicative (level x month x weekday); on the raw scale Prophet's
    additive seasonality has one amplitude for every year, too small for a product that
    has grown, and it over-forecast the December dip by 7 % on the store-item series.

Month effects
    On ``MIN_DAYS_FOR_MONTHS`` of history one regressor per calendar month (February ..
    December) joins the yearly Fourier terms: demand often steps between months, which
    a smooth yearly curve rounds off.

Back from the log scale
    ``expm1`` of Prophet's forecast is a median; the forecast adds the smearing
    correction of :mod:`forecasting.models.decomposition` first, so it is a mean. Both
    directions are the members' :class:`~forecasting.models.target_transform.LogSeasonalTransform`
    without its month and weekday offsets: Prophet fits the calendar itself.

On 10 store-item series (train to 2017-09-30, 92 days ahead) Prophet's SMAPE went from
12.77 to 12.60 on the log scale, 11.80 with month regressors, 11.76 with a stiffer trend
(``prophet_changepoint_prior_scale``); the mean correction took 20 series from 11.93 to 11.87.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.models import calendar_inputs, fortnight
from forecasting.models.calendar_inputs import CalendarColumns
from forecasting.models.decomposition import SeasonalProfile
from forecasting.models.features import forecast_dates
from forecasting.models.member import Member, read_json_payload
from forecasting.models.target_transform import LogSeasonalTransform
from forecasting.params import ModelParams

FILE_NAME = "prophet_model.pkl"
#: 2: the model is fitted on log1p(demand) and may hold month regressors. 3: the file is
#: JSON (Prophet's JSON serialization inside), no longer a pickle; the name is kept.
FORMAT_VERSION = 3
#: Prefix of the calendar's regressors as Prophet columns (no clash with ``ds``, ``y`` or the months).
REGRESSOR_PREFIX = "calendar_"
#: Yearly seasonality is fitted only from this much history; on less it just echoes noise.
MIN_DAYS_FOR_YEARLY = 365
#: Month regressors need every month seen twice, or they would take up the trend.
MIN_DAYS_FOR_MONTHS = 730
#: Regressor name per month after January (January is the base the others step from).
MONTH_REGRESSORS: dict[int, str] = {month: f"month_{month:02d}" for month in range(2, 13)}


@contextmanager
def _quiet_stan() -> Iterator[None]:
    """Keep cmdstanpy's and prophet's loggers at WARNING or quieter for the duration of a fit."""
    from cmdstanpy.utils import get_logger

    # get_logger() sets the level to DEBUG on its first call, so call it before overriding.
    loggers = [get_logger(), logging.getLogger("prophet")]
    levels = [logger.level for logger in loggers]
    for logger, level in zip(loggers, levels):
        logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


class ProphetModel(Member):
    """Wrapper of a Prophet model with the service's settings.

    Parameters
    ----------
    params : ModelParams
        Uses ``prophet_uncertainty_samples`` (0 turns Prophet's own intervals off; the
        service's intervals come from validation residuals).
    holidays : pandas.DataFrame, optional
        Prophet holidays frame (columns ``holiday``, ``ds`` and optionally
        ``lower_window``, ``upper_window``).
    """

    FILES: tuple[str, ...] = (FILE_NAME,)
    USES_CALENDAR = True

    def __init__(self, params: ModelParams | None, holidays: pd.DataFrame | None = None) -> None:
        self.params = params
        self.holidays = holidays

    def fit(self, history: pd.Series, calendar: pd.DataFrame | None = None) -> ProphetModel:
        """Fit Prophet on `history`.

        Parameters
        ----------
        history : pandas.Series
            Daily demand on a contiguous daily DatetimeIndex; NaN days (closed, or in a
            gap) are left out of the fit.
        calendar : pandas.DataFrame, optional
            Calendar frame (:mod:`forecasting.models.calendar_inputs`): its holidays on the
            days of `history` replace the `holidays` parameter, and its regressors that
            vary over them are extra regressors. Later days are not read.

        Returns
        -------
        ProphetModel
            self
        """
        from prophet import Prophet

        if len(history) < 2:
            raise ValueError(f"Prophet needs at least 2 days of history, got {len(history)}.")
        if self.params is None:
            raise ValueError("ProphetModel needs ModelParams to be fitted.")
        yearly = len(history) >= MIN_DAYS_FOR_YEARLY
        dates = pd.DatetimeIndex(history.index)
        holidays, columns, aligned = self.holidays, None, None
        if calendar is not None:
            aligned = calendar_inputs.align(calendar, dates)
            columns = calendar_inputs.columns_of(aligned, history.notna().to_numpy())
            holidays = _holiday_frame(aligned, columns)
        model = Prophet(
            growth="linear",
            yearly_seasonality=self.params.prophet_yearly_order if yearly else False,
            weekly_seasonality=True,
            daily_seasonality=False,
            changepoint_prior_scale=self.params.prophet_changepoint_prior_scale,
            holidays=holidays,
            uncertainty_samples=self.params.prophet_uncertainty_samples,
        )
        transform = LogSeasonalTransform(offsets=False)
        frame = pd.DataFrame({"ds": dates, "y": transform.fit_transform(history, calendar).to_numpy()})
        if len(history) >= MIN_DAYS_FOR_MONTHS:
            for name in MONTH_REGRESSORS.values():
                # 0/1 columns: standardising them would only rescale the prior.
                model.add_regressor(name, standardize=False)
            frame = _with_months(frame)
        if columns is not None and aligned is not None:
            for name in columns.regressors:
                model.add_regressor(REGRESSOR_PREFIX + name)
            frame = _with_regressors(frame, aligned, columns)
        # Prophet leaves rows with a NaN target out of the fit (closed days, gaps).
        with _quiet_stan():
            model.fit(frame)
        self.prophet_, self.transform_, self.calendar_ = model, transform, columns
        return self

    def predict(self, history: pd.Series, horizon: int, calendar: pd.DataFrame | None = None) -> np.ndarray:
        """Forecast the `horizon` days after the last day of `history`.

        Parameters
        ----------
        history : pandas.Series
            Daily demand; its last date, and its latest weeks for the phase of a two-week cycle.
        horizon : int
            Days to forecast.
        calendar : pandas.DataFrame, optional
            Calendar of the forecast days, for a model fitted with one (defaults where it has none).

        Returns
        -------
        numpy.ndarray
            Shape ``(horizon,)``, clipped at 0.
        """
        model = self._learned("prophet_")
        dates = forecast_dates(history, horizon)
        # A two-week cycle goes on in the phase the latest weeks show.
        transform = self.transform_.follow(history.iloc[-7 * fortnight.FOLLOW_WEEKS - fortnight.LOCAL_DAYS :])
        future = pd.DataFrame({"ds": dates.to_numpy()})
        if MONTH_REGRESSORS[2] in model.extra_regressors:
            future = _with_months(future)
        columns: CalendarColumns | None = getattr(self, "calendar_", None)
        if columns is None:
            return transform.inverse_transform(model.predict(future)["yhat"].to_numpy(dtype=float), dates)
        aligned = calendar_inputs.align(calendar, dates)
        future = _with_regressors(future, aligned, columns)
        # Prophet reads holiday dates from the model: give it those of the forecast days for this call.
        trained_holidays = model.holidays
        model.holidays = _holiday_frame(aligned, columns)
        try:
            yhat = model.predict(future)["yhat"].to_numpy(dtype=float)
        finally:
            model.holidays = trained_holidays
        return transform.inverse_transform(yhat, dates)

    def save(self, directory: Path) -> None:
        """Write ``prophet_model.pkl`` into `directory`.

        Despite its documented name the file is JSON, not a pickle: a format version,
        the mean shift and Prophet's own JSON serialization (``model_to_json``), which
        stays readable across Prophet's internal attribute changes and, unlike a
        pickle, cannot run code when it is read.
        """
        from prophet.serialize import model_to_json

        # JSON (Prophet's own serialisation) rather than a pickle: reading it cannot run code.
        payload: dict[str, Any] = {"format_version": FORMAT_VERSION, "prophet_json": model_to_json(self._learned("prophet_")),
                                   "mean_shift": float(self.transform_.profile_.mean_shift),
                                   **{key: value for key, value in self.transform_.to_dict().items()
                                      if key.startswith("fortnight")},
                                   "calendar": None if self.calendar_ is None else self.calendar_.to_dict()}
        (Path(directory) / FILE_NAME).write_text(json.dumps(payload), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, params: ModelParams | None = None) -> ProphetModel:
        """Read the model that :meth:`save` wrote into `directory`.

        Parameters
        ----------
        directory : pathlib.Path
            Folder holding ``prophet_model.pkl``; its checksum must have been checked by the caller.
        params : ModelParams, optional
            Parameters to keep on the loaded model (prediction does not need them).

        Returns
        -------
        ProphetModel

        Raises
        ------
        UnknownFormatError
            When ``prophet_model.pkl`` is not of ``FORMAT_VERSION``.
        """
        from prophet.serialize import model_from_json

        payload = read_json_payload(Path(directory) / FILE_NAME, expected=FORMAT_VERSION)
        prophet = model_from_json(payload["prophet_json"])
        model = cls(params, holidays=prophet.holidays)
        # A file written before the two-week cycle records none: no cycle.
        shift = SeasonalProfile.from_dict({"month": [0.0] * 12, "weekday": [0.0] * 7, **payload})
        model.prophet_, model.transform_ = prophet, LogSeasonalTransform.from_profile(shift, offsets=False)
        recorded = payload.get("calendar")  # a set of version 3 recorded none: no calendar
        model.calendar_ = None if recorded is None else CalendarColumns.from_dict(recorded)
        return model


def _with_months(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with a 0/1 column per ``MONTH_REGRESSORS`` entry, from its ``ds`` dates."""
    months = pd.DatetimeIndex(frame["ds"]).month.to_numpy()
    return frame.assign(**{name: (months == month).astype(float) for month, name in MONTH_REGRESSORS.items()})


def _with_regressors(frame: pd.DataFrame, aligned: pd.DataFrame, columns: CalendarColumns) -> pd.DataFrame:
    """Return `frame` with the calendar regressors of `columns` (0 where `aligned` lacks one), row for row."""
    inputs = calendar_inputs.known_inputs(aligned, columns)[:, 1 + len(calendar_inputs.NEIGHBOUR_FEATURES):]
    return frame.assign(**{REGRESSOR_PREFIX + name: inputs[:, i] for i, name in enumerate(columns.regressors)})


def _holiday_frame(aligned: pd.DataFrame, columns: CalendarColumns) -> pd.DataFrame | None:
    """Return Prophet's holidays frame of the aligned days whose holiday `columns` names (None: no holidays)."""
    if not columns.holidays:
        return None
    days = aligned[aligned["holiday"].isin(columns.holidays)]
    return pd.DataFrame({"holiday": days["holiday"].to_numpy(dtype=object), "ds": pd.DatetimeIndex(days.index)})
