"""Public holidays of a country (and subdivision) from the ``holidays`` package."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

from forecasting.errors import InvalidProductData


@lru_cache(maxsize=1)
def _supported() -> dict[str, tuple[str, ...]]:
    return {code.upper(): tuple(subdivisions) for code, subdivisions in holidays.list_supported_countries().items()}


def check_place(country: str | None, subdivision: str | None) -> tuple[str | None, str | None]:
    """Return the country and subdivision as the ``holidays`` package spells them.

    Parameters
    ----------
    country : str or None
        ISO 3166-1 code (``"DE"``, also alpha-3 ``"DEU"``), any case; None or empty for none.
    subdivision : str or None
        One of the country's subdivisions in the package (``"BY"``), any case.

    Returns
    -------
    tuple of (str or None, str or None)
        The codes in the package's spelling; (None, None) for no country.

    Raises
    ------
    InvalidProductData
        Naming the value the package does not support, or a subdivision without a country.
    """
    for field, value in (("Country", country), ("Subdivision", subdivision)):
        if value is not None and not isinstance(value, str):
            raise InvalidProductData(f"{field} must be a code as text, got {value!r:.40}.", field.lower())
    country = (country or "").strip().upper() or None
    subdivision = (subdivision or "").strip() or None
    if country is None:
        if subdivision is not None:
            raise InvalidProductData(f"Subdivision {subdivision!r} needs a country.", "subdivision")
        return None, None
    supported = _supported()
    if country not in supported:
        raise InvalidProductData(f"Country {country!r} is not supported by the holidays package; "
                                 "give an ISO 3166-1 code such as 'DE' or 'US'.", "country")
    if subdivision is None:
        return country, None
    match = next((s for s in supported[country] if s.upper() == subdivision.upper()), None)
    if match is None:
        known = ", ".join(supported[country]) or "none"
        raise InvalidProductData(f"Subdivision {subdivision!r} is not one of country {country}'s: {known}.",
                                 "subdivision")
    return country, match


def public_holidays(*, country: str, subdivision: str | None, start: date, end: date) -> dict[date, str]:
    """Return the public holidays between `start` and `end` (inclusive), day -> name.

    Parameters
    ----------
    country, subdivision : str
        As :func:`check_place` returns them.
    start, end : datetime.date
        The range.

    Returns
    -------
    dict of datetime.date to str
        The package's English name where it has one (``"German Unity Day"``);
        several holidays on one day are joined by ``"; "``.
    """
    if end < start:
        return {}
    calendar = holidays.country_holidays(country, subdiv=subdivision, years=range(start.year, end.year + 1),
                                         language="en_US")
    return {day: str(name) for day, name in sorted(calendar.items()) if start <= day <= end}
