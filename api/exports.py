"""Forecast results rendered for download: CSV, JSON Lines or one JSON document, a chunk at a time.

Every format is written from an iterator of chunks of job results (each result a
product's forecast as a forecast job records it, ``product_id`` and ``points``, as the
JSON text stored in the job), and yields text a chunk at a time, so an export of
1,000 products x 90 days is never one string in memory. CSV and JSON Lines have one
row per product and day; JSON passes the stored texts through without decoding them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

CSV = "text/csv"
NDJSON = "application/x-ndjson"
JSON = "application/json"
#: The media types a result is available as; the first one is given to a client that takes any.
MEDIA_TYPES = (JSON, CSV, NDJSON)
#: File name endings of each media type, for Content-Disposition.
SUFFIXES = {JSON: "json", CSV: "csv", NDJSON: "jsonl"}

#: Columns every CSV export has, in this order, whether or not a product has a value there:
#: the ensemble, its 80 % and 95 % bounds, then each member (forecasting.models.model_set's
#: ALL_MEMBERS, named here so the API does not import the models; a test keeps them equal).
BOUNDS = ("lower", "upper", "lower_95", "upper_95")
MEMBERS = ("prophet", "lstm", "random_forest", "tsb")
KEYS = ("product_id", "date", "forecast")

Chunks = Iterable[list[str]]
# One encoder for every row: json.dumps with separators builds a new one per call (a fifth of
# the time of a JSON Lines export of 90,000 rows, measured).
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def columns(sample: list[dict[str, Any]]) -> list[str]:
    """Return the CSV header: the fixed columns, then any other value the sample's points hold.

    Bounds of other levels (``lower_50``) go after the fixed bounds, other values after the members.
    """
    bounds, others = list(BOUNDS), list(MEMBERS)
    for result in sample:
        for point in result.get("points") or ():
            for name in point:
                if name in KEYS or name in bounds or name in others:
                    continue
                (bounds if name.startswith(("lower", "upper")) else others).append(name)
    return [*KEYS, *bounds, *others]


def _decoded(chunk: list[str]) -> list[dict[str, Any]]:
    return [json.loads(text) for text in chunk]


def as_csv(chunks: Chunks) -> Iterator[str]:
    """Yield a CSV export: the header with the first chunk, then the rows of each chunk.

    A value a product lacks (a member it was trained without) is an empty cell; the header
    is made from the first chunk, so a column only a later product holds is left out.
    """
    buffer = io.StringIO()
    # csv.writer over lists, not DictWriter: a third less time for 90,000 rows (measured).
    writer = csv.writer(buffer, lineterminator="\n")
    values: list[str] | None = None
    for chunk in chunks:
        results = _decoded(chunk)
        if values is None:
            header = columns(results)
            writer.writerow(header)
            values = header[1:]
        for result in results:
            product_id = result["product_id"]
            writer.writerows([product_id, *[point.get(name, "") for name in values]]
                             for point in result.get("points") or ())
        yield _drain(buffer)
    if values is None:
        # Nothing to export (every forecast failed): the header alone, so a reader still sees the columns.
        writer.writerow(columns([]))
        yield _drain(buffer)


def as_ndjson(chunks: Chunks) -> Iterator[str]:
    """Yield a JSON Lines export: one object per product and day, a chunk at a time."""
    encode = _ENCODER.encode
    for chunk in chunks:
        yield "".join(encode({"product_id": result["product_id"], **point}) + "\n"
                      for result in _decoded(chunk) for point in result.get("points") or ())


def as_json(head: dict[str, Any], chunks: Chunks) -> Iterator[str]:
    """Yield one JSON object: `head`'s fields, then ``forecasts``, the array of every result as stored."""
    opening = _ENCODER.encode(head)[:-1]
    yield (opening + "," if head else "{") + '"forecasts":['
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        text = ",".join(chunk)
        yield text if first else "," + text
        first = False
    yield "]}"


def render(media_type: str, head: dict[str, Any], chunks: Chunks) -> Iterator[str]:
    """Yield the export of `chunks` as `media_type` (one of MEDIA_TYPES)."""
    if media_type == CSV:
        return as_csv(chunks)
    if media_type == NDJSON:
        return as_ndjson(chunks)
    return as_json(head, chunks)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
