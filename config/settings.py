"""Read the environment (and .env) once and hold every default of the service."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlsplit

from dotenv import dotenv_values

from forecasting.params import ModelParams

if TYPE_CHECKING:
    from forecasting.store.contract import ModelSets

ROOT = Path(__file__).resolve().parent.parent
# 32 hex digits are 128 bits: a guessed key would let anyone who can write the model volume run code.
MIN_SIGNING_KEY_CHARS = 32
ENVIRONMENTS = ("development", "production")
# Values .env.example and the docs show for secrets; one left in place is no secret.
PLACEHOLDER_SECRETS = frozenset({"change-me", "changeme", "replace-me", "secret", "password"})
# `make run` records the URL of the Redis it started here, so other commands find it.
EMBEDDED_REDIS_FILE = ROOT / "var" / "redis.url"


def default_model_params(**overrides: Any) -> ModelParams:
    """Return the production model parameters, with `overrides` applied."""
    values = dict(
        validation_days=90,
        lstm_window=14,
        lstm_units=(128, 64, 32, 16),
        lstm_epochs=40,
        lstm_batch_size=128,
        lstm_patience=2,
        lstm_max_train_windows=365,
        # 100 trees forecast as 200 did (store-item 20 series SMAPE 11.82 vs 11.83, M5 items RMSSE
        # 0.783 both) in half the forest's fitting time and half its file.
        rf_trees=100,
        rf_max_depth=12,
        # Leaves of 10 days average the noise of single days (validation SMAPE 10.72 against 10.79 with 3).
        rf_min_samples_leaf=10,
        rf_compress=3,
        prophet_uncertainty_samples=0,
        # A stiff trend on log demand: 0.01 against Prophet's 0.05 took SMAPE from 11.8 to 11.76
        # on 10 store-item series and halved the December bias.
        prophet_changepoint_prior_scale=0.01,
        # Order 10 (Prophet's default) with month regressors; 20 without them, 5 blurred the year.
        prophet_yearly_order=10,
        interval_levels=(0.8, 0.95),
        seed=42,
    )
    values.update(overrides)
    return ModelParams(**values)


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, with its default."""

    # development | production; production refuses to start with an unsafe setting (insecure_settings).
    env: str = "development"
    # API keys required (Authorization: Bearer). Unset: true when ENV=production, false otherwise
    # (load_settings decides), so a development checkout answers curl without a key.
    auth_required: bool = False
    # Largest request body in bytes (Flask's MAX_CONTENT_LENGTH); larger ones are a 413, unread.
    max_content_length: int = 10 * 2**20
    # Deepest nesting of arrays and objects a JSON body may have; no endpoint needs more than 3,
    # and a body nested thousands deep would exhaust the parser's recursion.
    max_json_depth: int = 32
    # Sale dates accepted: from MIN_SALE_DATE to MAX_SALE_DATE_DAYS_AHEAD days after today, so a
    # typo in the year (0001, 9999) is refused instead of spanning millennia of daily rows.
    min_sale_date: str = "1900-01-01"
    max_sale_date_days_ahead: int = 1
    # Days of the latest history a training or forecast reads: memory stays bounded whatever is stored.
    max_history_days: int = 3650
    # Browser origins allowed to call the API (comma-separated in the environment); empty: CORS off.
    cors_origins: tuple[str, ...] = ()
    database_url: str = f"sqlite:///{ROOT / 'var' / 'sales.db'}"
    # PostgreSQL: the API pings a pooled connection before use only when it sat idle longer than
    # this (a ping at every checkout was a round trip per request); 0 pings at every checkout.
    # A connection that dies within the window fails one request with a 503 and the pool is renewed.
    api_database_ping_after_idle_seconds: int = 5
    redis_url: str | None = None
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    forecasting_models_path: Path = ROOT / "ml_models" / "forecasting"
    # Where model sets are kept: empty for the folder FORECASTING_MODELS_PATH (or a folder / file://
    # URL), or s3://bucket/prefix for an S3-compatible object store shared by every machine.
    model_store_url: str = ""
    # S3 endpoint (e.g. http://seaweedfs:8333 or a MinIO); unset: AWS's own. Credentials and region
    # under their standard names; unset: boto3 looks for them itself (instance role, ~/.aws).
    s3_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_default_region: str | None = None
    # With S3: each machine's verified copies of the sets it read, kept at most MODEL_STORE_CACHE_SETS.
    model_store_cache_dir: Path = ROOT / "var" / "model-cache"
    model_store_cache_sets: int = 32
    # With S3: a replaced set is removed once older than this, so a reader that resolved the
    # old set just before the swap still finds its files (a download takes seconds, not minutes).
    model_store_grace_seconds: int = 900
    # Keys that sign every model_info.json (HMAC-SHA256), comma-separated, newest first: the
    # first signs, each is accepted (rotation: put the new key first, drop the old one once its
    # sets are retrained). Required when ENV=production; unset elsewhere, a key is generated
    # once into MODEL_SIGNING_KEY_FILE (mode 0600) and kept.
    model_signing_keys: str = ""
    model_signing_key_file: Path = ROOT / "var" / "model-signing.key"
    model_retrain_interval_days: int = 7
    min_training_samples: int = 100
    # Runs of more days without a sales row than this inside a history are gaps in the
    # records, not zero demand: the models leave them out (shorter runs count as 0 sold).
    max_gap_days: int = 28
    max_forecast_horizon: int = 365
    default_forecast_horizon: int = 90
    # Days of forecast computed with each new model set and served from the database while
    # the set is fresh (0: none; at most MAX_FORECAST_HORIZON is used; longer requests are
    # computed by the worker).
    saved_forecast_days: int = 90
    retrain_scan_interval_seconds: int = 3600
    # Ended jobs are deleted this many days after they ended (their training runs are kept),
    # checked every JOB_PRUNE_INTERVAL_SECONDS by beat.
    job_retention_days: int = 30
    job_prune_interval_seconds: int = 3600
    training_lock_seconds: int = 3600
    task_soft_time_limit: int = 1800
    task_time_limit: int = 1900
    task_max_redeliveries: int = 3
    # A running job's worker records a heartbeat every JOB_HEARTBEAT_SECONDS; one silent for
    # JOB_HEARTBEAT_TIMEOUT_SECONDS lost its worker, and is run again (or failed once its
    # attempts, TASK_MAX_REDELIVERIES + 1, are used up).
    job_heartbeat_seconds: int = 10
    job_heartbeat_timeout_seconds: int = 60
    # Beat runs the reconciler this often: it publishes jobs recorded but never published (after
    # JOB_PUBLISH_GRACE_SECONDS) or whose message was lost, requeues jobs whose heartbeat
    # stopped, settles batches, closes interrupted training runs and stale queued marks.
    reconcile_interval_seconds: int = 30
    job_publish_grace_seconds: int = 15
    # Seconds a worker keeps trying to record a job's end while the database is unreachable.
    job_end_retry_seconds: int = 60
    # The training worker's children are replaced after this many tasks (the forecast workers'
    # are not: see jobs/celery_app.py); every worker's after WORKER_MAX_MEMORY_PER_CHILD_KB.
    worker_max_tasks_per_child: int = 100
    worker_max_memory_per_child_kb: int = 1_500_000
    model_cache_size: int = 16
    forecast_memo_size: int = 64
    # Milliseconds an API process takes a product's sales token, read for a saved forecast GET, as
    # current (0: read at every request). A change to sales or calendar made by this process is
    # seen at once; one made by another process (the other API workers, an import, SQL) stops
    # the forecast of the data before it from being answered within this window.
    saved_forecast_token_ttl_ms: int = 250
    # Saved forecast answers each API process keeps encoded, by product, set, sales token and
    # horizon (exact keys: never stale); about 15 KB each for 90 days.
    saved_answer_memo_size: int = 512
    # Child processes of the training worker, and of the forecast worker (its own queue).
    worker_concurrency: int = 2
    forecast_worker_concurrency: int = 1
    # Child processes of the worker of forecasts that must train first (a product's first forecast).
    forecast_training_worker_concurrency: int = 1
    # Niceness of the training worker (bulk retrains): on a machine it shares with the API and the
    # forecast workers, they get the cores first and a retrain takes what is left.
    worker_nice: int = 10
    worker_threads: int = 1
    progress_min_step: int = 5
    # Most products one bulk retrain or bulk forecast may list (`product_ids`).
    max_batch_products: int = 10_000
    # Forecast jobs whose results an export (GET /jobs/<id>/result) reads per database query.
    export_chunk_products: int = 100
    embedded_redis_port: int = 6390
    # `make run` restarts a process that dies: after 1 s, doubling for each exit in a row up to
    # this many seconds; a process that ran PROCESS_STABLE_SECONDS resets the count.
    process_restart_max_delay_seconds: int = 30
    process_stable_seconds: int = 60
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # API processes (gunicorn workers), and threads in each: a request waiting on a job holds one.
    api_workers: int = 2
    api_threads: int = 8
    # Seconds a silent gunicorn worker is given before it is replaced.
    api_timeout: int = 60
    # gunicorn's control socket: one per checkout, so two stacks on one host never share one.
    api_control_socket: Path = ROOT / "var" / "gunicorn.ctl"
    beat_schedule: Path = ROOT / "var" / "celerybeat-schedule"
    # Longest a request may wait for its job to end (GET /jobs/<id>?wait=, Prefer: wait=).
    max_job_wait_seconds: int = 30
    # Retry-After of a 202 and of a job still queued or running: when a client polls again.
    job_retry_after_seconds: int = 2
    log_level: str = "INFO"
    # Public holidays (the `holidays` package's ISO code, e.g. "DE" or "DE-BY" with a
    # subdivision) for products that have no country of their own; empty: none.
    holidays_country: str = ""
    min_free_disk_mb: int = 500
    # GET /health answers within this many milliseconds whatever is down: its checks run side by
    # side, and one still waiting then (a database or broker that hangs) is reported failed.
    health_budget_ms: int = 1200
    # Retry-After of a 503 answered while the database, Redis or the broker is unreachable.
    outage_retry_after_seconds: int = 5
    # Where every process of one stack (API workers, Celery children) writes its Prometheus
    # samples; /metrics adds them up. `manage.py run` empties it, so a fresh stack counts from 0.
    prometheus_multiproc_dir: Path = ROOT / "var" / "prometheus"
    # Days of sales history drawn before the forecast on a product's chart.
    chart_history_days: int = 120
    # Jobs listed on the dashboard (running ones first, then the latest that ended).
    dashboard_recent_jobs: int = 15
    model_params: ModelParams = field(default_factory=default_model_params)

    @property
    def signing_keys(self) -> tuple[str, ...]:
        """Return the model signing keys, newest (the one that signs) first."""
        return tuple(key.strip() for key in self.model_signing_keys.split(",") if key.strip())

    @property
    def broker_url(self) -> str:
        """Return the Celery broker URL (CELERY_BROKER_URL wins over REDIS_URL)."""
        url = self.celery_broker_url or self.redis_url
        if not url:
            raise RuntimeError("Set REDIS_URL or CELERY_BROKER_URL (make run starts a Redis itself).")
        return url

    @property
    def holidays_place(self) -> tuple[str | None, str | None]:
        """Return HOLIDAYS_COUNTRY as (country, subdivision): "de-by" is ("DE", "BY"), "" is (None, None)."""
        from forecasting.data.public_holidays import check_place

        country, _, subdivision = self.holidays_country.strip().partition("-")
        return check_place(country or None, subdivision or None)

    def sale_date_bounds(self, today: date) -> tuple[date, date]:
        """Return the first and last sale date accepted on `today`."""
        return date.fromisoformat(self.min_sale_date), today + timedelta(days=self.max_sale_date_days_ahead)

    @property
    def model_store_location(self) -> str:
        """Return MODEL_STORE_URL, or the folder FORECASTING_MODELS_PATH when it is unset."""
        return self.model_store_url or str(self.forecasting_models_path)

    @property
    def lock_url(self) -> str:
        """Return the Redis URL of locks and job-end events: REDIS_URL, else a Redis broker's URL."""
        if self.redis_url:
            return self.redis_url
        if is_redis_url(self.broker_url):
            return self.broker_url
        raise RuntimeError("Set REDIS_URL: locks and job-end events need Redis, and CELERY_BROKER_URL "
                           f"is not a Redis ({urlsplit(self.broker_url).scheme}://).")

    def as_flask_config(self) -> dict[str, Any]:
        """Return the settings as a Flask config mapping (upper-case keys)."""
        return {f.name.upper(): getattr(self, f.name) for f in fields(self)}


_PARAM_ENV = {
    "LSTM_EPOCHS": "lstm_epochs",
    "LSTM_WINDOW": "lstm_window",
    "LSTM_BATCH_SIZE": "lstm_batch_size",
    "LSTM_PATIENCE": "lstm_patience",
    "LSTM_MAX_TRAIN_WINDOWS": "lstm_max_train_windows",
    "RF_TREES": "rf_trees",
    "RF_MAX_DEPTH": "rf_max_depth",
    "VALIDATION_DAYS": "validation_days",
    "PROPHET_UNCERTAINTY_SAMPLES": "prophet_uncertainty_samples",
    "MODEL_SEED": "seed",
}


def is_redis_url(url: str | None) -> bool:
    """Return whether `url` names a Redis (redis://, rediss://, redis+socket://)."""
    return bool(url) and urlsplit(url).scheme in ("redis", "rediss", "redis+socket")


def _coerce(value: str, like: Any) -> Any:
    if isinstance(like, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(like, int):
        return int(value)
    if isinstance(like, Path):
        return Path(value)
    if isinstance(like, tuple):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if like is None and value.strip().lower() in {"", "none"}:
        return None
    return value


def load_settings(
    environ: Mapping[str, str] | None = None,
    dotenv: Path | None = ROOT / ".env",
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from .env, then the environment, then `overrides` (last wins)."""
    source: dict[str, str] = {}
    if dotenv is not None and dotenv.exists():
        source.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    source.update(os.environ if environ is None else environ)
    source.update({key: str(value) for key, value in (overrides or {}).items()})
    defaults = Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        key = f.name.upper()
        if key in source and f.name != "model_params":
            values[f.name] = _coerce(source[key], getattr(defaults, f.name))
    params = {name: int(source[key]) for key, name in _PARAM_ENV.items() if key in source}
    if "rf_max_depth" in params and params["rf_max_depth"] <= 0:
        params["rf_max_depth"] = None
    values["model_params"] = default_model_params(**params)
    # `make run` starts a Redis for locks and events whenever none is configured, also beside RabbitMQ.
    if not values.get("redis_url") and not is_redis_url(values.get("celery_broker_url")) \
            and EMBEDDED_REDIS_FILE.exists():
        values["redis_url"] = EMBEDDED_REDIS_FILE.read_text().strip()
    values.setdefault("auth_required", values.get("env", defaults.env) == "production")
    settings = Settings(**values)
    _check(settings)
    if not settings.signing_keys:
        settings = replace(settings, model_signing_keys=_development_signing_key(settings.model_signing_key_file))
    return settings


def _development_signing_key(path: Path) -> str:
    # Outside production a missing key is made once and kept, so sets survive restarts and
    # every process of one checkout (API, workers, manage.py) signs and verifies alike.
    try:
        return _read_signing_key(path)
    except FileNotFoundError:
        return _create_signing_key(path)


def _read_signing_key(path: Path) -> str:
    key = path.read_text(encoding="utf-8").strip()
    if not key or "," in key:
        raise ValueError(f"{path} does not hold one signing key; delete it to make a new one, "
                         "or set MODEL_SIGNING_KEYS.")
    return key


def _create_signing_key(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # A link appears complete or not at all, and never replaces a key another
            # process made first: processes starting together end up with one key.
            os.link(draft, path)
        except FileExistsError:
            return _read_signing_key(path)
    finally:
        os.unlink(draft)
    return key


def make_model_store(settings: Settings, *, check: bool = True) -> "ModelSets":
    """Return the model store MODEL_STORE_URL names, signing with MODEL_SIGNING_KEYS.

    With S3, `check` makes a missing bucket an error now (StoreUnavailable), not at the first save.
    """
    from forecasting.store.backends import S3Options, open_store
    from forecasting.store.signature import Signer

    s3 = S3Options(endpoint_url=settings.s3_endpoint_url, access_key_id=settings.aws_access_key_id,
                   secret_access_key=settings.aws_secret_access_key, region=settings.aws_default_region,
                   cache_dir=settings.model_store_cache_dir, cache_sets=settings.model_store_cache_sets,
                   grace_seconds=settings.model_store_grace_seconds)
    return open_store(settings.model_store_location, signer=Signer(settings.signing_keys), s3=s3, check=check)


def insecure_settings(settings: Settings) -> list[str]:
    """Return the names of settings left unsafe for production (empty when none is)."""
    unsafe = [] if settings.auth_required else ["AUTH_REQUIRED"]
    for name in ("database_url", "redis_url", "celery_broker_url", "celery_result_backend"):
        url = getattr(settings, name)
        if url and _is_placeholder(urlsplit(url).password):
            unsafe.append(name.upper())
    return unsafe


def _is_placeholder(secret: str | None) -> bool:
    return secret is not None and secret.strip().lower() in PLACEHOLDER_SECRETS


def _check(settings: Settings) -> None:
    if settings.env not in ENVIRONMENTS:
        raise ValueError(f"ENV must be one of {', '.join(ENVIRONMENTS)}, got {settings.env!r}.")
    if settings.max_content_length < 1:
        raise ValueError("MAX_CONTENT_LENGTH must be at least 1.")
    if settings.max_json_depth < 2:
        raise ValueError("MAX_JSON_DEPTH must be at least 2.")
    try:
        date.fromisoformat(settings.min_sale_date)
    except ValueError:
        raise ValueError(f"MIN_SALE_DATE must be a YYYY-MM-DD date, got {settings.min_sale_date!r}.") from None
    if settings.max_sale_date_days_ahead < 0:
        raise ValueError("MAX_SALE_DATE_DAYS_AHEAD must be 0 or more.")
    if settings.job_retention_days < 1 or settings.job_prune_interval_seconds < 1:
        raise ValueError("JOB_RETENTION_DAYS and JOB_PRUNE_INTERVAL_SECONDS must be at least 1.")
    if settings.health_budget_ms < 100:
        raise ValueError("HEALTH_BUDGET_MS must be at least 100.")
    if settings.max_history_days < 1:
        raise ValueError("MAX_HISTORY_DAYS must be at least 1.")
    if not 0 < settings.job_heartbeat_seconds < settings.job_heartbeat_timeout_seconds:
        raise ValueError("JOB_HEARTBEAT_SECONDS must be at least 1 and below JOB_HEARTBEAT_TIMEOUT_SECONDS.")
    if settings.reconcile_interval_seconds < 1 or settings.job_publish_grace_seconds < 1:
        raise ValueError("RECONCILE_INTERVAL_SECONDS and JOB_PUBLISH_GRACE_SECONDS must be at least 1.")
    if settings.task_time_limit <= settings.task_soft_time_limit:
        raise ValueError("TASK_TIME_LIMIT must be above TASK_SOFT_TIME_LIMIT.")
    if settings.worker_max_tasks_per_child < 1:
        raise ValueError("WORKER_MAX_TASKS_PER_CHILD must be at least 1.")
    if not -20 <= settings.worker_nice <= 19:
        raise ValueError(f"WORKER_NICE must be between -20 and 19, got {settings.worker_nice}.")
    if settings.min_training_samples < 1:
        raise ValueError("MIN_TRAINING_SAMPLES must be at least 1.")
    if settings.max_gap_days < 1:
        raise ValueError("MAX_GAP_DAYS must be at least 1.")
    if settings.saved_forecast_days < 0:
        raise ValueError("SAVED_FORECAST_DAYS must be 0 or more.")
    if settings.max_forecast_horizon < 1:
        raise ValueError("MAX_FORECAST_HORIZON must be at least 1.")
    if settings.export_chunk_products < 1:
        raise ValueError("EXPORT_CHUNK_PRODUCTS must be at least 1.")
    from forecasting.store.backends import split_url

    split_url(settings.model_store_location)  # a URL of an unknown kind is refused at start
    if settings.env == "production":
        if not settings.signing_keys:
            raise ValueError(
                "MODEL_SIGNING_KEYS must be set when ENV=production: model sets are signed with it, and a "
                "set it does not verify is never loaded. Generate one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        if any(len(key) < MIN_SIGNING_KEY_CHARS for key in settings.signing_keys):
            raise ValueError(f"Each key in MODEL_SIGNING_KEYS must have at least {MIN_SIGNING_KEY_CHARS} "
                             "characters when ENV=production.")
    if settings.holidays_country:
        from forecasting.errors import InvalidSalesData

        try:
            _ = settings.holidays_place  # checks the codes against the holidays package
        except InvalidSalesData as exc:
            raise ValueError(f"HOLIDAYS_COUNTRY={settings.holidays_country!r}: {exc}") from None
