"""What every model store backend offers (a local folder, S3), and the steps they share."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar

from forecasting.errors import ModelIntegrityError, UntrustedModelSet
from forecasting.store import model_info
from forecasting.store.atomic import file_table
from forecasting.store.model_info import FORMAT_VERSION, INFO_FILE
from forecasting.store.signature import Signer

T = TypeVar("T")


class ModelSetLike(Protocol):
    """What the store needs of a model set (forecasting.models.model_set.ModelSet has it)."""

    def save(self, directory: Path) -> None:
        """Write the set's files into an existing, empty `directory`."""

    def describe(self) -> dict[str, Any]:
        """Return JSON-able facts about the set (weights, metrics, ...)."""


class ModelSets(Protocol):
    """The contract of a model store: one signed, verified set per product, replaced atomically.

    ``forecasting.store.model_store.ModelStore`` (a folder) and
    ``forecasting.store.s3_store.S3ModelStore`` (an S3 bucket) implement it; the
    contract tests in ``tests/forecasting/store/test_contract.py`` run over both.
    """

    signer: Signer

    def save(self, product_id: int, model_set: ModelSetLike, info: dict[str, Any]) -> dict[str, Any]:
        """Store a new set for the product, replacing the current one atomically; return its info."""

    def read_info(self, product_id: int) -> dict[str, Any] | None:
        """Return the trusted model_info of the product's set, None when absent."""

    def inspect(self, product_id: int) -> tuple[dict[str, Any], str | None] | None:
        """Return the product's model_info and why it is untrusted (None: signed), None when absent."""

    def info_digest(self, product_id: int) -> str | None:
        """Return a digest naming the product's current set, None when absent."""

    def info_version(self, product_id: int) -> tuple[int, ...] | None:
        """Return a version cheaper than the digest that names the current model_info, None when it cannot."""

    def load(self, product_id: int, loader: Callable[[Path, dict[str, Any]], T]) -> tuple[T, dict[str, Any]]:
        """Verify the product's set and return ``(loader(folder, info), info)``."""

    def load_with_digest(
        self, product_id: int, loader: Callable[[Path, dict[str, Any]], T]
    ) -> tuple[T, dict[str, Any], str]:
        """Like ``load``, also returning the digest of the set loaded."""

    def resign(self, product_id: int, *, source: Signer | None = None) -> bool:
        """Sign the product's verified set with the store's first key; False when it already is."""

    def list_infos(self) -> list[dict[str, Any]]:
        """Summarise every stored set, in product id order."""

    def delete(self, product_id: int) -> bool:
        """Remove the product's set; False when there was none."""

    def writable(self) -> bool:
        """Return whether a set could be written now."""

    def free_bytes(self) -> int:
        """Return the free bytes of the local filesystem sets are written to or read through."""


def check_product_id(product_id: int) -> int:
    """Return `product_id`, or raise ValueError when it is not a positive integer.

    Parameters
    ----------
    product_id : int
        The id to check.

    Returns
    -------
    int
        The same id.
    """
    if isinstance(product_id, bool) or not isinstance(product_id, int) or product_id < 1:
        raise ValueError(f"Product id must be a positive integer, got {product_id!r}.")
    return product_id


def signed_info_text(
    product_id: int, model_set: ModelSetLike, info: dict[str, Any], folder: Path, signer: Signer
) -> str:
    """Return the signed model_info.json text of the set whose files `model_set` wrote into `folder`.

    Parameters
    ----------
    product_id : int
        The product.
    model_set : ModelSetLike
        Its ``describe()`` is merged into the info.
    info : dict
        JSON-able facts from the caller.
    folder : Path
        Holds the set's files (model_info.json, if there, is left out of the table).
    signer : Signer
        Signs the result.

    Returns
    -------
    str
        ``info``, ``describe()``, ``files`` (name -> sha256 and bytes), ``total_bytes``,
        ``format_version``, ``product_id``, a new ``set_id``, ``saved_at`` and ``signature``.

    Raises
    ------
    ModelIntegrityError
        When the set wrote no files.
    """
    files = file_table(folder, exclude={INFO_FILE})
    if not files:
        raise ModelIntegrityError(f"Saving product {product_id}: the model set wrote no files.")
    full = {
        **info, **model_set.describe(), "product_id": product_id, "format_version": FORMAT_VERSION,
        "set_id": uuid.uuid4().hex, "saved_at": datetime.now(timezone.utc).isoformat(),
        "files": files, "total_bytes": sum(f["bytes"] for f in files.values()),
    }
    # Signed as a reader will parse it back (numpy values already turned into JSON ones).
    return model_info.dumps(signer.sign(json.loads(model_info.dumps(full))))


def trust_problem(product_id: int, info: dict[str, Any], signer: Signer) -> str | None:
    """Return why `info` is not trusted as the set of `product_id` under `signer`, or None.

    Parameters
    ----------
    product_id : int
        The product whose set `info` claims to be.
    info : dict
        A parsed model_info.json.
    signer : Signer
        The keys to verify with.

    Returns
    -------
    str or None
        The signature's problem, or that it was signed for another product.
    """
    problem = signer.problem(info)
    if problem is None and info.get("product_id") != product_id:
        # A validly signed set of another product copied into this one's place.
        return f"it was signed for product {info.get('product_id')!r}"
    return problem


def summary(product_id: int, inspect: Callable[[], tuple[dict[str, Any], str | None] | None],
            sizes: dict[str, int]) -> dict[str, Any]:
    """Return the list entry of one stored set.

    Parameters
    ----------
    product_id : int
        The product.
    inspect : callable
        The store's ``inspect`` of the product, bound.
    sizes : dict
        File name -> bytes of what is stored for the set.

    Returns
    -------
    dict
        product_id, status ('ok', 'incomplete', 'corrupt' or 'untrusted'), trained_at,
        saved_at, fingerprint, sizes, total_bytes, and error when the status is not 'ok'.
    """
    out: dict[str, Any] = {"product_id": product_id, "status": "ok", "trained_at": None, "saved_at": None,
                           "fingerprint": None, "sizes": sizes, "total_bytes": sum(sizes.values())}
    try:
        inspected = inspect()
    except ModelIntegrityError as exc:
        return {**out, "status": "corrupt", "error": str(exc)}
    if inspected is None:
        return {**out, "status": "incomplete", "error": f"{INFO_FILE} is missing."}
    info, untrusted = inspected
    data = info.get("data") if isinstance(info.get("data"), dict) else {}
    out.update(trained_at=info.get("trained_at"), saved_at=info.get("saved_at"),
               fingerprint=data.get("fingerprint"))
    if untrusted is not None:
        return {**out, "status": "untrusted", "error": str(UntrustedModelSet(product_id, untrusted))}
    missing = sorted(set(info.get("files") or {}) - set(sizes))
    if missing:
        out.update(status="incomplete", error=f"Missing files: {', '.join(missing)}.")
    return out


def trusted_info(store: ModelSets, product_id: int) -> dict[str, Any] | None:
    """Return the product's model_info.json when its signature verifies, None when no set is stored.

    Parameters
    ----------
    store : ModelSets
        Either backend; its ``inspect`` reads the info and judges its signature.
    product_id : int
        The product.

    Raises
    ------
    UntrustedModelSet
        When the signature is missing or does not verify under the store's keys.
    """
    inspected = store.inspect(product_id)
    if inspected is None:
        return None
    info, problem = inspected
    if problem is not None:
        raise UntrustedModelSet(product_id, problem)
    return info
