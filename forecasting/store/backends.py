"""Open the model store a URL names: a local folder, or ``s3://bucket/prefix``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from forecasting.store.contract import ModelSets
from forecasting.store.model_store import ModelStore
from forecasting.store.s3_store import S3ModelStore
from forecasting.store.signature import Signer

SCHEMES = ("", "file", "s3")


@dataclass(frozen=True)
class S3Options:
    """How to reach an S3-compatible store, and how this machine keeps what it reads."""

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str | None = None
    cache_dir: Path = Path("model-cache")
    cache_sets: int = 32
    grace_seconds: float = 900


def split_url(url: str) -> tuple[str, str, str]:
    """Return ``(scheme, location, prefix)`` of a model store URL.

    Parameters
    ----------
    url : str
        A folder path, ``file:///folder`` or ``s3://bucket/prefix``.

    Returns
    -------
    tuple of str
        ('', folder, '') for a folder; ('s3', bucket, prefix) for S3.

    Raises
    ------
    ValueError
        For another scheme, or an S3 URL without a bucket.
    """
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"MODEL_STORE_URL {url!r} names no bucket (s3://bucket/prefix).")
        return "s3", parts.netloc, parts.path.strip("/")
    if parts.scheme == "file":
        return "", parts.path, ""
    if parts.scheme and len(parts.scheme) > 1:  # a Windows drive letter is no scheme
        raise ValueError(f"MODEL_STORE_URL {url!r}: the scheme must be one of file, s3 (or a plain folder).")
    return "", url, ""


def open_store(url: str, *, signer: Signer, s3: S3Options | None = None, check: bool = True) -> ModelSets:
    """Return the model store `url` names.

    Parameters
    ----------
    url : str
        See :func:`split_url`.
    signer : Signer
        The keys sets are signed and verified with.
    s3 : S3Options, optional
        Endpoint, credentials and local cache for an ``s3://`` URL (None: boto3's defaults).
    check : bool
        For S3, check at once that the bucket exists (raises StoreUnavailable).

    Returns
    -------
    ModelSets
        A ``ModelStore`` or an ``S3ModelStore``.
    """
    scheme, location, prefix = split_url(url)
    if scheme != "s3":
        return ModelStore(Path(location), signer=signer)
    import boto3  # only a service that stores in S3 needs it loaded

    options = s3 or S3Options()
    client = boto3.client("s3", endpoint_url=options.endpoint_url or None,
                          aws_access_key_id=options.access_key_id or None,
                          aws_secret_access_key=options.secret_access_key or None,
                          region_name=options.region or None)
    store = S3ModelStore(client, location, prefix, signer=signer, cache_dir=options.cache_dir,
                         cache_sets=options.cache_sets, grace_seconds=options.grace_seconds)
    if check:
        store.check()
    return store
