"""Products' sales tokens as read moments ago, so a burst of reads of one product asks the database once.

A token read within the last ``ttl_seconds`` is taken as the product's token now. A write
this process makes is seen at once (its owner calls :meth:`RecentTokens.clear` on commit);
one made elsewhere (another process, an import, the retailer's SQL) is seen within
``ttl_seconds``. Only a token found *equal* to the one a set recorded is taken from here:
a difference is read again from the database before it counts, so a set is never taken for
stale on an old token, only, within the window, for fresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from forecasting.data import sales_token


class RecentTokens:
    """Sales tokens read within the last `ttl_seconds`, by product id.

    Parameters
    ----------
    ttl_seconds : float
        How long a token read is taken as current; 0 or less reads the database every time.
    max_entries : int
        Products kept at most; all are forgotten when more are read within the window.
    clock : callable
        Seconds, monotonic (tests pass their own).
    """

    def __init__(self, ttl_seconds: float, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._tokens: dict[int, tuple[str | None, float]] = {}
        self._lock = threading.Lock()
        # Counts clear() calls: a read that began before one is not kept (it may predate the write).
        self._generation = 0

    def current(self, engine: Engine, *, product_id: int, recent: bool = True) -> str | None:
        """Return the product's sales token: as read within the window when `recent`, else from `engine`.

        Raises
        ------
        ProductNotFound
            When no such product exists (never kept: the next read asks again).
        """
        now, generation = self._clock(), self._generation
        if recent and self.ttl_seconds > 0:
            kept = self._tokens.get(product_id)
            if kept is not None and now - kept[1] < self.ttl_seconds:
                return kept[0]
        with engine.connect() as conn:
            token = sales_token.current(conn, product_id=product_id)
        if self.ttl_seconds > 0:
            with self._lock:
                if generation == self._generation:
                    if len(self._tokens) >= self.max_entries:
                        self._tokens.clear()
                    self._tokens[product_id] = (token, now)
        return token

    def clear(self) -> None:
        """Forget every token read (this process wrote to the database)."""
        with self._lock:
            self._generation += 1
            self._tokens.clear()
