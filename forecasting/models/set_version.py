"""The version of what a model set holds, recorded in its model_info.json."""

from __future__ import annotations

from typing import Any

#: What the members of a set model and which files they write. A set saved with another
#: (or, before it was recorded, none: version 1) is retrained. 2: the members model log
#: demand on a seasonal profile, kept in the LSTM's ``scaler.pkl``. 3: ``prophet_model.pkl``
#: and ``scaler.pkl`` hold JSON instead of pickles (same names); only ``rf_model.pkl`` is a pickle.
#: 4: the forest's ``rf_model.pkl`` (format 3) and Prophet's file record the calendar columns they
#: were fitted with, and model_info.json records them as ``calendar``.
#: 5: closed weekdays and isolated zero days read from the history are left out of the fits,
#: and model_info.json records them as ``closures`` (:mod:`forecasting.models.closures`); a
#: set of 4 was fitted on those zeros as demand, so it is retrained rather than read.
#: 6: the forest's ``rf_model.pkl`` (format 4) holds a forest of 20 features and more calendar
#: inputs (:mod:`forecasting.models.features`), the LSTM takes the calendar's known inputs, the
#: intervals are calibrated on the validation folds at any level (:mod:`forecasting.models.intervals`)
#: and model_info.json keeps the members' fold forecasts (``validation_forecasts``), so a forecast
#: may ask for any interval level or a subset of the members; a set of 5 holds none of it and is retrained.
MODEL_SET_VERSION = 6


def recorded_set_version(info: dict[str, Any]) -> int:
    """Return the model set version in a model_info.json (1 when it records none)."""
    value = info.get("model_set_version", 1)
    return value if isinstance(value, int) else 1
