"""Settings from environment variables: each one declared once, here, with its type, default and meaning.

``Settings`` is the only place a default is written; ``load_settings`` reads the variables named in
each field's metadata and ``configuration_table`` renders the README's table from the same fields
(a test keeps the two equal). A malformed value is a ``SettingsError`` naming the variable.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audits.sandbox_child import SandboxLimits
from boas.registry.artifacts.archives import ArchiveLimits
from boas.registry.mail import MailSettings
from registry_db.sources import S3Place

MB = 1024 * 1024
GB = 1024 * MB


class SettingsError(ValueError):
    """A configuration variable holds a value BOAS cannot use; the message names the variable."""


def _integer(minimum: int = 0) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, got {value}")
        return value

    return parse


def _number(minimum: float = 0.0) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if not value > minimum or value != value or value == float("inf"):
            raise SettingsError(f"{name} must be a finite number above {minimum:g}, got {raw!r}")
        return value

    return parse


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}")


def _text(_name: str, raw: str) -> str:
    return raw


_DRIVERS = {"postgresql", "postgresql+psycopg", "sqlite", "sqlite+pysqlite"}


def _database_url(name: str, raw: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise SettingsError(f"{name} is not a database URL: use postgresql://user@host:5432/name "
                            "or sqlite:////absolute/path/boas.db") from None
    if url.drivername not in _DRIVERS:
        raise SettingsError(f"{name} uses {url.drivername!r}: BOAS runs on PostgreSQL (postgresql://) "
                            "or SQLite (sqlite:///)")
    if url.get_backend_name() == "postgresql" and not url.database:
        raise SettingsError(f"{name} names no database: add it after the host, e.g. postgresql://boas@db/boas")
    return raw


def _queue_url(name: str, raw: str) -> str:
    if raw in ("", "sqlite") or raw.startswith(("redis://", "rediss://", "unix://")):
        return raw or "sqlite"
    raise SettingsError(f"{name} must be 'sqlite' or a redis:// URL, got {raw!r}")


def _hosts(name: str, raw: str) -> tuple[str, ...]:
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    bad = [h for h in hosts if not re.fullmatch(r"\.?[a-z0-9.-]+(:[0-9]+)?|\[[0-9a-f:.]+\](:[0-9]+)?", h)]
    if bad:
        raise SettingsError(f"{name} must be comma-separated host names (e.g. boas.example.org,.example.org), "
                            f"got {bad[0]!r}")
    return hosts


def _rate(name: str, raw: str) -> str:
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise SettingsError(f"{name} must be rate limits such as '5 per minute; 30 per hour', got {raw!r}") from None
    return raw


def _storage_url(name: str, raw: str) -> str:
    if raw.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
        return raw
    raise SettingsError(f"{name} must be memory:// or a redis:// URL, got {raw!r}")


def _http_url(name: str, raw: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in raw):
        raise SettingsError(f"{name} must be an absolute http(s) URL, got {raw!r}")
    return raw


def _email(name: str, raw: str) -> str:
    if not re.fullmatch(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+", raw):
        raise SettingsError(f"{name} must be an e-mail address, got {raw!r}")
    return raw


def _backend(name: str, raw: str) -> str:
    if raw in ("fs", "s3"):
        return raw
    raise SettingsError(f"{name} must be 'fs' (a directory, possibly shared) or 's3' (object storage), got {raw!r}")


def _endpoint_url(name: str, raw: str) -> str:
    from urllib.parse import urlsplit

    try:
        url = urlsplit(raw)
        url.port  # noqa: B018 - parses the port, raising on a malformed one
    except ValueError:
        url = None
    if (url is None or url.scheme not in ("http", "https") or not url.hostname or url.username or url.password
            or url.path not in ("", "/") or url.query or url.fragment):
        raise SettingsError(f"{name} must be the object storage's base URL, e.g. https://s3.example.org:9000 "
                            f"(credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), got {raw!r}")
    return raw.rstrip("/")


def _bucket(name: str, raw: str) -> str:
    if re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", raw) and ".." not in raw:
        return raw
    raise SettingsError(f"{name} must be a bucket name (3 to 63 lowercase letters, digits, dots and hyphens), "
                        f"got {raw!r}")


def _prefix(name: str, raw: str) -> str:
    parts = raw.strip("/").split("/")
    if not all(re.fullmatch(r"[A-Za-z0-9_.-]+", part) and part not in (".", "..") for part in parts):
        raise SettingsError(f"{name} must be a key prefix such as 'boas/prod' (letters, digits, _ . - and /), "
                            f"got {raw!r}")
    return "/".join(parts) + "/"


def _import_roots(name: str, raw: str) -> tuple[Path, ...]:
    """Absolute directories, separated by ``os.pathsep`` or commas; each named by its last component."""
    roots = tuple(Path(part.strip()) for part in re.split(rf"[,{re.escape(os.pathsep)}]", raw) if part.strip())
    for root in roots:
        if not root.is_absolute() or root.name in ("", ".", ".."):
            raise SettingsError(f"{name} must list absolute directories such as /mnt/cohorts (not / itself), "
                                f"got {str(root)!r}")
    names = [root.name for root in roots]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SettingsError(f"{name}: a source names its directory by its last component, so two cannot share "
                            f"one: {twice[0]!r}")
    return roots


def _import_s3(name: str, raw: str) -> tuple[S3Place, ...]:
    """``bucket[/prefix]`` entries separated by commas."""
    places = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        bucket, _, prefix = entry.removeprefix("s3://").partition("/")
        places.append(S3Place(_bucket(name, bucket), _prefix(name, prefix) if prefix.strip("/") else ""))
    return tuple(places)


def _dask_scheduler(name: str, raw: str) -> str:
    """A scheduler address ``tcp://host:port``: the one transport a plain Dask cluster listens on, nothing else."""
    match = re.fullmatch(r"tcp://(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
                         r":(?P<port>[0-9]{1,5})", raw)
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise SettingsError(f"{name} must be a Dask scheduler address tcp://host:port, e.g. "
                            f"tcp://dask-scheduler:8786, got {raw!r}")
    return raw


def _var(env: str, default: Any, doc: str, parse: Callable[[str, str], Any], shown: str | None = None,
         unit: int = 1) -> Any:
    """A setting read from ``env``; ``shown`` is the default as the README prints it; ``unit`` scales it."""
    metadata = {"env": env, "doc": doc, "parse": parse, "shown": shown if shown is not None else f"`{default}`",
                "unit": unit}
    return field(default=default * unit if isinstance(default, int) and unit != 1 else default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Every knob of a BOAS deployment. Tests build it directly; processes use ``load_settings()``."""

    data_dir: Path = _var("BOAS_DATA_DIR", Path("./data"),  # noqa: RUF009 - _var returns a dataclass field
                          "data directory: SQLite file, content-addressed artifact store, staging area",
                          lambda _n, raw: Path(raw), shown="`./data`")
    database_url: str = _var("BOAS_DATABASE_URL", "",
                             "SQLAlchemy URL; PostgreSQL in production, e.g. `postgresql://boas@db/boas`",
                             _database_url,
                             shown="`sqlite:///$BOAS_DATA_DIR/boas.db`")
    secret_key: str = _var("BOAS_SECRET_KEY", "",
                           "signs browser sessions; set it when several machines serve the same site", _text,
                           shown="random, generated once into `$BOAS_DATA_DIR/secret_key`")
    max_upload_bytes: int = _var("BOAS_MAX_UPLOAD_MB", 512,
                                 "largest accepted upload (413 past it, enforced while streaming)", _integer(1),
                                 unit=MB)
    max_resumable_bytes: int = _var("BOAS_MAX_RESUMABLE_MB", 5120,
                                    "largest file sent by resumable, chunked upload (`/api/v1/uploads`): a "
                                    "declared size past it is refused when the upload is opened; with `s3`, at most "
                                    "5120 and `BOAS_BLOB_CACHE_MB`", _integer(1),
                                    unit=MB)
    upload_chunk_bytes: int = _var("BOAS_UPLOAD_CHUNK_MB", 64,
                                   "largest chunk of a resumable upload (413 past it); each is verified against "
                                   "its own digest before it is appended", _integer(1), unit=MB)
    upload_session_hours: float = _var("BOAS_UPLOAD_SESSION_HOURS", 24.0,
                                       "a resumable upload not used to create anything this long after it was "
                                       "opened expires: its session and partial file are removed by the reaper",
                                       _number(0.0), shown="`24`")
    archive_max_entries: int = _var("BOAS_ARCHIVE_MAX_ENTRIES", 5000,
                                    "most files and directories in an uploaded archive", _integer(1))
    archive_max_uncompressed_bytes: int = _var("BOAS_ARCHIVE_MAX_UNCOMPRESSED_MB", 2048,
                                               "largest total uncompressed size of an archive", _integer(1), unit=MB)
    archive_max_file_bytes: int = _var("BOAS_ARCHIVE_MAX_FILE_MB", 1024, "largest single file in an archive",
                                       _integer(1), unit=MB)
    archive_max_ratio: float = _var("BOAS_ARCHIVE_MAX_RATIO", 200.0,
                                    "highest compression ratio accepted (zip bombs)", _number(1.0), shown="`200`")
    archive_max_seconds: float = _var("BOAS_ARCHIVE_MAX_SECONDS", 60.0,
                                      "time budget for unpacking one uploaded archive (refused past it)",
                                      _number(0.0), shown="`60`")
    staging_grace_seconds: float = _var("BOAS_STAGING_GRACE_SECONDS", 6 * 3600.0,
                                        "a staging directory (`$BOAS_DATA_DIR/tmp/stage-*`) untouched this long "
                                        "is left over by a killed process: removed at start and by the reaper",
                                        _number(0.0), shown="`21600` (6 hours)")
    blob_backend: str = _var("BOAS_BLOB_BACKEND", "fs",
                             "where artifacts are stored: `fs`, under `$BOAS_DATA_DIR/blobs` (a filesystem every "
                             "machine mounts for several machines), or `s3`, in the object storage below, read "
                             "through a verified cache in `$BOAS_DATA_DIR/cache`", _backend)
    s3_endpoint_url: str = _var("BOAS_S3_ENDPOINT_URL", "",
                                "base URL of an S3-compatible service (MinIO, Ceph, Garage, a cloud's); empty: AWS. "
                                "Credentials and region come from the standard `AWS_*` variables", _endpoint_url,
                                shown="empty")
    s3_bucket: str = _var("BOAS_S3_BUCKET", "", "the bucket holding the artifacts (required with `s3`)", _bucket,
                          shown="empty")
    s3_prefix: str = _var("BOAS_S3_PREFIX", "", "key prefix inside the bucket, e.g. `boas/prod`", _prefix,
                          shown="empty")
    blob_cache_bytes: int = _var("BOAS_BLOB_CACHE_MB", 10240,
                                 "budget of the local cache of verified copies with `s3` (least recently used "
                                 "evicted first); at least the largest upload and archived file", _integer(1),
                                 unit=MB)
    dataset_import_roots: tuple[Path, ...] = _var(
        "BOAS_DATASET_IMPORT_ROOTS", (),
        "directories whose files an admin may register as reference datasets in place (`POST "
        "/api/v1/datasets/import`, `boas datasets import`), absolute, separated by `:` or commas; a source names "
        "one by its last component (`file:cohorts/2024/c.parquet` under `/mnt/cohorts`). Empty: off", _import_roots,
        shown="empty")
    dataset_import_s3: tuple[S3Place, ...] = _var(
        "BOAS_DATASET_IMPORT_S3", (),
        "`bucket[/prefix]` entries, comma-separated, whose objects an admin may register in place "
        "(`s3://bucket/prefix/key`), read with the endpoint and `AWS_*` credentials above. Empty: off", _import_s3,
        shown="empty")
    dataset_import_max_bytes: int = _var("BOAS_DATASET_IMPORT_MAX_GB", 200,
                                         "largest file registered in place (413 past it, checked before and while "
                                         "it is copied into the staging area)", _integer(1), unit=GB)
    secure_cookies: bool = _var("BOAS_SECURE_COOKIES", False, "set to `1` when served over TLS", _flag,
                                shown="off")
    queue_url: str = _var("BOAS_QUEUE_URL", "sqlite",
                          "job queue: `sqlite` (a file in the data directory) or `redis://host:port/db`", _queue_url,
                          shown="`sqlite`")
    trusted_hosts: tuple[str, ...] = _var("BOAS_TRUSTED_HOSTS", (),
                                          "host names the site answers to, comma-separated (`.example.org` "
                                          "includes subdomains; 400 for any other `Host`); empty: not enforced, "
                                          "set it in production", _hosts, shown="empty")
    trusted_proxies: int = _var("BOAS_TRUSTED_PROXIES", 0,
                                "reverse proxies in front of BOAS whose `X-Forwarded-For` is believed (the client "
                                "address of rate limits); 0: the connection's address, the header is ignored",
                                _integer(0))
    signin_account_limit: str = _var("BOAS_SIGNIN_ACCOUNT_LIMIT", "5 per minute; 30 per hour",
                                     "failed sign-ins allowed per account (the e-mail tried), then 429 until the "
                                     "window passes, even with the right password", _rate,
                                     shown="`5 per minute; 30 per hour`")
    auth_client_limit: str = _var("BOAS_AUTH_CLIENT_LIMIT", "30 per minute; 300 per hour",
                                  "failed sign-ins and failed API tokens allowed per client address, then 429",
                                  _rate, shown="`30 per minute; 300 per hour`")
    ratelimit_storage_url: str = _var("BOAS_RATELIMIT_STORAGE_URL", "",
                                      "where rate-limit counters live: `memory://` (per process) or `redis://...`",
                                      _storage_url, shown="the Redis of `BOAS_QUEUE_URL` if it is one, else "
                                      "`memory://`")
    require_bias_audit: bool = _var("BOAS_REQUIRE_BIAS_AUDIT", True,
                                    "an `ml_model` version needs a completed, independent bias audit to be published",
                                    _flag,
                                    shown="on")
    public_base_url: str = _var("BOAS_PUBLIC_BASE_URL", "http://127.0.0.1:8000",
                                "base of the stable, citable URLs written into cards", _text,
                                shown="`http://127.0.0.1:8000`")
    hdab_name: str = _var("BOAS_HDAB_NAME", "",
                          "name of the Health Data Access Body that grants access to the reference datasets, "
                          "named (with the URL and e-mail below, all three or none) in their HealthDCAT-AP "
                          "exports; empty: the exports say it is missing", _text, shown="empty")
    hdab_url: str = _var("BOAS_HDAB_URL", "", "the Health Data Access Body's homepage (http or https)", _http_url,
                         shown="empty")
    hdab_email: str = _var("BOAS_HDAB_EMAIL", "", "the Health Data Access Body's public contact e-mail", _email,
                           shown="empty")
    job_heartbeat_seconds: float = _var("BOAS_JOB_HEARTBEAT_SECONDS", 5.0,
                                        "a running job's heartbeat interval", _number(0.0), shown="`5`")
    job_stale_seconds: float = _var("BOAS_JOB_STALE_SECONDS", 60.0,
                                    "a job silent this long is re-queued or failed", _number(0.0), shown="`60`")
    sandbox_cpu_seconds: int = _var("BOAS_SANDBOX_CPU_SECONDS", SandboxLimits.cpu_seconds, "CPU time of the process that runs a model",
                                    _integer(1))
    sandbox_memory_mb: int = _var("BOAS_SANDBOX_MEMORY_MB", SandboxLimits.memory_bytes // MB, "memory of the process that runs a model",
                                  _integer(64))
    sandbox_wall_seconds: int = _var("BOAS_SANDBOX_WALL_SECONDS", SandboxLimits.wall_seconds,
                                     "wall-clock time of the process that runs a model", _integer(1))
    sandbox_allow_code: bool = _var("BOAS_SANDBOX_ALLOW_CODE", False,
                                    "set to `1` to audit by execution models that carry code (pickles, custom "
                                    "loaders, code directories, models from code), only ever inside bubblewrap "
                                    "(refused where it is missing); off: such models are audited from uploaded "
                                    "predictions", _flag, shown="off")
    streaming_min_rows: int = _var("BOAS_STREAMING_MIN_ROWS", 2_000_000,
                                   "bias audits of a Parquet dataset of at least this many rows, audited from "
                                   "uploaded predictions, run on the streaming engine (bounded memory, no score "
                                   "metrics); smaller ones in memory. Drift reports of two Parquet datasets, one at least this "
                                   "large, with no model run, are tested on every row streamed, Evidently's report "
                                   "on a sample", _integer(1), shown="`2000000`")
    streaming_partition_rows: int = _var("BOAS_STREAMING_PARTITION_ROWS", 1_000_000,
                                         "rows of each side the streaming engine joins at once: one partition, "
                                         "the unit of work of `BOAS_DASK_SCHEDULER`", _integer(1),
                                         shown="`1000000`")
    dask_scheduler: str = _var("BOAS_DASK_SCHEDULER", "",
                               "`tcp://host:port` of a Dask scheduler whose workers count the streaming engine's "
                               "partitions (identical results); they run this BOAS and mount `$BOAS_DATA_DIR` at the "
                               "same path. Empty: counted on the job's worker", _dask_scheduler, shown="empty")
    dask_connect_seconds: float = _var("BOAS_DASK_CONNECT_SECONDS", 10.0,
                                       "a job fails when the Dask scheduler does not answer, or has no worker, "
                                       "within this time, or goes this long without one while partitions wait",
                                       _number(0.0), shown="`10`")

    smtp_host: str = _var("BOAS_SMTP_HOST", "",
                          "SMTP server that sends notification e-mails; empty: e-mails are logged (recipient id "
                          "and kind only), never sent", _text, shown="empty")
    smtp_port: int = _var("BOAS_SMTP_PORT", 587, "port of the SMTP server", _integer(1))
    smtp_from: str = _var("BOAS_SMTP_FROM", "boas@localhost", "sender address of notification e-mails", _text)
    smtp_user: str = _var("BOAS_SMTP_USER", "", "SMTP user name; empty: no authentication", _text, shown="empty")
    smtp_password: str = _var("BOAS_SMTP_PASSWORD", "", "SMTP password (with `BOAS_SMTP_USER`)", _text,
                              shown="empty")
    smtp_starttls: bool = _var("BOAS_SMTP_STARTTLS", True, "upgrade the SMTP connection with STARTTLS before "
                               "authenticating", _flag, shown="on")

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).resolve())
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'boas.db'}")
        hdab = {"BOAS_HDAB_NAME": self.hdab_name, "BOAS_HDAB_URL": self.hdab_url, "BOAS_HDAB_EMAIL": self.hdab_email}
        if any(hdab.values()) and not all(hdab.values()):
            unset = ", ".join(name for name, value in hdab.items() if not value)
            raise SettingsError(f"the Health Data Access Body needs its name, URL and e-mail together: set {unset}")
        if not self.ratelimit_storage_url:
            shared = self.queue_url if self.queue_url.startswith(("redis://", "rediss://")) else "memory://"
            object.__setattr__(self, "ratelimit_storage_url", shared)
        if self.blob_backend == "s3":
            self._check_object_storage()
        missing = [str(root) for root in self.dataset_import_roots if not root.is_dir()]
        if missing:
            raise SettingsError(f"BOAS_DATASET_IMPORT_ROOTS names {missing[0]!r}, which is not an existing directory")

    def _check_object_storage(self) -> None:
        """Object storage needs a bucket, single-PUT sizes and a cache that holds the largest file."""
        if not self.s3_bucket:
            raise SettingsError("BOAS_BLOB_BACKEND=s3 needs BOAS_S3_BUCKET, the bucket that holds the artifacts")
        largest = max(self.max_upload_bytes, self.archive_max_file_bytes)
        if largest > 5 * 1024 * MB:
            raise SettingsError("BOAS_MAX_UPLOAD_MB and BOAS_ARCHIVE_MAX_FILE_MB must stay at most 5120 with "
                                "BOAS_BLOB_BACKEND=s3 (one object is stored in one upload)")
        if self.blob_cache_bytes < largest:
            raise SettingsError(f"BOAS_BLOB_CACHE_MB must hold the largest stored file: at least {largest // MB}")
        # One object is one PUT, read back through the cache: a resumable upload cannot be larger than either.
        object.__setattr__(self, "max_resumable_bytes", min(self.max_resumable_bytes, 5 * 1024 * MB,
                                                            self.blob_cache_bytes))

    @property
    def archive_limits(self) -> ArchiveLimits:
        """The caps on one uploaded archive, typed."""
        return ArchiveLimits(max_entries=self.archive_max_entries, max_total_bytes=self.archive_max_uncompressed_bytes,
                             max_file_bytes=self.archive_max_file_bytes, max_ratio=self.archive_max_ratio,
                             max_seconds=self.archive_max_seconds)

    @property
    def mail(self) -> MailSettings | None:
        """How notification e-mails are sent; None: they are logged instead."""
        if not self.smtp_host:
            return None
        return MailSettings(host=self.smtp_host, port=self.smtp_port, sender=self.smtp_from, user=self.smtp_user,
                            password=self.smtp_password, starttls=self.smtp_starttls)

    @property
    def sandbox(self) -> SandboxLimits:
        """The limits of one sandboxed model run, typed."""
        return SandboxLimits(cpu_seconds=self.sandbox_cpu_seconds, memory_bytes=self.sandbox_memory_mb * MB,
                             wall_seconds=self.sandbox_wall_seconds)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read the ``BOAS_*`` variables; an empty variable means its default. Nothing is created on disk."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(Settings):
        raw = env.get(spec.metadata["env"])
        if raw is None or raw.strip() == "":
            continue
        value = spec.metadata["parse"](spec.metadata["env"], raw.strip())
        values[spec.name] = value * spec.metadata["unit"] if spec.metadata["unit"] != 1 else value
    return Settings(**values)


def configuration_table() -> list[str]:
    """The README's configuration table, one Markdown row per variable, from the declarations above."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for spec in dataclasses.fields(Settings):
        rows.append(f"| `{spec.metadata['env']}` | {spec.metadata['shown']} | {spec.metadata['doc']} |")
    return rows


def persistent_secret(data_dir: Path) -> str:
    """No built-in secret: without BOAS_SECRET_KEY, a random key is generated once per data directory."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    return key
