"""The objects of one S3 bucket under a key prefix: the few calls the S3 model store makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forecasting.errors import ForecastingError

MISSING = ("404", "NoSuchKey", "NoSuchBucket", "NotFound")


class StoreUnavailable(ForecastingError):
    """The model store cannot be used as configured (e.g. its bucket does not exist)."""


class Bucket:
    """Keys under ``<prefix>/`` of bucket `name`, through a botocore S3 `client`.

    Parameters
    ----------
    client : botocore S3 client
        E.g. ``boto3.client("s3", endpoint_url=...)``.
    name : str
        The bucket.
    prefix : str
        Prepended to every key ('' for the bucket's top).
    """

    def __init__(self, client: Any, name: str, prefix: str = "") -> None:
        self.client = client
        self.name = name
        self.prefix = prefix.strip("/")

    @property
    def url(self) -> str:
        """Return ``s3://name/prefix``."""
        return f"s3://{self.name}/{self.prefix}".rstrip("/")

    def key(self, *parts: object) -> str:
        """Return the full key of `parts` joined by '/' under the prefix."""
        return "/".join([self.prefix, *map(str, parts)] if self.prefix else list(map(str, parts)))

    def check(self) -> None:
        """Raise StoreUnavailable unless the bucket exists and answers."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.name)
        except ClientError as exc:
            if _code(exc) in MISSING:
                raise StoreUnavailable(f"Model store {self.url}: bucket {self.name!r} does not exist; "
                                       "create it first.") from None
            raise StoreUnavailable(f"Model store {self.url}: {exc}") from None
        except BotoCoreError as exc:
            raise StoreUnavailable(f"Model store {self.url} is unreachable: {exc}") from None

    def get(self, key: str) -> bytes | None:
        """Return the object's bytes, or None when there is no such object."""
        try:
            return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def put(self, key: str, body: bytes) -> None:
        """Write an object in one request (readers see the old bytes or the new, whole)."""
        self.client.put_object(Bucket=self.name, Key=key, Body=body)

    def upload(self, path: Path, key: str) -> None:
        """Upload a file (in parts when large)."""
        self.client.upload_file(str(path), self.name, key)

    def download(self, key: str, path: Path) -> bool:
        """Download an object into `path`; False when there is no such object."""
        from botocore.exceptions import ClientError

        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(self.name, key, str(path))
        except ClientError as exc:
            if _code(exc) not in MISSING:
                raise
            return False
        return True

    def copy(self, source: str, target: str) -> None:
        """Copy an object within the bucket, on the server."""
        self.client.copy_object(Bucket=self.name, Key=target, CopySource={"Bucket": self.name, "Key": source})

    def objects(self, prefix: str) -> list[dict[str, Any]]:
        """Return every object under `prefix` (Key, Size, LastModified, ...)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return [obj for page in pages for obj in page.get("Contents", [])]

    def children(self, prefix: str) -> list[str]:
        """Return the names of the 'folders' right under `prefix` (which ends with '/')."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix, Delimiter="/")
        return [p["Prefix"][len(prefix):].rstrip("/") for page in pages for p in page.get("CommonPrefixes", [])]

    def delete(self, key: str) -> None:
        """Remove an object (none there is no error)."""
        self.client.delete_object(Bucket=self.name, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix`; return how many there were."""
        keys = [obj["Key"] for obj in self.objects(prefix)]
        for start in range(0, len(keys), 1000):  # S3 takes at most 1000 keys per request
            self.client.delete_objects(Bucket=self.name, Delete={
                "Objects": [{"Key": key} for key in keys[start:start + 1000]], "Quiet": True})
        return len(keys)


def _code(exc: Exception) -> str | None:
    return getattr(exc, "response", {}).get("Error", {}).get("Code")
