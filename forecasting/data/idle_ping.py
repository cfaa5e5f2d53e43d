"""Check a pooled PostgreSQL connection before use only when it sat idle, not at every checkout.

``pool_pre_ping`` costs a round trip at each checkout, which on a read of one row doubles
what the database is asked. A connection that was in use moments ago is alive as far as
a ping could tell; one that sat idle may have been closed meanwhile (a server restart, an
idle timeout on the way), so only that one is pinged, and one found dead is replaced
before use. A connection that dies within the window fails its statement: SQLAlchemy then
sees a disconnect and replaces every connection of the pool, so one request meets it.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

_RETURNED = "returned_at"


def ping_after_idle(engine: Engine, seconds: float) -> None:
    """Ping each connection of `engine`'s pool at checkout when it was idle more than `seconds`.

    Parameters
    ----------
    engine : Engine
        Engine whose pool is watched.
    seconds : float
        Idle time after which a connection is pinged before use.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.pop(_RETURNED, None)
        if returned is None or time.monotonic() - returned <= seconds:
            return  # just connected, or in use moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                # The pool drops this connection and checks out another (a new one when needed).
                raise DisconnectionError(str(exc)) from exc
            raise
