"""What every command shares: the process runtime, refused inputs, and one-line operational errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from audits.queue import QueueUnavailable
from boas.config import Settings, SettingsError, load_settings
from boas.runtime import Runtime, build_runtime
from registry_db.errors import BoasError


class MissingDatabase(RuntimeError):
    """The embedded SQLite file a command needs does not exist (yet, or here)."""


class OneLineErrors(click.Group):
    """Turns what goes wrong around a command (not in it) into one line and exit status 1.

    Each line says what failed and what to set or run; a traceback is for bugs, not for a wrong
    environment. Refused input is not handled here: commands report it themselves (exit status 2).
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            _operational(f"{exc}: fix the environment variable and run the command again")
        except (MissingDatabase, QueueUnavailable) as exc:
            _operational(str(exc))
        except OperationalError as exc:
            _operational(_database_problem(exc))
        except ProgrammingError as exc:
            if not _no_schema(exc):
                raise  # a bug, not the environment
            _operational(_database_problem(exc))
        except OSError as exc:  # PermissionError, read-only or missing parents, a file in the way...
            _operational(_file_problem(exc))


def _no_schema(exc: OperationalError | ProgrammingError) -> bool:
    reason = _first_line(exc.orig or exc)
    return "no such table" in reason or ("relation" in reason and "does not exist" in reason)


def _file_problem(exc: OSError) -> str:
    name = str(exc.filename or "")
    try:
        data_dir = str(load_settings().data_dir)
    except Exception:  # noqa: BLE001 - only for the message
        data_dir = ""
    problem = f"cannot use {name or 'a file'} ({exc.strerror or exc})"
    if not name or (data_dir and (name == data_dir or name.startswith(data_dir + "/") or data_dir.startswith(name))):
        return (f"{problem}: set BOAS_DATA_DIR to a directory this user can write (it holds the SQLite file, "
                "the artifact store and the staging area)")
    return f"{problem}: check the path and its permissions"


def _database_problem(exc: OperationalError | ProgrammingError) -> str:
    reason = _first_line(exc.orig or exc)
    where = _database_name()
    if _no_schema(exc):
        return (f"the database at {where} has no BOAS schema ({reason}): run 'boas db upgrade', or point "
                "BOAS_DATA_DIR or BOAS_DATABASE_URL at your registry")
    if where.startswith("sqlite"):
        return (f"cannot open the SQLite database at {where} ({reason}): set BOAS_DATA_DIR to your registry's "
                "data directory (or BOAS_DATABASE_URL), then run 'boas db upgrade'")
    return (f"cannot reach the database at {where} ({reason}): check BOAS_DATABASE_URL and that the server is "
            "running, then run 'boas db upgrade'")


def _database_name() -> str:
    try:
        return redacted(load_settings().database_url)
    except Exception:  # noqa: BLE001 - only for the message
        return "BOAS_DATABASE_URL"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _operational(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def runtime() -> Runtime:
    """This command's wiring, from the environment, for a registry that must already exist."""
    settings = load_settings()
    require_database(settings)
    return build_runtime(settings)


def require_database(settings: Settings) -> None:
    """Refuse, before creating anything, to run on an embedded database that is not there.

    Run outside the registry's folder, ``./data`` does not exist: SQLite would create an empty file
    (and the artifact store its directories) where nobody will look for them.
    """
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    path = Path(url.database)
    if not path.is_file():
        raise MissingDatabase(
            f"no BOAS database at {path}: run this from your registry's folder or set BOAS_DATA_DIR (or "
            "BOAS_DATABASE_URL) to it; for a new registry, run 'boas db upgrade' first")


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session on the configured database, disposed of afterwards."""
    wiring = runtime()
    try:
        with wiring.session_factory() as session:
            yield session
    finally:
        wiring.dispose()


def refuse(exc: BoasError) -> NoReturn:
    """A service refused the input: one line with its message and every field error, exit status 2.

    Fields are named as the command's options (``--role``) when the command has one of that name.
    """
    ctx = click.get_current_context(silent=True)
    options = {param.name: param.opts[0] for param in (ctx.command.params if ctx else []) if param.opts}
    problems = "; ".join(f"{options.get(field, field)}: {' '.join(messages)}" for field, messages in exc.errors.items()
                         if messages != [exc.message])
    click.echo(f"error: {exc.message}" + (f" ({problems})" if problems else ""), err=True)
    sys.exit(2)


def redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
