"""What a warm worker keeps in memory: loaded model sets, and the forecasts it made from them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from forecasting.errors import ModelSetNotFound
from forecasting.store.contract import ModelSets

T = TypeVar("T")
_ABSENT = object()


class Lru:
    """Entries under a lock, the least recently used dropped beyond ``max_entries`` (0 or less keeps none)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = _ABSENT) -> Any:
        """Return the value under `key` (now the most recent), or `default` (``_ABSENT`` unless given)."""
        with self._lock:
            if key not in self._entries:
                return default
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: Hashable, value: Any, replaces: Callable[[Hashable], bool] | None = None) -> None:
        """Keep `value` under `key`, first dropping the keys `replaces` accepts."""
        with self._lock:
            if replaces is not None:
                self._drop(replaces)
            if self.max_entries > 0:
                self._entries[key] = value
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)

    def drop(self, matches: Callable[[Hashable], bool]) -> None:
        """Forget the keys `matches` accepts."""
        with self._lock:
            self._drop(matches)

    def _drop(self, matches: Callable[[Hashable], bool]) -> None:
        for key in [k for k in self._entries if matches(k)]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


class LoadedCache:
    """Loaded model sets of a warm worker, LRU, keyed by (product id, sha256 of model_info.json).

    A new set for a product changes its model_info.json, so the next ``load``
    misses and loads (and verifies) the new files; the stale entry is dropped.

    Parameters
    ----------
    max_entries : int
        Sets kept at most; 0 or less keeps none.
    """

    def __init__(self, max_entries: int = 8) -> None:
        self._sets = Lru(max_entries)  # (product id, info digest) -> (model set, info)
        self.hits = 0
        self.misses = 0

    def load(
        self, store: ModelSets, product_id: int, loader: Callable[[Path, dict[str, Any]], T]
    ) -> tuple[T, dict[str, Any]]:
        """Return ``(model_set, info)`` from the cache, or through ``store.load``."""
        cached = self._sets.get((product_id, store.info_digest(product_id)))
        if cached is not _ABSENT:
            self.hits += 1
            return cached
        try:
            loaded, info, digest = store.load_with_digest(product_id, loader)
        except ModelSetNotFound:
            self.discard(product_id)
            raise
        self.misses += 1
        self._sets.put((product_id, digest), (loaded, info), replaces=lambda key: key[0] == product_id)
        return loaded, info

    def discard(self, product_id: int) -> None:
        """Forget every cached set of the product."""
        self._sets.drop(lambda key: key[0] == product_id)

    def __len__(self) -> int:
        return len(self._sets)


class ForecastMemo:
    """Forecasts a worker already made or read, LRU, by an exact key of what determines them.

    The caller's key names the model set (its ``set_id``, new with every save) and the
    data (its fingerprint), so an entry is never stale: a new set or new sales make
    another key, and old keys age out. Each key keeps its longest forecast, and a
    shorter one is served as its first days: the members forecast day by day, each
    day from the ones before it, so a forecast of N days is the start of any longer one.

    Parameters
    ----------
    max_entries : int
        Forecasts kept at most; 0 or less keeps none.
    """

    def __init__(self, max_entries: int = 64) -> None:
        self._forecasts = Lru(max_entries)
        self.hits = 0

    def get(self, key: Hashable, days: int) -> list[Any] | None:
        """Return the first `days` days of the forecast kept under `key`, or None when it is shorter."""
        points = self._forecasts.get(key)
        if points is _ABSENT or len(points) < days:
            return None
        self.hits += 1
        return points[:days]

    def put(self, key: Hashable, points: list[Any]) -> None:
        """Keep `points` under `key` unless a longer forecast is kept there already."""
        kept = self._forecasts.get(key)
        if kept is _ABSENT or len(kept) < len(points):
            self._forecasts.put(key, points)

    def __contains__(self, key: Hashable) -> bool:
        return self._forecasts.get(key) is not _ABSENT

    def __len__(self) -> int:
        return len(self._forecasts)


class TrustedInfos:
    """Verified model_info.json of each product, LRU, keyed by (product id, sha256 of the file).

    Reading a set's info means parsing it and checking its signature (a canonical JSON dump
    and an HMAC); the sha256 of the same bytes is a fraction of that. Bytes verified once
    verify again, and a new set (or any change to the file) has another digest, so an entry
    is never stale. Where the store names the file's bytes by a version cheaper still (its
    stat: ``info_version``), a file already verified under that version is not read at all.
    The dicts returned are shared: callers must not change them.

    Parameters
    ----------
    max_entries : int
        Infos kept at most; 0 or less keeps none.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self._infos = Lru(max_entries)
        self._versions = Lru(max_entries)  # (product id, info_version) -> info

    def read(self, store: ModelSets, product_id: int) -> dict[str, Any] | None:
        """Return the product's trusted model_info.json as ``store.read_info`` does (same errors)."""
        version = store.info_version(product_id)
        if version is not None:
            cached = self._versions.get((product_id, version))
            if cached is not _ABSENT:
                return cached
        digest = store.info_digest(product_id)
        if digest is None:
            return None
        cached = self._infos.get((product_id, digest))
        if cached is _ABSENT:
            cached = store.read_info(product_id)
            if cached is None:
                return None
            # Keyed by the digest read first: should the file have changed in between, the new
            # info sits under the old digest, which no later read of the product finds again.
            self._infos.put((product_id, digest), cached, replaces=lambda key: key[0] == product_id)
        if version is not None:
            # Likewise under the version read first: a file replaced since has another version.
            self._versions.put((product_id, version), cached, replaces=lambda key: key[0] == product_id)
        return cached
