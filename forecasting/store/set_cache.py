"""Verified local copies of downloaded model sets, one folder per set id, the least recently used dropped."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from forecasting.store.model_info import INFO_FILE

STAGING = ".staging"


class SetCache:
    """Folders ``<root>/<set_id>/`` holding a complete set, model_info.json written last.

    Several processes of one machine may share `root`: a set is fetched into a
    private staging folder and renamed into place in one step, so a folder under
    its set id is always complete. A set id names immutable content, so a cached
    copy never goes stale; it only ages out.

    Parameters
    ----------
    root : Path
        The cache folder; created on first use.
    max_sets : int
        Sets kept at most (at least 1: the one just fetched is always kept).
    """

    def __init__(self, root: Path, *, max_sets: int = 32) -> None:
        self.root = Path(root)
        self.max_sets = max(1, max_sets)

    def get(self, set_id: str) -> Path | None:
        """Return the folder of a cached set (marking it recently used), or None."""
        folder = self.root / set_id
        try:
            os.utime(folder)
        except FileNotFoundError:
            return None
        return folder if (folder / INFO_FILE).is_file() else None

    @contextmanager
    def staging(self, set_id: str) -> Iterator[Path]:
        """Yield an empty private folder; once it holds model_info.json, it becomes the set's cached copy."""
        staging = self.root / STAGING / f"{set_id}.{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        try:
            yield staging
            if (staging / INFO_FILE).is_file():
                try:
                    os.rename(staging, self.root / set_id)
                except OSError:
                    pass  # another process of this machine cached the same set first; its copy is equal
                self._evict(keep=set_id)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def forget(self, set_id: str) -> None:
        """Remove a cached set (e.g. one whose copy no longer verifies)."""
        self._remove(self.root / set_id)

    def _remove(self, folder: Path) -> None:
        trash = self.root / STAGING / f"del.{uuid.uuid4().hex}"
        try:
            os.rename(folder, trash)  # gone from readers in one step, then removed
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def _evict(self, *, keep: str) -> None:
        entries = []
        for entry in os.scandir(self.root):
            if entry.name.startswith(".") or entry.name == keep:
                continue
            try:
                entries.append((entry.stat().st_mtime, entry.name))
            except FileNotFoundError:
                continue  # removed by another process meanwhile
        for _, name in sorted(entries)[: max(0, len(entries) + 1 - self.max_sets)]:
            self._remove(self.root / name)

    def free_bytes(self) -> int:
        """Return the free bytes of the filesystem holding the cache."""
        path = self.root.resolve()
        while not path.exists():
            path = path.parent
        return shutil.disk_usage(path).free

    def __len__(self) -> int:
        if not self.root.is_dir():
            return 0
        return sum(1 for entry in os.scandir(self.root) if not entry.name.startswith("."))
