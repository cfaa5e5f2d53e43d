"""The members' target transform: log demand less its seasonal profile, and back.

One class for every member (as mlforecast's target transforms are), so the log scale,
the month and weekday offsets and the mean correction of
:mod:`forecasting.models.decomposition` are applied the same way wherever a member
learns demand. Prophet models the calendar itself and takes the log scale, the mean
correction and a two-week cycle's offsets only (``offsets=False``): its weekly and yearly
seasonality have no period of a fortnight.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Self

import numpy as np
import pandas as pd

from forecasting.models import calendar_inputs
from forecasting.models.decomposition import SeasonalProfile
from forecasting.models.member import NotFittedError


class LogSeasonalTransform:
    """``log1p(demand)`` minus month and weekday offsets; ``inverse_transform`` undoes it.

    Parameters
    ----------
    offsets : bool, default True
        Subtract the month and weekday offsets. False keeps the log scale, the mean
        correction and the fortnight offsets only, for a member that learns the calendar itself.

    Attributes
    ----------
    profile_ : SeasonalProfile
        The fitted offsets (all 0 with ``offsets=False``) and mean correction.
    """

    def __init__(self, offsets: bool = True) -> None:
        self.offsets = offsets

    def fit(self, history: pd.Series, calendar: pd.DataFrame | None = None) -> Self:
        """Estimate the profile on daily demand `history` (contiguous daily DatetimeIndex) and return self.

        A two-week cycle is read from the sales only when `calendar` (if any) has no
        regressors over `history`: promotions a calendar states are known for every
        forecast day, a cycle read from the sales is a guess at them. The mean correction
        is measured net of the calendar's known inputs (holidays, closed neighbours,
        regressors), whose effects the members forecast.
        """
        dates = pd.DatetimeIndex(history.index)
        known, stated = None, False
        if calendar is not None and len(dates):
            aligned = calendar_inputs.align(calendar, dates)
            columns = calendar_inputs.columns_of(aligned, history.notna().to_numpy())
            stated = bool(columns.regressors)
            if columns.regressors or columns.holidays:
                known = pd.DataFrame(calendar_inputs.training_inputs(calendar, aligned, columns), index=dates)
        profile = SeasonalProfile.fit(history, cycle=not stated, known=known)
        # The mean correction is measured net of the offsets either way: the noise it
        # corrects for is the day's, not the calendar's.
        self.profile_ = profile if self.offsets else replace(profile, month=(0.0,) * 12, weekday=(0.0,) * 7)
        return self

    def fit_transform(self, history: pd.Series, calendar: pd.DataFrame | None = None) -> pd.Series:
        """Fit on `history` (and `calendar`, see :meth:`fit`) and return it transformed (see :meth:`transform`)."""
        return self.fit(history, calendar).transform(history)

    def transform(self, history: pd.Series) -> pd.Series:
        """Return ``log1p`` of the demand `history` minus the offsets of its days, on its index."""
        return pd.Series(self._profile().deseasonalise(history), index=history.index)

    def inverse_transform(self, values: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
        """Return demand from transformed `values` of `dates`: offsets, mean correction, ``expm1``, clipped at 0."""
        return self._profile().restore(values, dates)

    def follow(self, history: pd.Series) -> LogSeasonalTransform:
        """Return a transform whose two-week cycle is in the phase of the latest weeks of `history`.

        A forecast from `history` uses it for the history and the forecast days alike
        (:meth:`SeasonalProfile.follow`); without a cycle it is this transform.
        """
        profile = self._profile()
        followed = profile.follow(history)
        return self if followed is profile else LogSeasonalTransform.from_profile(followed, self.offsets)

    def to_dict(self) -> dict[str, Any]:
        """Return the fitted profile as JSON-able values (:meth:`SeasonalProfile.to_dict`)."""
        return self._profile().to_dict()

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], offsets: bool = True) -> LogSeasonalTransform:
        """Return a fitted transform from :meth:`to_dict`."""
        return cls.from_profile(SeasonalProfile.from_dict(values), offsets=offsets)

    @classmethod
    def from_profile(cls, profile: SeasonalProfile, offsets: bool = True) -> LogSeasonalTransform:
        """Return a transform fitted to `profile`."""
        transform = cls(offsets)
        transform.profile_ = profile
        return transform

    def _profile(self) -> SeasonalProfile:
        if not hasattr(self, "profile_"):
            raise NotFittedError("LogSeasonalTransform is not fitted: call fit() first.")
        return self.profile_
