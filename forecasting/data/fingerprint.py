"""The data fingerprint of a product: sha256 over its stored sales, calendar rows and place."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from typing import Any


def sales_line(day: date, quantity: float) -> str:
    """Return the fingerprint line of one sales row."""
    # Fixed decimals and no negative zero (+ 0.0): the same stored double gives the
    # same text whether SQLite or PostgreSQL returned it.
    return f"{day.isoformat()},{float(quantity) + 0.0:.6f}\n"


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def fingerprint_rows(rows: Iterable[tuple[date, float]]) -> str:
    """Return the data fingerprint of a history: sha256 of its sorted (date, quantity) rows.

    Parameters
    ----------
    rows : iterable of (datetime.date, float)
        The stored rows, in any order.

    Returns
    -------
    str
        Hex sha256 over one ``YYYY-MM-DD,quantity`` line per row, in date order,
        quantity with six decimals. The one definition every module uses.
    """
    return _digest([sales_line(day, quantity) for day, quantity in sorted(rows, key=lambda row: row[0])])


def calendar_line(day: date, is_open: bool | None, holiday: str | None, regressors: str | None) -> str:
    """Return the fingerprint line of one stored calendar row (regressors as their stored JSON text)."""
    flag = "" if is_open is None else ("1" if is_open else "0")
    return f"{day.isoformat()},{flag},{json.dumps(holiday)},{regressors or ''}\n"


def product_digest(sales_lines: list[str], calendar_lines: list[str], country: str | None,
                   subdivision: str | None) -> str:
    """Return the fingerprint of a product from its sales and calendar lines, in date order, and its place."""
    # Without calendar rows or a country it is the sales' own fingerprint, as before
    # calendars existed: model sets trained then stay fresh.
    if not calendar_lines and not country:
        return _digest(sales_lines)
    return _digest([*sales_lines, f"calendar {country or ''} {subdivision or ''}\n", *calendar_lines])


def fingerprint_product(
    sales_rows: Iterable[tuple[date, float]], calendar_rows: Iterable[tuple[date, bool | None, str | None, str | None]]
    = (), *, country: str | None = None, subdivision: str | None = None,
) -> str:
    """Return the data fingerprint of a product: its sales, calendar rows and country.

    Parameters
    ----------
    sales_rows : iterable of (datetime.date, float)
        The stored sales rows, in any order.
    calendar_rows : iterable of (datetime.date, bool or None, str or None, str or None)
        The stored calendar rows (day, open, holiday, regressors as stored JSON text), in any order.
    country, subdivision : str, optional
        The product's own place for public holidays.

    Returns
    -------
    str
        :func:`fingerprint_rows` of the sales alone when there are no calendar rows
        and no country; otherwise sha256 over the sales lines, a line naming the
        place, and one line per calendar row in date order.
    """
    sales_lines = [sales_line(day, quantity) for day, quantity in sorted(sales_rows, key=lambda row: row[0])]
    calendar_lines = [calendar_line(*row) for row in sorted(calendar_rows, key=lambda row: row[0])]
    return product_digest(sales_lines, calendar_lines, country, subdivision)


class CalendarLines:
    """Calendar lines per product from a stream ordered by product, read alongside the sales stream."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self._rows = iter(rows)
        self._next = next(self._rows, None)

    def lines_of(self, product_id: int) -> list[str]:
        """Return the product's lines, skipping products before it (asked for in increasing id order)."""
        lines: list[str] = []
        while self._next is not None and self._next[0] <= product_id:
            if self._next[0] == product_id:
                lines.append(calendar_line(*self._next[1:]))
            self._next = next(self._rows, None)
        return lines
