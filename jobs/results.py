"""The results of ended forecast jobs, read a chunk at a time for exports.

A bulk forecast of 1,000 products holds 1,000 child jobs, each with its points as
JSON: an export reads them in pages of `chunk` children (keyset on product id), so
no more than one page is in memory and no connection stays open between pages.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.engine import Engine

from jobs.records import _job_id
from jobs.table import jobs


def forecast_results(engine: Engine, *, parent_id: str, chunk: int) -> Iterator[list[str]]:
    """Yield the results of a batch's succeeded forecast children, `chunk` at a time, by product id.

    Parameters
    ----------
    engine : Engine
        Database holding the jobs table.
    parent_id : str
        The batch job.
    chunk : int
        Children read per query (at least 1).

    Yields
    ------
    list of str
        The results of up to `chunk` children as stored: JSON objects (``product_id``,
        ``points``, ...), left for the caller to decode or pass on.
    """
    key, after = _job_id(parent_id), 0
    query = (select(jobs.c.product_id, jobs.c.result)
             .where(jobs.c.parent_id == key, jobs.c.kind == "forecast", jobs.c.status == "succeeded")
             .order_by(jobs.c.product_id).limit(max(1, chunk)))
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query.where(jobs.c.product_id > after)).all()
        if not rows:
            return
        yield [row.result for row in rows if row.result is not None]
        after = rows[-1].product_id
