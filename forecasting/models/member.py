"""The contract every member of a model set follows, after scikit-learn's estimators.

- ``__init__`` stores its parameters and does nothing else.
- ``fit(history)`` returns ``self``; what it learns is kept in attributes ending in ``_``
  (private caches start with ``_``).
- ``predict(history, horizon)`` forecasts the days after `history`; before ``fit`` or
  ``load`` it raises :class:`NotFittedError`.
- ``save(directory)`` writes exactly the files named in ``FILES``; the classmethod
  ``load(directory, params)`` is its mirror and refuses a file of a format version it
  does not read with :class:`~forecasting.errors.UnknownFormatError`, naming the file
  and the version found.

``tests/forecasting/models/test_member_contract.py`` checks every member against it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from forecasting.errors import UnknownFormatError
from forecasting.params import ModelParams


class NotFittedError(RuntimeError):
    """A member was asked to forecast or save before it was fitted or loaded."""


class Member(ABC):
    """Base of the members of a model set (see the module docstring).

    Attributes
    ----------
    FILES : tuple of str
        Names of the files :meth:`save` writes, and only those.
    USES_CALENDAR : bool
        True when ``fit`` and ``predict`` also take an optional ``calendar`` frame
        (:mod:`forecasting.models.calendar_inputs`); a member reads at most the days it fits or forecasts.
    """

    FILES: ClassVar[tuple[str, ...]] = ()
    #: Whether ``fit`` and ``predict`` take a ``calendar`` keyword (holidays, regressors).
    USES_CALENDAR: ClassVar[bool] = False

    @abstractmethod
    def fit(self, history: pd.Series) -> Self:
        """Learn from daily demand `history` and return self."""

    @abstractmethod
    def predict(self, history: pd.Series, horizon: int) -> np.ndarray:
        """Return the forecast of the `horizon` days after `history`, shape ``(horizon,)``."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the files named in ``FILES`` into the existing `directory`."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, params: ModelParams | None = None) -> Self:
        """Read what :meth:`save` wrote into `directory` (checksums checked by the caller)."""

    def _learned(self, attribute: str) -> Any:
        """Return the learned `attribute`, or raise NotFittedError when fit() or load() has not set it."""
        try:
            return getattr(self, attribute)
        except AttributeError:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() or load() first.") from None


def check_format(payload: Any, *, file_name: str, expected: int) -> Mapping[str, Any]:
    """Return `payload` when it is a dict of format version `expected`.

    Parameters
    ----------
    payload : object
        What was unpickled from `file_name`.
    file_name : str
        Named in the error.
    expected : int
        The one format version this code reads.

    Returns
    -------
    mapping
        `payload`.

    Raises
    ------
    UnknownFormatError
        Naming the file and the version it records (or that it records none).
    """
    found = payload.get("format_version") if isinstance(payload, dict) else None
    if found == expected:
        return payload
    what = "records no format version" if found is None else f"has format version {found!r}"
    raise UnknownFormatError(f"{file_name} {what}, an unknown format: this code reads version {expected}.")


def read_json_payload(path: Path, *, expected: int) -> Mapping[str, Any]:
    """Return the JSON object in `path` when it records format version `expected`.

    Parameters
    ----------
    path : Path
        A member's file written as JSON.
    expected : int
        The one format version this code reads.

    Returns
    -------
    mapping
        The parsed object.

    Raises
    ------
    UnknownFormatError
        When the file is not JSON (for example the pickle of an older format, which is
        never unpickled) or records another format version, naming the file.
    """
    try:
        payload = json.loads(path.read_bytes())
    except ValueError:  # not UTF-8 or not JSON
        raise UnknownFormatError(
            f"{path.name} is not JSON, an unknown format: this code reads version {expected}."
        ) from None
    return check_format(payload, file_name=path.name, expected=expected)
