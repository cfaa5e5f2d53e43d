"""Bulk sales input: import a long-format CSV of daily sales, all or nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from forecasting.data.calendar_ingest import CalendarColumns, chunk_edits
from forecasting.data.calendar_store import write_edits
from forecasting.data.database import bulk_upsert, sync_product_ids
from forecasting.data.database import products as products_table
from forecasting.errors import InvalidSalesData

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# One int64 per (product, day), to sort rows and find duplicates: product * BASE + day + SHIFT.
CODE_BASE, CODE_SHIFT = 10_000_000, 5_000_000
KEY_LENGTH = products_table.c.key.type.length


@dataclass(frozen=True)
class ImportReport:
    """What an import did."""

    products_created: int
    products_total: int  # distinct products in the file
    rows: int
    start: date | None
    end: date | None
    seconds: float
    calendar_rows: int = 0  # calendar rows written (inserted or changed)

    def __str__(self) -> str:
        span = f"{self.start}..{self.end}" if self.start else "no dates"
        calendar = f", {self.calendar_rows:,} calendar rows written" if self.calendar_rows else ""
        return (
            f"imported {self.rows:,} rows for {self.products_total:,} products "
            f"({self.products_created:,} new), {span}{calendar}, in {self.seconds:.1f} s"
        )


def import_csv(
    engine: Engine,
    path: Path,
    *,
    key_columns: Sequence[str],
    date_column: str,
    quantity_column: str,
    name_format: str | None = None,
    date_format: str | None = None,
    chunksize: int = 200_000,
    progress: Callable[[int], None] | None = None,
    calendar: CalendarColumns | None = None,
) -> ImportReport:
    """Import daily sales from a long-format CSV (plain or .gz), all or nothing.

    Parameters
    ----------
    engine : Engine
        Sales database.
    path : Path
        CSV file with one row per product and day.
    key_columns : sequence of str
        Column(s) that together name the product, e.g. ``["store", "item"]``.
        Each distinct key is a product (key ``"store=1|item=7"``), created when
        missing. With one integer key column, a new product takes that integer
        as its id when the id is free (Rossmann store 1 is product 1).
    date_column, quantity_column : str
        Columns holding the day and the units sold (finite, >= 0).
    name_format : str, optional
        Name of new products, e.g. ``"Store {store}, item {item}"``; by default
        ``"store 1 item 7"``.
    date_format : str, optional
        strftime format of the dates; ISO 8601 (``YYYY-MM-DD``) by default.
    chunksize : int
        Rows parsed and written at a time.
    progress : callable, optional
        Called with the number of rows just processed, after each chunk.
    calendar : CalendarColumns, optional
        Columns of the same rows loaded into the products' calendars (e.g.
        Rossmann's Open, Promo, SchoolHoliday, StateHoliday), in the same transaction.

    Returns
    -------
    ImportReport

    Raises
    ------
    InvalidSalesData
        A missing column, an unparseable date, a missing, non-numeric or negative
        quantity, or one product twice on one day, naming the column and line.
        The whole import is one transaction: nothing is written.
    """
    started = time.perf_counter()
    path = Path(path)
    keys = list(dict.fromkeys(key_columns))
    _check_columns(path, keys, date_column, quantity_column, name_format)
    extra = _calendar_columns(path, calendar, [*keys, date_column, quantity_column])
    read = dict(usecols=[*keys, date_column, quantity_column, *extra],
                dtype={c: str for c in [*keys, date_column, *extra]}, chunksize=chunksize)
    calendar_rows = 0
    codes: list[np.ndarray] = []
    lines: list[np.ndarray] = []
    first = last = None
    with engine.begin() as conn:
        resolver = _Products(conn, keys, name_format)
        try:
            with pd.read_csv(path, **read) as reader:
                for chunk in reader:
                    line = chunk.index.to_numpy() + 2  # header is line 1
                    codes_in_chunk, unique_keys, unique_values = _keys(chunk, keys, line)
                    days = _days(chunk[date_column], date_column, line, date_format)
                    quantity = _quantities(chunk[quantity_column], quantity_column, line)
                    ids = resolver.ids(unique_keys, unique_values)[codes_in_chunk]
                    code = ids * CODE_BASE + days + CODE_SHIFT
                    order = np.argsort(code, kind="stable")  # index-ordered inserts are faster
                    code, line, ids, days = code[order], line[order], ids[order], days[order]
                    _check_duplicates([code], [line], resolver, path)
                    dates = _dates(days)
                    bulk_upsert(conn, product_ids=ids.tolist(), dates=dates, quantities=quantity[order].tolist())
                    if extra:
                        edits = chunk_edits(chunk.iloc[order], calendar, dates, line)
                        calendar_rows += write_edits(conn, list(zip(ids.tolist(), edits, strict=True)))
                    codes.append(code)
                    lines.append(line)
                    first = min(first, int(days.min())) if first is not None else int(days.min())
                    last = max(last, int(days.max())) if last is not None else int(days.max())
                    if progress:
                        progress(len(chunk))
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise InvalidSalesData(f"{path.name} is not a readable CSV file: {exc}") from exc
        _check_duplicates(codes, lines, resolver, path)
    return ImportReport(
        products_created=resolver.created,
        products_total=len(resolver.seen),
        rows=int(sum(len(c) for c in codes)),
        start=_day(first) if first is not None else None,
        end=_day(last) if last is not None else None,
        seconds=round(time.perf_counter() - started, 3),
        calendar_rows=calendar_rows,
    )


def _check_columns(path: Path, keys: list[str], date_column: str, quantity_column: str, name_format: str | None
                   ) -> None:
    if not keys:
        raise InvalidSalesData("Name at least one key column (the column(s) that identify a product).")
    if not path.is_file():
        raise InvalidSalesData(f"CSV file {path} does not exist.")
    try:
        header = list(pd.read_csv(path, nrows=0).columns)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidSalesData(f"{path.name} is not a readable CSV file: {exc}") from exc
    missing = [c for c in dict.fromkeys([*keys, date_column, quantity_column]) if c not in header]
    if missing:
        raise InvalidSalesData(
            f"{path.name} has no column {', '.join(map(repr, missing))}; its columns are {', '.join(header)}."
        )
    if {date_column, quantity_column} & set(keys) or date_column == quantity_column:
        raise InvalidSalesData("The key, date and quantity columns must all be different columns.")
    if name_format is not None:
        try:
            name_format.format_map({k: "x" for k in keys})
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidSalesData(f"name_format {name_format!r} uses {exc}, which is not a key column.") from exc


def _calendar_columns(path: Path, calendar: CalendarColumns | None, taken: list[str]) -> list[str]:
    if not calendar:
        return []
    calendar.check(list(pd.read_csv(path, nrows=0).columns), path.name, taken=taken)
    return calendar.columns


def _keys(chunk: pd.DataFrame, keys: list[str], line: np.ndarray
          ) -> tuple[np.ndarray, list[str], list[tuple[str, ...]]]:
    """Return per-row codes into the chunk's distinct keys, the key texts and their column values."""
    parts = []
    for column in keys:
        values = chunk[column].str.strip()
        bad = values.isna() | (values == "")
        if bad.any():
            raise InvalidSalesData(f"Line {line[bad.to_numpy().argmax()]}: key column {column!r} is empty.")
        parts.append(values)
    text = parts[0].radd(f"{keys[0]}=")
    for column, values in zip(keys[1:], parts[1:], strict=True):
        text = text + f"|{column}=" + values
    codes, uniques = pd.factorize(text)
    _, first_rows = np.unique(codes, return_index=True)
    too_long = [i for i, u in zip(first_rows, uniques, strict=True) if len(u) > KEY_LENGTH]
    if too_long:
        raise InvalidSalesData(f"Line {line[too_long[0]]}: the product key is longer than {KEY_LENGTH} characters.")
    frame = pd.DataFrame({k: p.to_numpy() for k, p in zip(keys, parts, strict=True)}).iloc[first_rows]
    return codes, [str(u) for u in uniques], list(frame.itertuples(index=False, name=None))


def _days(column: pd.Series, name: str, line: np.ndarray, date_format: str | None) -> np.ndarray:
    parsed = pd.to_datetime(column, format=date_format or "ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = bad.argmax()
        raise InvalidSalesData(f"Line {line[i]}: {column.iloc[i]!r} in column {name!r} is not a valid date.")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    timed = (parsed != parsed.dt.normalize()).to_numpy()
    if timed.any():
        i = timed.argmax()
        raise InvalidSalesData(f"Line {line[i]}: {column.iloc[i]!r} in column {name!r} has a time of day.")
    return parsed.to_numpy().astype("datetime64[D]").astype(np.int64)


def _quantities(column: pd.Series, name: str, line: np.ndarray) -> np.ndarray:
    numbers = pd.to_numeric(column, errors="coerce").astype(float).to_numpy()
    bad = ~np.isfinite(numbers)
    if bad.any():
        i = bad.argmax()
        raw = column.iloc[i]
        what = "is empty" if pd.isna(raw) else f"has {str(raw)!r}, which is not a finite number"
        raise InvalidSalesData(f"Line {line[i]}: column {name!r} {what}.")
    negative = numbers < 0
    if negative.any():
        i = negative.argmax()
        raise InvalidSalesData(f"Line {line[i]}: column {name!r} has {str(column.iloc[i])!r}; quantities must be >= 0.")
    return numbers


def _day(number: int) -> date:
    return date.fromordinal(EPOCH_ORDINAL + int(number))


def _dates(days: np.ndarray) -> list[date]:
    # Few distinct days per chunk: build each date object once.
    uniques, inverse = np.unique(days, return_inverse=True)
    return np.array([_day(d) for d in uniques], dtype=object)[inverse].tolist()


def _check_duplicates(codes: list[np.ndarray], lines: list[np.ndarray], resolver: _Products, path: Path) -> None:
    if not codes:
        return
    allcodes, alllines = np.concatenate(codes), np.concatenate(lines)
    order = np.argsort(allcodes, kind="stable")
    same = np.flatnonzero(allcodes[order][1:] == allcodes[order][:-1])
    if same.size:
        a, b = alllines[order[same[0]]], alllines[order[same[0] + 1]]
        code = int(allcodes[order[same[0]]])
        key = resolver.key_of[code // CODE_BASE]
        day = _day(code % CODE_BASE - CODE_SHIFT)
        raise InvalidSalesData(f"{path.name}: lines {a} and {b} both give {key} on {day}; one row per product and day.")


class _Products:
    """Map product keys to ids, creating the products a file introduces."""

    def __init__(self, conn: Connection, keys: list[str], name_format: str | None) -> None:
        self.conn, self.keys, self.name_format = conn, keys, name_format
        table = products_table
        found = conn.execute(select(table.c.key, table.c.id).where(table.c.key.is_not(None))).all()
        self.by_key: dict[str, int] = {key: pid for key, pid in found}
        self.key_of: dict[int, str] = {pid: key for key, pid in found}
        self.taken: set[int] = set(conn.execute(select(table.c.id)).scalars())
        self.seen: set[int] = set()
        self.created = 0

    def ids(self, key_text: list[str], key_values: list[tuple[str, ...]]) -> np.ndarray:
        """Return the id of each distinct key, creating missing products."""
        new = {k: v for k, v in zip(key_text, key_values, strict=True) if k not in self.by_key}
        if new:
            self._create(new)
        ids = np.fromiter((self.by_key[k] for k in key_text), dtype=np.int64, count=len(key_text))
        self.seen.update(np.unique(ids).tolist())
        return ids

    def _create(self, new: dict[str, tuple[str, ...]]) -> None:
        now = datetime.now(timezone.utc)
        explicit, auto = [], []
        for key, values in new.items():
            row = {"key": key, "name": self._name(values), "created_at": now}
            wanted = int(values[0]) if len(values) == 1 and values[0].isascii() and values[0].isdigit() else 0
            if 0 < wanted < 2**31 and wanted not in self.taken:
                explicit.append({**row, "id": wanted})
                self.taken.add(wanted)
            else:
                auto.append(row)
        if explicit:
            self.conn.execute(products_table.insert(), explicit)
            sync_product_ids(self.conn)
            self.by_key.update({row["key"]: row["id"] for row in explicit})
        if auto:
            insert = products_table.insert().returning(products_table.c.key, products_table.c.id)
            returned = self.conn.execute(insert, auto).all()
            self.by_key.update(dict(returned))
            self.taken.update(pid for _, pid in returned)
        self.key_of.update({self.by_key[key]: key for key in new})
        self.created += len(new)

    def _name(self, values: tuple[str, ...]) -> str:
        if self.name_format:
            name = self.name_format.format_map(dict(zip(self.keys, values, strict=True)))
        else:
            name = " ".join(f"{column} {value}" for column, value in zip(self.keys, values, strict=True))
        return name[:KEY_LENGTH]
