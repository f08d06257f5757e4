"""Where ``boas login`` keeps the server and its token: one JSON file only its owner can read.

``$XDG_CONFIG_HOME/boas/credentials`` (``~/.config/boas/credentials`` by default), mode 0600 in a 0700
directory, written to a temporary file and renamed so a crash never leaves half a token. A file that
other users can read is refused rather than used, as ssh refuses a private key with loose permissions.
"""

from __future__ import annotations

import ipaddress
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from boas.client.errors import ClientError


@dataclass(frozen=True)
class Credentials:
    server: str
    token: str = field(repr=False)  # never in a traceback or a log line


def credentials_path(env: dict[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/boas/credentials``, or ``~/.config/boas/credentials``."""
    environ: Mapping[str, str] = os.environ if env is None else env
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "boas" / "credentials"


def normalise_server(url: str) -> str:
    """The server's base URL without a trailing slash; plain HTTP only to this machine, since tokens cross it."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(f"the server must be an http(s) URL such as https://boas.example.org, not {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ClientError("the server URL must not carry a query, a fragment or a user name")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ClientError(f"refusing to send a token over plain HTTP to {parts.hostname}: use https://")
    return url


def _loopback(host: str) -> bool:
    """This machine: a loopback address or ``localhost``, not a name that merely starts like one."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")


def save_credentials(credentials: Credentials, path: Path | None = None) -> Path:
    """Write the file atomically with mode 0600 (its directory 0700); returns where it went."""
    path = path or credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"server": credentials.server, "token": credentials.token}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_credentials(path: Path | None = None) -> Credentials | None:
    """The stored credentials, or None when nobody logged in; a readable-by-others file is refused."""
    path = path or credentials_path()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ClientError(f"{path} is readable by other users: run 'chmod 600 {path}' or 'boas login' again")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(server=str(data["server"]), token=str(data["token"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ClientError(f"{path} is not a BOAS credentials file: run 'boas login' again") from exc
