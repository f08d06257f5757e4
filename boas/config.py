"""Settings from environment variables, each with one documented default (see README)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str
    max_upload_bytes: int = 512 * MB
    archive_max_entries: int = 5000
    archive_max_uncompressed_bytes: int = 2048 * MB
    archive_max_file_bytes: int = 1024 * MB
    archive_max_ratio: float = 200.0
    secure_cookies: bool = False
    queue_url: str = "sqlite"
    require_bias_audit: bool = True
    public_base_url: str = "http://127.0.0.1:8000"
    job_heartbeat_seconds: float = 5.0
    job_stale_seconds: float = 60.0
    sandbox_cpu_seconds: int = 600
    sandbox_memory_mb: int = 4096
    sandbox_wall_seconds: int = 900


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read ``BOAS_*`` variables. Nothing is created on disk here except the secret-key file on demand."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("BOAS_DATA_DIR") or "./data").resolve()
    database_url = env.get("BOAS_DATABASE_URL") or f"sqlite:///{data_dir / 'boas.db'}"
    secret_key = env.get("BOAS_SECRET_KEY") or ""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=secret_key,
        max_upload_bytes=_int(env, "BOAS_MAX_UPLOAD_MB", 512) * MB,
        archive_max_entries=_int(env, "BOAS_ARCHIVE_MAX_ENTRIES", 5000),
        archive_max_uncompressed_bytes=_int(env, "BOAS_ARCHIVE_MAX_UNCOMPRESSED_MB", 2048) * MB,
        archive_max_file_bytes=_int(env, "BOAS_ARCHIVE_MAX_FILE_MB", 1024) * MB,
        archive_max_ratio=float(env.get("BOAS_ARCHIVE_MAX_RATIO") or 200),
        secure_cookies=_flag(env, "BOAS_SECURE_COOKIES", False),
        queue_url=env.get("BOAS_QUEUE_URL") or "sqlite",
        require_bias_audit=_flag(env, "BOAS_REQUIRE_BIAS_AUDIT", True),
        public_base_url=env.get("BOAS_PUBLIC_BASE_URL") or "http://127.0.0.1:8000",
        job_heartbeat_seconds=float(env.get("BOAS_JOB_HEARTBEAT_SECONDS") or 5),
        job_stale_seconds=float(env.get("BOAS_JOB_STALE_SECONDS") or 60),
        sandbox_cpu_seconds=_int(env, "BOAS_SANDBOX_CPU_SECONDS", 600),
        sandbox_memory_mb=_int(env, "BOAS_SANDBOX_MEMORY_MB", 4096),
        sandbox_wall_seconds=_int(env, "BOAS_SANDBOX_WALL_SECONDS", 900),
    )


def persistent_secret(data_dir: Path) -> str:
    """No built-in secret: without BOAS_SECRET_KEY, a random key is generated once per data directory."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
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
