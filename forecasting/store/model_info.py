"""``model_info.json``: the description of a stored model set, and the checks of its files.

The file is written last into a set's folder and lists every other file with its
size and sha256; a reader trusts a set only when the file's signature verifies (see
:mod:`forecasting.store.signature`) and every listed file matches.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from forecasting.errors import ModelIntegrityError
from forecasting.store.atomic import sha256_file

INFO_FILE = "model_info.json"
FORMAT_VERSION = 1


def dumps(info: dict[str, Any]) -> str:
    """Return `info` as the indented JSON text of a model_info.json (numpy values as lists/numbers)."""
    return json.dumps(info, indent=2, default=_json_default)


def parse(product_id: int, raw: bytes) -> dict[str, Any]:
    """Return the model_info.json bytes `raw` of `product_id` as a dict, or raise ModelIntegrityError."""
    try:
        info = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(f"{INFO_FILE} of product {product_id} is not valid JSON: {exc}.") from exc
    if not isinstance(info, dict):
        raise ModelIntegrityError(f"{INFO_FILE} of product {product_id} is not a JSON object.")
    if info.get("format_version") != FORMAT_VERSION:
        raise ModelIntegrityError(
            f"{INFO_FILE} of product {product_id} has format_version {info.get('format_version')!r}; "
            f"this code reads {FORMAT_VERSION}."
        )
    return info


def verify(folder: Path, info: dict[str, Any], *, copy_to: Path | None = None) -> str | None:
    """Return what is wrong with the files of `folder` against `info`, or None when all match.

    With `copy_to`, each listed file is first copied there and the copy is checked:
    what was checked is then exactly what a loader of `copy_to` reads.
    """
    files = info.get("files")
    if not isinstance(files, dict) or not files:
        return f"{INFO_FILE} lists no files"
    for name, meta in files.items():
        parts = Path(name).parts
        if not name or Path(name).is_absolute() or ".." in parts or not isinstance(meta, dict):
            return f"{INFO_FILE} has an invalid entry {name!r}"
        path = folder / name
        if not path.is_file():
            return f"file {name} listed in {INFO_FILE} is missing"
        if copy_to is not None:
            target = copy_to / name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(path, target)
            except FileNotFoundError:
                return f"file {name} listed in {INFO_FILE} is missing"
            path = target
        size = path.stat().st_size
        if size != meta.get("bytes"):  # cheap first check before hashing megabytes
            return f"file {name} has {size} bytes, {INFO_FILE} says {meta.get('bytes')}"
        actual = sha256_file(path)
        if actual != meta.get("sha256"):
            return f"file {name} does not match its checksum (sha256 {actual}, expected {meta.get('sha256')})"
    return None


def _json_default(value: Any) -> Any:
    # describe() may hand back numpy scalars or arrays.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (Path, datetime)):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
