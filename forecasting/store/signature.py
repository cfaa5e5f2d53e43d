"""HMAC-SHA256 signatures of model_info.json, under keys the service holds.

model_info.json lists every file of a set with its sha256, so a valid signature
over it vouches for every file. Whoever can write the model volume can rewrite
the files and their checksums, but not sign them without a key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

SIGNATURE_FIELD = "signature"
ALGORITHM = "HMAC-SHA256"


def canonical(info: dict[str, Any]) -> bytes:
    """Return the bytes a signature covers: `info` without its signature, as canonical JSON.

    Parameters
    ----------
    info : dict
        A model_info.json as parsed from JSON (so numbers and lists as JSON gives them back).

    Returns
    -------
    bytes
        ``json.dumps(info_without_signature, sort_keys=True, separators=(",", ":"))`` in UTF-8.
    """
    unsigned = {key: value for key, value in info.items() if key != SIGNATURE_FIELD}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("utf-8")


def key_id(key: bytes) -> str:
    """Return the public id of `key`: 16 hex digits of a hash that does not reveal the key.

    Parameters
    ----------
    key : bytes
        A signing key.

    Returns
    -------
    str
        The id recorded beside each signature, so a reader holding several keys
        (during a rotation) knows which one to check with.
    """
    return hashlib.sha256(b"model-signing-key-id\0" + key).hexdigest()[:16]


class Signer:
    """Sign with the first key; accept a signature by any of them.

    Parameters
    ----------
    keys : sequence of bytes or str
        The signing keys, newest first (str is encoded as UTF-8). Keeping an old
        key after the new one lets sets signed before a rotation load until they
        are retrained.

    Raises
    ------
    ValueError
        When no key is given, or a key is empty.
    """

    def __init__(self, keys: Sequence[bytes | str]) -> None:
        encoded = [key.encode("utf-8") if isinstance(key, str) else bytes(key) for key in keys]
        if not encoded or not all(encoded):
            raise ValueError("A Signer needs at least one non-empty key.")
        self._keys: dict[str, bytes] = {}
        for key in encoded:
            self._keys.setdefault(key_id(key), key)
        self.key_id = key_id(encoded[0])

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Return the ids of every accepted key."""
        return tuple(self._keys)

    def sign(self, info: dict[str, Any]) -> dict[str, Any]:
        """Return `info` with a ``signature`` field made with the first key.

        Parameters
        ----------
        info : dict
            A JSON-able model_info (any previous signature is replaced).

        Returns
        -------
        dict
            A copy of `info` plus ``{"signature": {"algorithm", "key_id", "value"}}``.
        """
        unsigned = {key: value for key, value in info.items() if key != SIGNATURE_FIELD}
        value = hmac.new(self._keys[self.key_id], canonical(unsigned), hashlib.sha256).hexdigest()
        return {**unsigned, SIGNATURE_FIELD: {"algorithm": ALGORITHM, "key_id": self.key_id, "value": value}}

    def problem(self, info: dict[str, Any]) -> str | None:
        """Return why the signature of `info` is not trusted, or None when it verifies.

        Parameters
        ----------
        info : dict
            A model_info.json as parsed from JSON.

        Returns
        -------
        str or None
            E.g. ``"it has no signature"``, ``"it is signed by a key this service does
            not hold (key id ...)"``, ``"its signature does not match its content"``.
        """
        signature = info.get(SIGNATURE_FIELD)
        if signature is None:
            return "it has no signature"
        if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
            return f"its signature is not an {ALGORITHM} signature"
        value, kid = signature.get("value"), signature.get("key_id")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            return f"it is signed by a key this service does not hold (key id {kid!r})"
        if not isinstance(value, str):
            return "its signature has no value"
        expected = hmac.new(key, canonical(info), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, value):
            return "its signature does not match its content"
        return None
