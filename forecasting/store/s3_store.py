"""Model sets in an S3 bucket: immutable set prefixes, a pointer written last, verified local copies."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from forecasting.errors import ModelIntegrityError, ModelSetNotFound, UntrustedModelSet
from forecasting.store import model_info
from forecasting.store.contract import (
    ModelSetLike,
    check_product_id,
    signed_info_text,
    summary,
    trust_problem,
    trusted_info,
)
from forecasting.store.model_info import INFO_FILE
from forecasting.store.s3_objects import Bucket, StoreUnavailable
from forecasting.store.set_cache import SetCache
from forecasting.store.signature import Signer

__all__ = ["POINTER", "S3ModelStore", "StoreUnavailable"]

T = TypeVar("T")

POINTER = "current.json"
LOAD_ATTEMPTS = 8


class S3ModelStore:
    """Model sets under ``s3://<bucket>/<prefix>/<product_id>/``.

    Parameters
    ----------
    client : botocore S3 client
        E.g. ``boto3.client("s3", endpoint_url=...)``; any S3-compatible store.
    bucket : str
        An existing bucket.
    prefix : str
        Key prefix of every set ('' for the bucket's top).
    signer : Signer
        Signs every model_info.json saved; a set it does not verify is untrusted.
    cache_dir : Path
        Folder of this machine's verified copies of downloaded sets.
    cache_sets : int
        Sets kept in `cache_dir` at most.
    grace_seconds : float
        A replaced set is removed once it is older than this, so a reader that
        resolved the pointer just before the swap still finds its files.

    Notes
    -----
    A set's objects go under ``<product_id>/<set_id>/`` and are never changed;
    ``<product_id>/current.json`` names the current set and is written last, in
    one PUT, so a reader resolves either the old set or the new one, complete.
    Loading downloads the set into a private folder, checks its signature and
    every sha256 there (the same checks as the folder store), keeps that copy
    in a bounded cache keyed by set id, and hands the loader a verified copy.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "", *, signer: Signer, cache_dir: Path,
                 cache_sets: int = 32, grace_seconds: float = 900) -> None:
        self.objects = Bucket(client, bucket, prefix)
        self.signer = signer
        self.cache = SetCache(Path(cache_dir), max_sets=cache_sets)
        self.grace_seconds = grace_seconds

    @property
    def root(self) -> str:
        """Return the store's URL, ``s3://bucket/prefix``."""
        return self.objects.url

    def check(self) -> None:
        """Raise StoreUnavailable unless the bucket exists and answers."""
        self.objects.check()

    def _key(self, *parts: object) -> str:
        return self.objects.key(*parts)

    def save(self, product_id: int, model_set: ModelSetLike, info: dict[str, Any]) -> dict[str, Any]:
        """Upload a new set for the product, then point ``current.json`` at it.

        Returns the model_info.json written, as :meth:`ModelStore.save` does.
        """
        check_product_id(product_id)
        with tempfile.TemporaryDirectory(prefix=f"model-set-{product_id}-") as staging:
            model_set.save(Path(staging))
            text = signed_info_text(product_id, model_set, info, Path(staging), self.signer)
            saved = json.loads(text)
            for name in saved["files"]:
                self.objects.upload(Path(staging) / name, self._key(product_id, saved["set_id"], name))
        self.objects.put(self._key(product_id, saved["set_id"], INFO_FILE), text.encode("utf-8"))
        self._point(product_id, saved["set_id"], text.encode("utf-8"))
        self._prune(product_id)
        return saved

    def _point(self, product_id: int, set_id: str, raw_info: bytes) -> None:
        pointer = {"set_id": set_id, "info_sha256": hashlib.sha256(raw_info).hexdigest(),
                   "written_at": datetime.now(timezone.utc).isoformat()}
        self.objects.put(self._key(product_id, POINTER), json.dumps(pointer).encode("utf-8"))

    def _pointer(self, product_id: int) -> dict[str, Any] | None:
        raw = self.objects.get(self._key(check_product_id(product_id), POINTER))
        if raw is None:
            return None
        try:
            pointer = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelIntegrityError(f"{POINTER} of product {product_id} is not valid JSON: {exc}.") from exc
        if not isinstance(pointer, dict) or not isinstance(pointer.get("set_id"), str):
            raise ModelIntegrityError(f"{POINTER} of product {product_id} names no set.")
        return pointer

    def _raw_info(self, product_id: int) -> tuple[str, bytes] | None:
        for _ in range(LOAD_ATTEMPTS):
            pointer = self._pointer(product_id)
            if pointer is None:
                return None
            raw = self.objects.get(self._key(product_id, pointer["set_id"], INFO_FILE))
            if raw is not None:
                return pointer["set_id"], raw
            if self._pointer(product_id) == pointer:
                raise ModelIntegrityError(f"Model set of product {product_id}: {INFO_FILE} of set "
                                          f"{pointer['set_id']} is missing.")
        raise ModelIntegrityError(f"Model set of product {product_id} kept changing during {LOAD_ATTEMPTS} reads.")

    def read_info(self, product_id: int) -> dict[str, Any] | None:
        """Return the product's trusted model_info.json, None when absent (see ModelStore.read_info)."""
        return trusted_info(self, product_id)

    def inspect(self, product_id: int) -> tuple[dict[str, Any], str | None] | None:
        """Return the product's model_info.json and why it is untrusted (see ModelStore.inspect)."""
        found = self._raw_info(product_id)
        if found is None:
            return None
        info = model_info.parse(product_id, found[1])
        return info, trust_problem(product_id, info, self.signer)

    def info_version(self, product_id: int) -> tuple[int, ...] | None:
        """Return None: no cheaper version than :meth:`info_digest` (the pointer, one GET) names the set."""
        return None

    def info_digest(self, product_id: int) -> str | None:
        """Return the sha256 of the current set's model_info.json (from the pointer), None when absent."""
        pointer = self._pointer(product_id)
        return None if pointer is None else str(pointer.get("info_sha256"))

    def load(self, product_id: int, loader: Callable[[Path, dict[str, Any]], T]) -> tuple[T, dict[str, Any]]:
        """Verify the product's set and return ``(loader(folder, info), info)`` (see ModelStore.load)."""
        loaded, info, _ = self.load_with_digest(product_id, loader)
        return loaded, info

    def load_with_digest(
        self, product_id: int, loader: Callable[[Path, dict[str, Any]], T]
    ) -> tuple[T, dict[str, Any], str]:
        """Like :meth:`load`, also returning the sha256 of the model_info.json loaded."""
        for attempt in range(LOAD_ATTEMPTS):
            pointer = self._pointer(product_id)
            if pointer is None:
                raise ModelSetNotFound(product_id)
            set_id = pointer["set_id"]
            folder = self.cache.get(set_id) or self._download(product_id, set_id)
            if folder is None:
                time.sleep(0.02 * attempt)
                continue  # the set was replaced and removed while being fetched: read the new one
            raw = (folder / INFO_FILE).read_bytes()
            info = model_info.parse(product_id, raw)
            problem = trust_problem(product_id, info, self.signer)
            if problem is not None:
                raise UntrustedModelSet(product_id, problem)
            with tempfile.TemporaryDirectory(prefix=f"model-set-{product_id}-") as private:
                # Checked again on a private copy: the cache folder is shared by this machine's processes.
                problem = model_info.verify(folder, info, copy_to=Path(private))
                if problem is None:
                    return loader(Path(private), info), info, hashlib.sha256(raw).hexdigest()
            self.cache.forget(set_id)
            if not folder.exists():
                continue  # evicted by another process meanwhile, or a bad copy just forgotten: fetch again
            raise ModelIntegrityError(f"Model set of product {product_id}: {problem}; it was not loaded.")
        raise ModelIntegrityError(f"Model set of product {product_id} kept changing during {LOAD_ATTEMPTS} loads.")

    def _download(self, product_id: int, set_id: str) -> Path | None:
        """Fetch and verify a set into the cache; None when it is gone (replaced and removed)."""
        raw = self.objects.get(self._key(product_id, set_id, INFO_FILE))
        if raw is None:
            return None
        info = model_info.parse(product_id, raw)
        problem = trust_problem(product_id, info, self.signer)
        if problem is not None:
            raise UntrustedModelSet(product_id, problem)  # no file of it is fetched
        with self.cache.staging(set_id) as staging:
            if not self._fetch(product_id, set_id, info, staging):
                return None
            problem = model_info.verify(staging, info)
            if problem is not None:
                raise ModelIntegrityError(f"Model set of product {product_id}: {problem}; it was not loaded.")
            (staging / INFO_FILE).write_bytes(raw)  # last: only a complete, verified copy is cached
        return self.cache.get(set_id)

    def _fetch(self, product_id: int, set_id: str, info: dict[str, Any], folder: Path) -> bool:
        """Download the files `info` lists into `folder`; False when the set was removed meanwhile."""
        for name in info.get("files") or {}:
            parts = Path(name).parts
            if not name or Path(name).is_absolute() or ".." in parts:
                raise ModelIntegrityError(f"{INFO_FILE} of product {product_id} has an invalid entry {name!r}")
            if not self.objects.download(self._key(product_id, set_id, name), folder / name):
                if self.objects.get(self._key(product_id, set_id, INFO_FILE)) is None:
                    return False
                raise ModelIntegrityError(f"Model set of product {product_id}: file {name} listed in "
                                          f"{INFO_FILE} is missing.")
        return True

    def resign(self, product_id: int, *, source: Signer | None = None) -> bool:
        """Sign the product's verified set with the store's first key, as a new set (see ModelStore.resign)."""
        found = self._raw_info(product_id)
        if found is None:
            raise ModelSetNotFound(product_id)
        set_id, raw = found
        info = model_info.parse(product_id, raw)
        problem = trust_problem(product_id, info, self.signer)
        if problem is None and info["signature"]["key_id"] == self.signer.key_id:
            return False
        if problem is not None and source is not None:
            problem = trust_problem(product_id, info, source)
        if problem is not None:
            raise UntrustedModelSet(product_id, problem)
        with tempfile.TemporaryDirectory(prefix=f"model-set-{product_id}-") as folder:
            fetched = self._fetch(product_id, set_id, info, Path(folder))
            bad = model_info.verify(Path(folder), info) if fetched else "it was removed meanwhile"
        if bad is not None:
            raise ModelIntegrityError(f"Model set of product {product_id}: {bad}; it was not signed again.")
        # Sets are immutable: the signed-again set is a copy under a new set id.
        new_id = uuid.uuid4().hex
        for name in info["files"]:
            self.objects.copy(self._key(product_id, set_id, name), self._key(product_id, new_id, name))
        text = model_info.dumps(self.signer.sign({**info, "set_id": new_id})).encode("utf-8")
        self.objects.put(self._key(product_id, new_id, INFO_FILE), text)
        current = self._pointer(product_id)
        if current is None or current["set_id"] != set_id:
            raise ModelIntegrityError(f"Model set of product {product_id} changed while being signed again.")
        self._point(product_id, new_id, text)
        self._prune(product_id)
        return True

    def _prune(self, product_id: int) -> None:
        """Remove sets other than the current one once their newest object is older than the grace period."""
        current = self._pointer(product_id)
        base = self._key(product_id, "")
        newest: dict[str, float] = {}
        for obj in self.objects.objects(base):
            set_id, _, rest = obj["Key"][len(base):].partition("/")
            if rest:
                newest[set_id] = max(newest.get(set_id, 0.0), obj["LastModified"].timestamp())
        for set_id, at in newest.items():
            if (current is None or set_id != current["set_id"]) and time.time() - at > self.grace_seconds:
                self.objects.delete_prefix(self._key(product_id, set_id, ""))

    def list_infos(self) -> list[dict[str, Any]]:
        """Summarise every stored set (see ModelStore.list_infos); sizes are the current set's objects.

        A product is listed when it has a pointer: objects without one are a save still
        uploading (or one that died), or what a delete leaves of empty prefixes.
        """
        names = self.objects.children(self._key(""))
        summaries = (self._summary(pid) for pid in sorted(int(name) for name in names if _is_id(name)))
        return [entry for entry in summaries if entry is not None]

    def _summary(self, product_id: int) -> dict[str, Any] | None:
        try:
            pointer = self._pointer(product_id)
        except ModelIntegrityError:
            pointer = {}  # inspect() below raises it again, and the set is listed as corrupt
        if pointer is None:
            return None
        base = self._key(product_id, pointer["set_id"], "") if pointer else None
        sizes = {obj["Key"][len(base):]: obj["Size"] for obj in self.objects.objects(base)} if base else {}
        return summary(product_id, lambda: self.inspect(product_id), sizes)

    def delete(self, product_id: int) -> bool:
        """Remove the product's set: the pointer first (readers then find none), then every object."""
        existed = self._pointer(product_id) is not None
        self.objects.delete(self._key(product_id, POINTER))
        removed = self.objects.delete_prefix(self._key(product_id, ""))
        return existed or removed > 0

    def writable(self) -> bool:
        """Return whether an object can be written (and removed) under the prefix."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._key(".probe", uuid.uuid4().hex)
        try:
            self.objects.put(key, b"ok")
            self.objects.delete(key)
            return True
        except (BotoCoreError, ClientError):
            return False

    def free_bytes(self) -> int:
        """Return the free bytes of the filesystem of the local cache (sets are downloaded there)."""
        return self.cache.free_bytes()


def _is_id(name: str) -> bool:
    return name.isdigit() and not name.startswith("0")
