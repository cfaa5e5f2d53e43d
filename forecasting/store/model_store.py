"""Model sets on disk, one folder per product: atomic save, verified load, list, delete."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from forecasting.errors import ModelIntegrityError, ModelSetNotFound, UntrustedModelSet
from forecasting.store import model_info
from forecasting.store.atomic import exchange, fsync_dir
from forecasting.store.contract import (
    ModelSetLike,
    check_product_id,
    signed_info_text,
    summary,
    trust_problem,
    trusted_info,
)
from forecasting.store.model_info import INFO_FILE
from forecasting.store.signature import Signer

__all__ = ["INFO_FILE", "ModelSetLike", "ModelStore"]

T = TypeVar("T")

STAGING = ".staging"  # hidden: `rm -rf <root>/*` and listings leave it alone
STALE_SECONDS = 3600
RESTORE_AFTER_SECONDS = 60  # a set moved aside longer ago than this was left by a crash
LOAD_ATTEMPTS = 8
# A file changed no later than this before its stat is told apart by its stat alone (see info_version).
SETTLED_NS = 2_000_000_000


class ModelStore:
    """Model sets under ``<root>/<product_id>/``: the files plus ``model_info.json``.

    Parameters
    ----------
    root : Path
        E.g. ``./ml_models/forecasting``; created on the first save.
    signer : Signer
        Signs every model_info.json saved; a set it does not verify is untrusted.

    Notes
    -----
    A set is built in ``<root>/.staging/`` and swapped in with one atomic rename
    (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere rename-aside + rename-in),
    so a reader sees the old set or the new one, never a mix, and a crash leaves
    the previous set in place.

    model_info.json carries an HMAC-SHA256 signature over everything else in it,
    including every file's sha256 and the product id. Loading checks the
    signature first, then copies the listed files to a private temporary folder
    and checks each copy's sha256, and only then hands that folder to the loader:
    a file swapped on the volume after its check is never the one unpickled.
    """

    def __init__(self, root: Path, *, signer: Signer) -> None:
        self.root = Path(root)
        self.signer = signer

    def path(self, product_id: int) -> Path:
        """Return the folder of a product's model set."""
        return self.root / str(check_product_id(product_id))

    def save(self, product_id: int, model_set: ModelSetLike, info: dict[str, Any]) -> dict[str, Any]:
        """Write a new model set for the product and swap it in atomically.

        Parameters
        ----------
        product_id : int
            The product.
        model_set : ModelSetLike
            Writes its files with ``save(directory)``; ``describe()`` is merged into the info.
        info : dict
            JSON-able facts from the caller (trained_at, data, versions, ...).

        Returns
        -------
        dict
            The model_info.json written: ``info``, ``describe()``, ``files``
            (name -> sha256 and bytes), ``total_bytes``, ``format_version``,
            ``product_id``, ``set_id``, ``saved_at`` and ``signature``.
        """
        live = self.path(product_id)
        staging_root = self.root / STAGING
        staging_root.mkdir(parents=True, exist_ok=True)
        self._clean_staging()
        staging = staging_root / f"{product_id}.new.{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            model_set.save(staging)
            text = signed_info_text(product_id, model_set, info, staging, self.signer)
            with open(staging / INFO_FILE, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            fsync_dir(staging)
            self._swap_in(staging, live)
        finally:
            # After an exchange the old set sits in `staging`; after a failure, the partial new one.
            shutil.rmtree(staging, ignore_errors=True)
        return json.loads(text)

    def _swap_in(self, staging: Path, live: Path) -> None:
        for _ in range(10):
            try:
                if not live.exists():
                    os.rename(staging, live)
                elif not exchange(staging, live):
                    self._swap_aside(staging, live)
                break
            except FileNotFoundError:
                continue  # the live set was deleted between the check and the swap
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                # another writer put a set in place first: exchange with that one
        else:
            raise OSError(f"Could not move the new model set into {live}: it kept changing.")
        fsync_dir(self.root)

    @staticmethod
    def _swap_aside(staging: Path, live: Path) -> None:
        # No atomic exchange here: readers that find no set while the old one is
        # aside wait for it (see _swap_pending); a crash in between is undone by
        # _clean_staging, which puts the old set back.
        aside = staging.parent / f"{live.name}.old.{uuid.uuid4().hex}"
        os.rename(live, aside)
        try:
            os.rename(staging, live)
        except OSError:
            os.rename(aside, live)
            raise
        os.rename(aside, staging)  # save() removes it

    def read_info(self, product_id: int) -> dict[str, Any] | None:
        """Return the product's model_info.json, or None when no set is stored.

        Raises
        ------
        UntrustedModelSet
            When its signature is missing or does not verify under the store's keys.
        ModelIntegrityError
            When the file is not a JSON object.
        """
        return trusted_info(self, product_id)

    def inspect(self, product_id: int) -> tuple[dict[str, Any], str | None] | None:
        """Return the product's model_info.json and why it is untrusted (None: it is signed).

        For showing a set as it is; nothing read this way may decide what is loaded.

        Returns
        -------
        tuple of (dict, str or None), or None
            None when no set is stored.

        Raises
        ------
        ModelIntegrityError
            When the file is not a JSON object.
        """
        raw = self._raw_info(product_id)
        if raw is None:
            return None
        info = model_info.parse(product_id, raw)
        return info, self._trust_problem(product_id, info)

    def resign(self, product_id: int, *, source: Signer | None = None) -> bool:
        """Sign the product's set with the store's first key; False when it already is.

        For a set copied from an environment with other keys (pass them as `source`)
        or signed by an older key of a rotation. Only a set whose signature verifies
        under `source` or the store's own keys, and whose files all match their
        sha256, is signed again: a set nobody vouched for stays untrusted. Run it
        while the product is not being trained (a set swapped in meanwhile is left
        alone, and this raises).

        Parameters
        ----------
        product_id : int
            The product.
        source : Signer, optional
            The keys of the environment the set comes from.

        Returns
        -------
        bool
            True when model_info.json was signed again, False when the store's
            first key had signed it already.

        Raises
        ------
        ModelSetNotFound
            When no set is stored.
        UntrustedModelSet
            When neither `source` nor the store's keys verify its signature.
        ModelIntegrityError
            When a file does not match model_info.json, or the set changed meanwhile.
        """
        folder = self.path(product_id)
        raw = self._raw_info(product_id)
        if raw is None:
            raise ModelSetNotFound(product_id)
        info = model_info.parse(product_id, raw)
        problem = self._trust_problem(product_id, info)
        if problem is None and info["signature"]["key_id"] == self.signer.key_id:
            return False
        if problem is not None and source is not None:
            problem = self._trust_problem(product_id, info, source)
        if problem is not None:
            raise UntrustedModelSet(product_id, problem)
        files = model_info.verify(folder, info)
        if files is not None:
            raise ModelIntegrityError(f"Model set of product {product_id}: {files}; it was not signed again.")
        draft = folder / f".{INFO_FILE}.{uuid.uuid4().hex}"
        try:
            with open(draft, "w", encoding="utf-8") as handle:
                handle.write(model_info.dumps(self.signer.sign(info)))
                handle.flush()
                os.fsync(handle.fileno())
            if self._raw_info(product_id) != raw:
                raise ModelIntegrityError(f"Model set of product {product_id} changed while being signed again.")
            os.replace(draft, folder / INFO_FILE)
        finally:
            draft.unlink(missing_ok=True)
        fsync_dir(folder)
        return True

    def _trust_problem(self, product_id: int, info: dict[str, Any], signer: Signer | None = None) -> str | None:
        return trust_problem(product_id, info, signer or self.signer)

    def info_version(self, product_id: int) -> tuple[int, ...] | None:
        """Return the stat of the product's model_info.json when it names the file's bytes, else None.

        Every save and resign writes a new file and renames it into place (and a swap renames
        the whole folder): a new file is a new inode, created while the old one still exists.
        While a file exists its inode names it; an inode freed and reused, or a file written
        in place, gets a new ctime, which the kernel sets (no utime can). So (device, inode,
        size, mtime, ctime) names the file's bytes as long as both times are older than
        ``SETTLED_NS``: timestamps are coarse (a clock tick, or a second on some filesystems),
        and a change within the same tick as the stat would keep them. A network filesystem
        that answers stat from an attribute cache (NFS) would lag a new set by that cache's
        time: keep the store on a local folder or volume. None also when the file is absent;
        :meth:`info_digest` then says which.
        """
        try:
            found = os.stat(os.path.join(self.root, str(check_product_id(product_id)), INFO_FILE))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if time.time_ns() - max(found.st_mtime_ns, found.st_ctime_ns) < SETTLED_NS:
            return None
        return found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns

    def info_digest(self, product_id: int) -> str | None:
        """Return the sha256 of the product's model_info.json, or None when absent."""
        raw = self._raw_info(product_id)
        return None if raw is None else hashlib.sha256(raw).hexdigest()

    def load(self, product_id: int, loader: Callable[[Path, dict[str, Any]], T]) -> tuple[T, dict[str, Any]]:
        """Verify the product's set and return ``(loader(folder, info), info)``.

        model_info.json must carry a signature under one of the store's keys, and
        every file it lists must exist and match its sha256, before `loader` runs,
        so a tampered pickle is never unpickled. `folder` is a private copy of the
        verified files, removed when `loader` returns. A set swapped in while this
        runs is detected and the new one is loaded.

        Raises
        ------
        ModelSetNotFound
            When no set is stored.
        UntrustedModelSet
            When the signature is missing or does not verify (no file is read).
        ModelIntegrityError
            Naming the file that is missing or does not match.
        """
        loaded, info, _ = self.load_with_digest(product_id, loader)
        return loaded, info

    def load_with_digest(
        self, product_id: int, loader: Callable[[Path, dict[str, Any]], T]
    ) -> tuple[T, dict[str, Any], str]:
        """Like :meth:`load`, also returning the sha256 of the model_info.json loaded."""
        folder = self.path(product_id)
        for attempt in range(LOAD_ATTEMPTS):
            raw = self._raw_info(product_id)
            if raw is None:
                # Mid-way through a fallback swap the folder is briefly absent: wait for it.
                if attempt + 1 < LOAD_ATTEMPTS and (self._swap_pending(product_id) or folder.exists()):
                    time.sleep(0.02 * attempt)
                    continue
                raise ModelSetNotFound(product_id)
            info = model_info.parse(product_id, raw)
            untrusted = self._trust_problem(product_id, info)
            if untrusted is not None:
                if self._raw_info(product_id) == raw:
                    raise UntrustedModelSet(product_id, untrusted)
                continue  # a new set was swapped in meanwhile: read that one
            with tempfile.TemporaryDirectory(prefix=f"model-set-{product_id}-") as private:
                problem = model_info.verify(folder, info, copy_to=Path(private))
                if problem is None:
                    try:
                        loaded = loader(Path(private), info)
                    except Exception:
                        if self._raw_info(product_id) == raw:
                            raise  # a real failure of the loader, not a swap under it
                        continue
                    # Unchanged info after loading means no swap happened since it was read.
                    if self._raw_info(product_id) == raw:
                        return loaded, info, hashlib.sha256(raw).hexdigest()
                elif self._raw_info(product_id) == raw:
                    raise ModelIntegrityError(f"Model set of product {product_id}: {problem}; it was not loaded.")
            time.sleep(0.005 * attempt)  # a new set was swapped in meanwhile: read that one
        raise ModelIntegrityError(f"Model set of product {product_id} kept changing during {LOAD_ATTEMPTS} loads.")

    def list_infos(self) -> list[dict[str, Any]]:
        """Summarise every stored set (folders named by an integer), in product id order.

        Returns
        -------
        list of dict
            product_id, status ('ok', 'incomplete', 'corrupt' or 'untrusted'), trained_at,
            saved_at, fingerprint, sizes (file -> bytes on disk), total_bytes,
            and error when the status is not 'ok'.
        """
        if not self.root.is_dir():
            return []
        ids = sorted(int(e.name) for e in os.scandir(self.root) if e.is_dir() and _is_id(e.name))
        return [self._summary(pid) for pid in ids]

    def _summary(self, product_id: int) -> dict[str, Any]:
        folder = self.path(product_id)
        try:
            sizes = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}
        except FileNotFoundError:
            sizes = {}  # deleted while listing
        return summary(product_id, lambda: self.inspect(product_id), sizes)

    def delete(self, product_id: int) -> bool:
        """Remove the product's set atomically; return False when there was none."""
        live = self.path(product_id)
        if not live.exists():
            return False
        trash = self.root / STAGING / f"{product_id}.del.{uuid.uuid4().hex}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(live, trash)
        except FileNotFoundError:
            return False
        shutil.rmtree(trash)
        return True

    def total_bytes(self, product_id: int) -> int:
        """Return the bytes on disk of the product's set (0 when absent)."""
        folder = self.path(product_id)
        if not folder.is_dir():
            return 0
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    def writable(self) -> bool:
        """Return whether a file can be created (and fsynced) under the root."""
        try:
            probe_dir = self.root / STAGING
            probe_dir.mkdir(parents=True, exist_ok=True)
            probe = probe_dir / f"probe.{uuid.uuid4().hex}"
            with open(probe, "wb") as handle:
                handle.write(b"ok")
                os.fsync(handle.fileno())
            probe.unlink()
            return True
        except OSError:
            return False

    def free_bytes(self) -> int:
        """Return the free bytes of the filesystem holding the root."""
        path = self.root.resolve()
        while not path.exists():
            path = path.parent
        return shutil.disk_usage(path).free

    def _raw_info(self, product_id: int) -> bytes | None:
        try:
            return (self.path(product_id) / INFO_FILE).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _swap_pending(self, product_id: int) -> bool:
        staging = self.root / STAGING
        return staging.is_dir() and any(p.name.startswith(f"{product_id}.old.") for p in staging.iterdir())

    def _clean_staging(self) -> None:
        now = time.time()
        for entry in list(os.scandir(self.root / STAGING)):
            pid, _, kind = entry.name.partition(".")
            live = self.root / pid
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
                if kind.startswith("old.") and age > RESTORE_AFTER_SECONDS and _is_id(pid) and not live.exists():
                    os.rename(entry.path, live)  # a crash between the two renames of a fallback swap
                elif age > STALE_SECONDS and entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                elif age > STALE_SECONDS:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue  # another process cleaned it first


def _is_id(name: str) -> bool:
    return name.isdigit() and not name.startswith("0")
