"""``boas login``, ``boas push``, ``boas pull`` and ``boas card``: an author's pipeline talking to a registry.

Built on ``boas.client`` (no database, no Flask). Refusals are the server's words, one line per field, the
same whether the local check or the server refused; exit status 2 for a refused input, 1 for anything
else (not logged in, unreachable server, a token the server does not know, a download that does not match).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn, TextIO

import click
import yaml

from boas.client import (
    ApiError,
    BoasClient,
    ClientError,
    Credentials,
    check_model_directory,
    credentials_path,
    error_lines,
    load_credentials,
    pack_directory,
    save_credentials,
)
from boas.client.api import RESUMABLE_OVER
from boas.client.credentials import normalise_server
from registry_db.errors import BoasError

SERVER_ENV, TOKEN_ENV = "BOAS_SERVER_URL", "BOAS_TOKEN"


def _fail(lines: list[str], status: int) -> NoReturn:
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(status)


def _refused(exc: ClientError | BoasError) -> NoReturn:
    """A refusal, local or from the server: one line per field; 2 for refused input, 1 otherwise."""
    if isinstance(exc, BoasError):
        _fail(error_lines(exc.message, exc.errors), 2)
    if isinstance(exc, ApiError) and exc.status == 401:
        _fail([f"the server refused the token ({exc.message}): run 'boas login' with a valid token"], 1)
    _fail(exc.lines(), 2 if isinstance(exc, ApiError) and 400 <= exc.status < 500 else 1)


def _connect(server: str | None, *, need_token: bool) -> BoasClient:
    """A client for ``--server`` (or $BOAS_SERVER_URL, or the stored server), with the token meant for it.

    The stored token is sent only to the server it was stored for; $BOAS_TOKEN suits a CI pipeline.
    """
    stored = load_credentials()
    url = normalise_server(server) if server else (stored.server if stored else None)
    if url is None:
        raise ClientError(f"no server: pass --server URL, set {SERVER_ENV}, or run 'boas login --server URL'")
    token = os.environ.get(TOKEN_ENV) or (stored.token if stored and stored.server == url else None)
    if need_token and not token:
        raise ClientError(f"not logged in to {url}: run 'boas login --server {url}' or set {TOKEN_ENV}")
    return BoasClient(url, token)


class ProgressBar:
    """A plain progress bar on standard error: redrawn in place on a terminal, a line per quarter otherwise."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30):
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.tty = self.stream.isatty()
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        step = percent if self.tty else percent // 25 * 25
        if step == self._shown:
            return
        self._shown = step
        filled = self.width * percent // 100
        line = (
            f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {percent:3d}% {_size(done)} / {_size(total)}"
        )
        self.stream.write(("\r" + line + ("\n" if percent == 100 else "")) if self.tty else line + "\n")
        self.stream.flush()


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


@click.command("login")
@click.option(
    "--server", envvar=SERVER_ENV, required=True, help="the registry's address, e.g. https://boas.example.org"
)
@click.option("--token", default=None, help="an API token (prompted, hidden, when omitted)")
def login(server: str, token: str | None) -> None:
    """Check an API token against the server and store both for push and pull (a 0600 file)."""
    try:
        url = normalise_server(server)
        secret = (token or click.prompt("API token", hide_input=True)).strip()
        user = BoasClient(url, secret).whoami()
        path = save_credentials(Credentials(url, secret), credentials_path())
    except (ClientError, BoasError) as exc:
        _refused(exc)
    except OSError as exc:
        _fail([f"cannot store the credentials ({exc.strerror or exc}): check {credentials_path().parent}"], 1)
    click.echo(f"logged in to {url} as {user['email']} ({user['role']}); credentials stored in {path}")


def _load_card(path: Path) -> dict[str, Any]:
    """A card file as a JSON merge patch; YAML dates stay the strings the card schema reads."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ClientError(f"cannot read the card {path}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise ClientError(f"the card {path} must be a YAML mapping of card fields")
    return data


def _print_checklist(report: dict[str, Any]) -> None:
    missing = report.get("missing") or []
    state = "publishable" if report.get("publishable") else "not publishable yet"
    click.echo(f"baseline: {report.get('score', 0):.0%} of the checklist, {state}")
    for item in missing:
        label = (item.get("label") or {}).get("en") or item.get("id")
        note = (item.get("message") or {}).get("en")
        click.echo(f"  missing [{item.get('pillar')}] {item.get('path')}: {label}" + (f" ({note})" if note else ""))


@click.command("push")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--algorithm", "slug", required=True, help="the algorithm's slug (registered beforehand)")
@click.option("--version", required=True, help="the new version, X.Y.Z")
@click.option(
    "--card",
    "card_path",
    type=click.Path(path_type=Path),
    default=None,
    help="a YAML (or JSON) file of card fields, applied as a JSON merge patch",
)
@click.option("--code", is_flag=True, help="the directory is a rule_based algorithm's code, not an MLflow model")
@click.option("--server", envvar=SERVER_ENV, default=None, help="defaults to the server of 'boas login'")
@click.option(
    "--no-local-check", is_flag=True, help="upload without checking the directory first (the server checks it anyway)"
)
def push(
    model_dir: Path,
    slug: str,
    version: str,
    card_path: Path | None,
    code: bool,
    server: str | None,
    no_local_check: bool,
) -> None:
    """Check a model directory as the server would, upload it as a draft version, apply its card."""
    try:
        card = _load_card(card_path) if card_path else None
        client = _connect(server, need_token=True)
        with tempfile.TemporaryDirectory(prefix="boas-push-") as work:
            archive = Path(work) / f"{slug}-{version}.zip"
            if no_local_check:
                pack_directory(model_dir, archive, field="code" if code else "model")
            else:
                checked = check_model_directory(model_dir, archive, mlflow=not code)
                how = (checked.execution or {}).get("mode", "code archive")
                click.echo(f"checked {model_dir}: {checked.files} files, as the server would ({how})", err=True)
            if archive.stat().st_size > RESUMABLE_OVER:  # a large archive goes in verified, resumable chunks
                created = client.upload_version_resumable(slug, version, archive, progress=ProgressBar("uploading"))
            else:
                created = client.upload_version(
                    slug, version, archive, field="code" if code else "model", progress=ProgressBar("uploading")
                )
        click.echo(
            f"created {slug}@{created.get('version')} ({created.get('state')}, "
            f"{len(created.get('manifest') or [])} files)"
        )
        if card is not None:
            try:
                client.patch_card(slug, version, card)
            except ApiError:
                # The draft exists now: pushing again would be a conflict, so say how to finish.
                click.echo(
                    f"the draft {slug}@{version} was created but its card was refused: fix {card_path}, "
                    f"then run 'boas card {slug}@{version} {card_path}'",
                    err=True,
                )
                raise
            click.echo(f"card applied from {card_path} ({len(card)} fields)")
        _print_checklist(dict(client.baseline(slug, version)))
    except (ClientError, BoasError) as exc:
        _refused(exc)
    except OSError as exc:
        _fail([f"cannot read {exc.filename or model_dir} ({exc.strerror or exc})"], 1)


@click.command("card")
@click.argument("ref", metavar="SLUG@X.Y.Z")
@click.argument("card_path", metavar="CARD", type=click.Path(path_type=Path))
@click.option("--server", envvar=SERVER_ENV, default=None, help="defaults to the server of 'boas login'")
def card_command(ref: str, card_path: Path, server: str | None) -> None:
    """Apply a card file (YAML, as a JSON merge patch) to a draft version and print its checklist."""
    slug, version = _split_ref(ref)
    try:
        card = _load_card(card_path)
        client = _connect(server, need_token=True)
        client.patch_card(slug, version, card)
        click.echo(f"card applied from {card_path} ({len(card)} fields)")
        _print_checklist(dict(client.baseline(slug, version)))
    except (ClientError, BoasError) as exc:
        _refused(exc)


@click.command("pull")
@click.argument("ref", metavar="SLUG@X.Y.Z")
@click.option("--dest", type=click.Path(path_type=Path), default=None, help="a new directory (default ./SLUG-X.Y.Z)")
@click.option("--server", envvar=SERVER_ENV, default=None, help="defaults to the server of 'boas login'")
def pull(ref: str, dest: Path | None, server: str | None) -> None:
    """Download a version's files and verify every digest against its manifest (all or nothing)."""
    slug, version = _split_ref(ref)
    dest = dest or Path(f"{slug}-{version}")
    try:
        client = _connect(server, need_token=False)
        manifest = client.download_version(slug, version, dest, progress=ProgressBar("downloading"))
    except (ClientError, BoasError) as exc:
        _refused(exc)
    except OSError as exc:
        _fail([f"cannot write {exc.filename or dest} ({exc.strerror or exc})"], 1)
    click.echo(f"pulled {slug}@{version} into {dest}: {len(manifest)} files, every sha256 verified")


def _split_ref(ref: str) -> tuple[str, str]:
    slug, sep, version = ref.rpartition("@")
    if not sep or not slug or not version:
        _fail([f"expected SLUG@X.Y.Z, not {ref!r}"], 2)
    return slug, version


COMMANDS = [login, push, pull, card_command]
