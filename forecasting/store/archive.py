"""A model set as one .tar.gz: exported verified, imported only once verified again, then re-signed."""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from forecasting.errors import ModelIntegrityError, UntrustedModelSet
from forecasting.store import model_info
from forecasting.store.contract import ModelSets, trust_problem
from forecasting.store.model_info import INFO_FILE
from forecasting.store.signature import Signer

#: Fields a save writes afresh; an imported set's old ones are kept under ``imported_from``.
_REWRITTEN = ("signature", "set_id", "saved_at", "files", "total_bytes", "format_version")


class _Folder:
    """An extracted set, saved as it is (describe() adds nothing: the info already says it all)."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        self.folder, self.names = folder, names

    def save(self, directory: Path) -> None:
        for name in self.names:
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.folder / name, directory / name)

    def describe(self) -> dict[str, Any]:
        return {}


def export_set(store: ModelSets, product_id: int, target: Path) -> dict[str, Any]:
    """Write the product's set, verified as a load verifies it, to the .tar.gz `target`.

    Parameters
    ----------
    store : ModelSets
        Any backend.
    product_id : int
        The product.
    target : Path
        The archive written: the set's files plus its signed model_info.json.

    Returns
    -------
    dict
        The set's model_info.json.
    """
    def write(folder: Path, info: dict[str, Any]) -> None:
        (folder / INFO_FILE).write_text(model_info.dumps(info), encoding="utf-8")
        draft = target.with_name(f".{target.name}.partial")
        with tarfile.open(draft, "w:gz") as archive:
            for name in [*info["files"], INFO_FILE]:
                archive.add(folder / name, arcname=name, recursive=False)
        draft.replace(target)  # a half-written archive never carries the final name

    _, info = store.load(product_id, write)
    return info


def import_set(store: ModelSets, source_file: Path, *, source: Signer | None = None) -> dict[str, Any]:
    """Store the set of an archive made by :func:`export_set`, signed with the store's first key.

    The archive's model_info.json must verify under the store's keys or `source`
    (the keys of the environment it comes from), and every file its sha256, before
    it is stored: an archive nobody vouched for is refused.

    Parameters
    ----------
    store : ModelSets
        Any backend; the set replaces the product's current one.
    source_file : Path
        The .tar.gz.
    source : Signer, optional
        Keys of the environment the archive comes from.

    Returns
    -------
    dict
        The model_info.json stored (a new set id; ``imported_from`` names the old one).

    Raises
    ------
    ModelIntegrityError
        When the archive is malformed or a file does not match its sha256.
    UntrustedModelSet
        When no key at hand verifies its signature.
    """
    with tempfile.TemporaryDirectory(prefix="model-set-import-") as private:
        folder = Path(private)
        try:
            with tarfile.open(source_file, "r:gz") as archive:
                # The "data" filter refuses links, devices and names outside the folder.
                archive.extractall(folder, filter="data")
            raw = (folder / INFO_FILE).read_bytes()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ModelIntegrityError(f"{source_file.name} is not a model set archive: {exc}") from exc
        try:
            product_id = json.loads(raw).get("product_id")
        except (ValueError, AttributeError) as exc:
            raise ModelIntegrityError(f"{INFO_FILE} in {source_file.name} is not a JSON object.") from exc
        if isinstance(product_id, bool) or not isinstance(product_id, int) or product_id < 1:
            raise ModelIntegrityError(f"{INFO_FILE} in {source_file.name} names no product.")
        info = model_info.parse(product_id, raw)
        problem = trust_problem(product_id, info, store.signer)
        if problem is not None and source is not None:
            problem = trust_problem(product_id, info, source)
        if problem is not None:
            raise UntrustedModelSet(product_id, problem)
        bad = model_info.verify(folder, info)
        if bad is not None:
            raise ModelIntegrityError(f"Model set of product {product_id} in {source_file.name}: {bad}; "
                                      "it was not imported.")
        kept = {key: value for key, value in info.items() if key not in _REWRITTEN}
        kept["imported_from"] = {"set_id": info.get("set_id"), "saved_at": info.get("saved_at")}
        return store.save(product_id, _Folder(folder, list(info["files"])), kept)
