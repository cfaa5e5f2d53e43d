"""What a warm worker keeps in memory: loaded model sets, and the forecasts it made from them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from forecasting.errors import ModelSetNotFound
from forecasting.store import ModelStore

T = TypeVar("T")


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
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[int, str], tuple[Any, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def load(
        self, store: ModelStore, product_id: int, loader: Callable[[Path, dict[str, Any]], T]
    ) -> tuple[T, dict[str, Any]]:
        """Return ``(model_set, info)`` from the cache, or through ``store.load``."""
        key = (product_id, store.info_digest(product_id))
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
        try:
            loaded, info, digest = store.load_with_digest(product_id, loader)
        except ModelSetNotFound:
            self.discard(product_id)
            raise
        with self._lock:
            self.misses += 1
            for key in [k for k in self._entries if k[0] == product_id]:
                del self._entries[key]
            if self.max_entries > 0:
                self._entries[(product_id, digest)] = (loaded, info)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return loaded, info

    def discard(self, product_id: int) -> None:
        """Forget every cached set of the product."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == product_id]:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


class ForecastMemo:
    """Forecasts a worker already computed, LRU, by an exact key of what determines them.

    The caller's key names the model set (its ``set_id``, new with every save), the
    data (its fingerprint) and the horizon, so an entry is never stale: a new set or
    new sales make another key, and old keys age out.

    Parameters
    ----------
    max_entries : int
        Forecasts kept at most; 0 or less keeps none.
    """

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the value kept under `key`, or compute, keep and return it."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
        value = compute()
        with self._lock:
            if self.max_entries > 0:
                self._entries[key] = value
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
