"""Accuracy data sets: one loader per data set, each returning the held-out split of every series.

Every split is one shot from the cutoff: a method sees ``train`` (and, where a data set
has one, the calendar of the past and the future days) and forecasts ``len(actual)`` days.
``back`` moves every cutoff that many days earlier (the days after the held-out window are
dropped, calendar included): the same series scored on windows the bench's own does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from bench.data import ROOT, real_series

SHARED = ROOT.parent / "shared" / "data"
STORE_ITEM_CUTOFF = pd.Timestamp("2017-09-30")
STORE_ITEM_HORIZON = 92  # 2017-10-01 .. 2017-12-31
ROSSMANN_FILE = SHARED / "rossmann-store-sales" / "train.csv.gz"
ROSSMANN_HORIZON = 48  # 2015-06-14 .. 2015-07-31, the length of Kaggle's test period
ROSSMANN_STORES = 100
M5_FOLDER = SHARED / "m5-walmart"
M5_HORIZON = 28  # M5's horizon
#: The M5 item that stopped selling: a forecast of (nearly) zero is the right answer.
M5_DEAD_ITEM = "FOODS_2_324_WI_1"


@dataclass(frozen=True)
class SeriesSplit:
    """One series cut at the forecast origin."""

    key: str
    train: pd.Series
    actual: np.ndarray
    #: Past and future days (index: date) with open, holiday, promo, school_holiday; None without one.
    calendar: pd.DataFrame | None = None
    #: Days that count in the metric (Kaggle's Rossmann RMSPE: open and sales > 0); None for all days.
    scored: np.ndarray | None = None


@dataclass(frozen=True)
class DataSet:
    """The splits of one data set and how they are scored."""

    name: str
    metric: str  # "smape", "rmspe" or "rmsse"
    horizon: int
    series: list[SeriesSplit]
    description: str
    #: Methods that take a calendar get it in this data set.
    with_calendar: bool = False
    #: Days the cutoff lies before the bench's own (0: the bench's window).
    back: int = 0


def even_sample(keys: list, limit: int | None) -> list:
    """Return `limit` keys spread evenly over the sorted `keys` (all when None or larger)."""
    if limit is None or limit >= len(keys):
        return list(keys)
    picked = np.linspace(0, len(keys) - 1, limit).round().astype(int)
    return [keys[i] for i in picked]


def _earlier(values: pd.Series | pd.DataFrame, back: int) -> pd.Series | pd.DataFrame:
    """Return `values` without its last `back` rows (all of them when `back` is 0)."""
    return values.iloc[: len(values) - back] if back else values


def _cutoff_text(back: int) -> str:
    return f", cut {back} days before the bench's cutoff" if back else ""


def _window_text(splits: list[SeriesSplit], horizon: int, back: int) -> str:
    """Return "train <= <last training day>, <horizon> days held out[, cut ...]" of `splits`."""
    cutoff = splits[0].train.index[-1].date() if splits else None
    return f"train <= {cutoff}, {horizon} days held out{_cutoff_text(back)}"


def _split(key: str, full: pd.Series, horizon: int) -> tuple[pd.Series, np.ndarray]:
    train, actual = full.iloc[:-horizon], full.iloc[-horizon:].to_numpy(dtype=float)
    if len(actual) != horizon:
        raise ValueError(f"series {key} has {len(actual)} held-out days, expected {horizon}.")
    return train, actual


def store_item(limit: int | None = None, back: int = 0) -> list[DataSet]:
    """Store-item demand, stores 1-2 (100 series): train through 2017-09-30, 92 days held out."""
    found = real_series(limit=limit)
    if found is None:
        return []
    splits = []
    for (store, item), full in found.items():
        full = _earlier(full.loc[: STORE_ITEM_CUTOFF + pd.Timedelta(days=STORE_ITEM_HORIZON)], back)
        train, actual = _split(f"store {store} item {item}", full, STORE_ITEM_HORIZON)
        splits.append(SeriesSplit(f"s{store}-i{item}", train, actual))
    text = f"store-item demand, {len(splits)} of 100 series, {_window_text(splits, STORE_ITEM_HORIZON, back)}"
    return [DataSet("store-item", "smape", STORE_ITEM_HORIZON, splits, text, back=back)]


def _rossmann_calendar(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "open": frame["Open"].to_numpy(dtype=int),
        "holiday": (frame["StateHoliday"].astype(str) != "0").to_numpy(dtype=int),
        "promo": frame["Promo"].to_numpy(dtype=int),
        "school_holiday": frame["SchoolHoliday"].to_numpy(dtype=int),
    }, index=pd.DatetimeIndex(frame["Date"]))


def rossmann(limit: int | None = ROSSMANN_STORES, back: int = 0, first_store: int = 1) -> list[DataSet]:
    """Rossmann: the first `limit` stores from `first_store` on with all 942 days, last 48 days held out, with and without the calendar.

    A `first_store` past the bench's own (120 and up: the first 100 complete stores are
    numbered 1 to 119) scores stores the default run does not hold.
    """
    if not ROSSMANN_FILE.exists():
        return []
    raw = pd.read_csv(ROSSMANN_FILE, parse_dates=["Date"], dtype={"StateHoliday": str})
    days = raw["Date"].nunique()
    counts = raw.groupby("Store")["Date"].nunique()
    # 180 stores lack 2014-07-01..12-31; a gap is not demand, so only complete stores are used.
    complete = sorted(int(s) for s in counts[counts == days].index if int(s) >= first_store)
    stores = complete[:limit] if limit is not None else complete
    splits = []
    for store, group in raw[raw["Store"].isin(stores)].groupby("Store", sort=True):
        group = _earlier(group.sort_values("Date"), back)
        full = pd.Series(group["Sales"].to_numpy(dtype=float), index=pd.DatetimeIndex(group["Date"]), name="demand")
        full.index.freq = "D"
        train, actual = _split(f"store {store}", full, ROSSMANN_HORIZON)
        future = group.iloc[-ROSSMANN_HORIZON:]
        scored = (future["Open"].to_numpy() == 1) & (actual > 0)
        splits.append(SeriesSplit(f"store-{store}", train, actual, _rossmann_calendar(group), scored))
    start = f" from store {first_store}" if first_store > 1 else ""
    base = (f"Rossmann, the first {len(splits)} stores (by number){start} with all {days} days, "
            f"{_window_text(splits, ROSSMANN_HORIZON, back)}, RMSPE on open days with sales")
    return [
        DataSet("rossmann-calendar", "rmspe", ROSSMANN_HORIZON, splits,
                base + "; Open, Promo, StateHoliday, SchoolHoliday known for the future days", with_calendar=True,
                back=back),
        DataSet("rossmann-sales", "rmspe", ROSSMANN_HORIZON, splits, base + "; sales only", back=back),
    ]


def _m5_dates() -> pd.Series:
    calendar = pd.read_csv(M5_FOLDER / "calendar.csv", usecols=["date", "d"])
    return pd.Series(pd.to_datetime(calendar["date"]).to_numpy(), index=calendar["d"])


def _from_first_sale(values: pd.Series) -> pd.Series:
    # Days before an item's first sale are days it was not on sale (M5 scales RMSSE from there too).
    nonzero = np.flatnonzero(values.to_numpy() > 0)
    return values.iloc[nonzero[0]:] if len(nonzero) else values


def m5_items(limit: int | None = None, back: int = 0) -> list[DataSet]:
    """M5 item level: the 10 real item-store series, from each item's first sale, last 28 days held out."""
    path = M5_FOLDER / "sales_train_validation_10_series.csv"
    if not path.exists():
        return []
    wide = pd.read_csv(path)
    wide = wide.iloc[even_sample(list(range(len(wide))), limit)]
    dates = _m5_dates()
    day_columns = [c for c in wide.columns if c.startswith("d_")]
    index = pd.DatetimeIndex(dates.loc[day_columns].to_numpy(), freq="D")
    splits = []
    for _, row in wide.iterrows():
        key = f"{row['item_id']}_{row['store_id']}"
        full = _from_first_sale(_earlier(pd.Series(row[day_columns].to_numpy(dtype=float), index=index, name="demand"), back))
        train, actual = _split(key, full, M5_HORIZON)
        splits.append(SeriesSplit(key, train, actual))
    text = (f"M5 item level, {len(splits)} of 10 item-store series, from each first sale, last {M5_HORIZON} days "
            f"held out{_cutoff_text(back)}")
    return [DataSet("m5-items", "rmsse", M5_HORIZON, splits, text, back=back)]


def m5_level9(limit: int | None = None, back: int = 0) -> list[DataSet]:
    """M5 level 9: 70 store x department series, last 28 days held out."""
    path = M5_FOLDER / "m5_aggregated_levels_1to9_long.csv.gz"
    if not path.exists():
        return []
    text_columns = ("state_id", "store_id", "cat_id", "dept_id")
    long = pd.read_csv(path, parse_dates=["date"], dtype={column: str for column in text_columns})
    long = long[long["level"] == 9]
    keys = even_sample(sorted(long.groupby(["store_id", "dept_id"]).groups), limit)
    splits = []
    for (store, dept), group in long.groupby(["store_id", "dept_id"], sort=True):
        if (store, dept) not in keys:
            continue
        group = _earlier(group.sort_values("date"), back)
        full = pd.Series(group["sales"].to_numpy(dtype=float), index=pd.DatetimeIndex(group["date"]), name="demand")
        full.index.freq = "D"
        train, actual = _split(f"{store} {dept}", full, M5_HORIZON)
        splits.append(SeriesSplit(f"{store}_{dept}", train, actual))
    text = f"M5 level 9, {len(splits)} of 70 store x department series, last {M5_HORIZON} days held out{_cutoff_text(back)}"
    return [DataSet("m5-level9", "rmsse", M5_HORIZON, splits, text, back=back)]


def load(name: str, limit: int | None = None, back: int = 0, rossmann_from: int = 1) -> list[DataSet]:
    """Return the data sets of `name` (Rossmann gives two variants, from store `rossmann_from` on), cut `back` days earlier.

    Empty when its files are absent.
    """
    loaders = {"store-item": store_item, "rossmann": partial(rossmann, first_store=rossmann_from),
               "m5-items": m5_items, "m5-level9": m5_level9}
    if name not in loaders:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(loaders)}.")
    if name == "rossmann" and limit is None:
        limit = ROSSMANN_STORES
    if back < 0:
        raise ValueError(f"back must be 0 or more days, got {back}.")
    if rossmann_from < 1:
        raise ValueError(f"rossmann_from must be a store number, 1 or more, got {rossmann_from}.")
    return loaders[name](limit, back)


NAMES = ("store-item", "rossmann", "m5-items", "m5-level9")

