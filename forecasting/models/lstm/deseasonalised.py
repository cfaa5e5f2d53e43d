"""LSTM member on deseasonalised, detrended log demand.

The network (:class:`forecasting.models.lstm.model.LSTMModel`, unchanged) sees ``r``: log
demand minus the product's seasonal profile (the members'
:class:`~forecasting.models.target_transform.LogSeasonalTransform`) minus its level, the
mean of that over the ``LEVEL_DAYS`` days before each day. What is left is the product's
short-term dynamics around a flat line, which a window of a few weeks can forecast; the
forecast is turned back into demand with the level at the forecast origin and the
profile of the forecast days. The profile is kept in the LSTM's ``scaler.pkl``, beside
the scaler it belongs with.

On 10 store-item series (train to 2017-09-30, 92 days ahead) the LSTM's SMAPE went
from 14.1 to 11.9 and its December over-forecast (+10 %) to about -3 %: the yearly
baseline averages last year's same weekday over +-3 weeks, which blurs a step between
months (November to December is -30 %), and it adds last year's noise to every day.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.errors import UnknownFormatError
from forecasting.models import calendar_inputs
from forecasting.models.calendar_inputs import CalendarColumns, fill_missing
from forecasting.models.features import LEVEL_DAYS, forecast_dates, trailing_mean
from forecasting.models.lstm.model import SCALER_FILE, LSTMModel
from forecasting.models.member import Member
from forecasting.models.target_transform import LogSeasonalTransform
from forecasting.params import ModelParams

PROFILE_KEY = "seasonal_profile"

# Days that are not demand (closed, in a gap; NaN in the history) are interpolated on the
# deseasonalised scale, so its windows stay contiguous and never learn a closed day's 0;
# the set forecasts closed days 0 itself.
#
# Known inputs: with a calendar, each day of a window also carries the calendar of the day
# AFTER it (holiday flag, whether the days around it are closed, the regressors; see
# calendar_inputs.known_inputs), standardised on the training days. The last day of a window
# so carries its target day's promotion or holiday, and a forecast step the next day's: the
# calendar is known in advance, the demand of those days is not read.
#
# Calendar offsets: the same inputs of each day itself, fitted by least squares on the log
# demand the profile leaves, are taken out of the network's series and added back to its
# forecast (``known_inputs["offsets"]``). Left in, promotion weeks moved each window's level
# up and down and the network, which stops after a few epochs, learnt them poorly: Rossmann
# with its calendar, 20 stores, RMSPE 0.199 -> 0.124 (0.151 without the calendar).
KNOWN_KEY = "known_inputs"


def trailing_level(values: np.ndarray) -> np.ndarray:
    """Return the mean of the up to ``LEVEL_DAYS`` values before each day (the first day: itself)."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        return values.copy()
    return np.concatenate([values[:1], trailing_mean(values, np.arange(1, len(values)))])


class DeseasonalisedLSTM(Member):
    """An :class:`~forecasting.models.lstm.model.LSTMModel` on the residual of a log-scale decomposition.

    Parameters
    ----------
    params : ModelParams
        Passed to the LSTM.
    """

    FILES: tuple[str, ...] = LSTMModel.FILES
    USES_CALENDAR = True

    def __init__(self, params: ModelParams | None) -> None:
        self.params = params

    def _known(self, calendar: pd.DataFrame | None, dates: pd.DatetimeIndex) -> np.ndarray | None:
        """Return the standardised known inputs of the day after each of `dates` (None without a calendar)."""
        recorded = getattr(self, "known_", None)
        if recorded is None:
            return None
        columns = CalendarColumns.from_dict(recorded["columns"])
        following = pd.DatetimeIndex(dates) + pd.Timedelta(days=1)
        raw = calendar_inputs.known_inputs(calendar_inputs.align(calendar, following), columns, calendar)
        return (raw - np.asarray(recorded["mean"])) / np.asarray(recorded["scale"])

    def _learn_known(self, history: pd.Series, calendar: pd.DataFrame | None) -> None:
        """Record the calendar columns and their standardisation from the days of `history`."""
        self.known_ = None
        if calendar is None:
            return
        dates = pd.DatetimeIndex(history.index)
        aligned = calendar_inputs.align(calendar, dates)
        columns = calendar_inputs.columns_of(aligned, history.notna().to_numpy())
        raw = calendar_inputs.known_inputs(calendar_inputs.align(calendar, dates + pd.Timedelta(days=1)),
                                           columns, calendar)
        # The last day's row carries the calendar of the day after the cutoff: no training
        # window reads it, and neither does the standardisation.
        raw = raw[:-1]
        spread = raw.std(axis=0)
        self.known_ = {"columns": columns.to_dict(), "mean": raw.mean(axis=0).tolist(),
                       "scale": np.where(spread > 0, spread, 1.0).tolist()}
        # The calendar's own effect on each day, a least-squares fit on the known days' log demand:
        # taken out of the network's series, so its windows are not whipped by promotion weeks.
        own = calendar_inputs.training_inputs(calendar, aligned, columns)
        z = self.transform_.transform(history).to_numpy()
        fitted = np.isfinite(z)
        _, effects = calendar_inputs.calendar_effects(z[fitted], own[fitted])
        self.known_["offsets"] = [float(effect) for effect in effects]

    def _calendar_offsets(self, calendar: pd.DataFrame | None, dates: pd.DatetimeIndex) -> np.ndarray:
        """Return the log-scale effect of the calendar on each of `dates` (0 for a member fitted without one).

        A calendar that leaves a day unstated gives it the defaults (open, no holiday,
        regressors 0), as the other members read it.
        """
        recorded = getattr(self, "known_", None)
        if recorded is None or "offsets" not in recorded:
            return np.zeros(len(dates))
        columns = CalendarColumns.from_dict(recorded["columns"])
        inputs = calendar_inputs.known_inputs(calendar_inputs.align(calendar, pd.DatetimeIndex(dates)), columns, calendar)
        return inputs @ np.asarray(recorded["offsets"])

    def fit(self, history: pd.Series, calendar: pd.DataFrame | None = None) -> DeseasonalisedLSTM:
        """Estimate the profile on `history` and train a new LSTM on its residual.

        Parameters
        ----------
        history : pandas.Series
            Daily demand on a contiguous daily DatetimeIndex, longer than ``lstm_window`` days.
        calendar : pandas.DataFrame, optional
            The product's calendar: its known inputs go beside the window (see above). The
            days of `history` and the day after it are read.

        Returns
        -------
        DeseasonalisedLSTM
            self
        """
        self.transform_ = LogSeasonalTransform().fit(history, calendar)
        self._learn_known(history, calendar)
        known = self._known(calendar, pd.DatetimeIndex(history.index))
        self.lstm_ = LSTMModel(self.params).fit(self._residual(history, calendar=calendar), known)
        return self

    def continue_fit(self, history: pd.Series, epochs: int,
                     calendar: pd.DataFrame | None = None) -> DeseasonalisedLSTM:
        """Re-estimate the profile on `history` and train the LSTM `epochs` more epochs on its residual.

        The profile is cheap and more history makes it better; the network keeps its
        scaler, as in :meth:`forecasting.models.lstm.model.LSTMModel.continue_fit`.
        """
        self._learned("lstm_")
        self.transform_ = LogSeasonalTransform().fit(history, calendar)
        self.lstm_.continue_fit(self._residual(history, calendar=calendar), epochs,
                                self._known(calendar, pd.DatetimeIndex(history.index)))
        return self

    def predict(self, history: pd.Series, horizon: int, calendar: pd.DataFrame | None = None) -> np.ndarray:
        """Forecast the `horizon` days after `history`.

        Parameters
        ----------
        history : pandas.Series
            Daily demand on a contiguous daily DatetimeIndex, at least ``lstm_window`` days.
        horizon : int
            Days to forecast.
        calendar : pandas.DataFrame, optional
            Calendar of the forecast days (and the day after them), for a member fitted with one.

        Returns
        -------
        numpy.ndarray
            Shape ``(horizon,)``, non-negative.
        """
        lstm: LSTMModel = self._learned("lstm_")
        dates = forecast_dates(history, horizon)
        recent = history.iloc[-(LEVEL_DAYS + lstm.window_) :]
        # A two-week cycle goes on in the phase the latest weeks show.
        transform = self.transform_.follow(recent)
        past = self._series(recent, transform, calendar)
        residual = lstm.predict(pd.Series(past - trailing_level(past), index=recent.index), horizon,
                                self._known(calendar, pd.DatetimeIndex(recent.index)), self._known(calendar, dates))
        z = np.concatenate([past, np.zeros(horizon)])
        start = len(z) - horizon
        for step in range(horizon):
            # Each day's level includes the days forecast before it, as the residuals were
            # defined in training: a growing product keeps growing over the horizon.
            day = start + step
            z[day] = residual[step] + z[max(day - LEVEL_DAYS, 0) : day].mean()
        return transform.inverse_transform(z[start:] + self._calendar_offsets(calendar, dates), dates)

    def _series(self, history: pd.Series, transform: LogSeasonalTransform,
                calendar: pd.DataFrame | None) -> np.ndarray:
        """Return what the network's series is made from: the transformed history less the calendar's offsets, gaps filled."""
        z = transform.transform(history).to_numpy()
        return fill_missing(z - self._calendar_offsets(calendar, pd.DatetimeIndex(history.index)))

    def _residual(self, history: pd.Series, calendar: pd.DataFrame | None = None) -> pd.Series:
        z = self._series(history, self.transform_, calendar)
        return pd.Series(z - trailing_level(z), index=history.index, name="residual")

    def save(self, directory: Path) -> None:
        """Write the LSTM's files into `directory`, the profile inside its ``scaler.pkl``."""
        lstm = self._learned("lstm_")
        lstm.save(directory, extra={PROFILE_KEY: self.transform_.to_dict(), KNOWN_KEY: getattr(self, "known_", None)})

    @classmethod
    def load(cls, directory: Path, params: ModelParams | None = None) -> DeseasonalisedLSTM:
        """Read what :meth:`save` wrote into `directory` (checksums checked by the caller).

        Raises
        ------
        UnknownFormatError
            When ``scaler.pkl`` is of another format or holds no seasonal profile.
        """
        lstm = LSTMModel.load(directory, params)
        if PROFILE_KEY not in lstm.extra_:
            raise UnknownFormatError(f"{SCALER_FILE} holds no seasonal profile: it was not written by this member.")
        model = cls(params)
        model.transform_, model.lstm_ = LogSeasonalTransform.from_dict(lstm.extra_[PROFILE_KEY]), lstm
        model.known_ = lstm.extra_.get(KNOWN_KEY)
        return model
