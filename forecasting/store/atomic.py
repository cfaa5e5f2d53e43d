"""Filesystem steps of an atomic folder swap: file checksums, directory fsync, RENAME_EXCHANGE."""

from __future__ import annotations

import ctypes
import errno
import functools
import hashlib
import os
import sys
from collections.abc import Container
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB blocks.

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_table(folder: Path, *, exclude: Container[str] = ()) -> dict[str, dict[str, Any]]:
    """Fsync every file under `folder` and return its sha256 and size.

    Parameters
    ----------
    folder : Path
        The folder, searched recursively.
    exclude : container of str
        Relative POSIX names left out of the table (and not fsynced).

    Returns
    -------
    dict
        Relative POSIX name -> ``{"sha256": str, "bytes": int}``, in name order.
    """
    table = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name in exclude:
            continue
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
        table[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return table


def fsync_dir(path: Path) -> None:
    """Fsync a directory, so the renames and creations inside it survive a crash.

    Parameters
    ----------
    path : Path
        An existing directory.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # glibc older than 2.28, musl
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step; False when the OS or filesystem cannot.

    Parameters
    ----------
    a, b : Path
        Existing paths on the same filesystem.

    Returns
    -------
    bool
        True when swapped with ``renameat2(RENAME_EXCHANGE)``; False when that
        is unavailable (not Linux, old glibc, musl, or a filesystem without it).

    Raises
    ------
    OSError
        Any other failure of the exchange, e.g. a path that does not exist.
    """
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))
