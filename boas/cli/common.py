"""What every command shares: the process runtime, refused inputs, and one-line operational errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from boas.config import SettingsError, load_settings
from boas.runtime import Runtime, build_runtime
from registry_db.errors import BoasError


class OneLineErrors(click.Group):
    """Turns what goes wrong around a command (not in it) into one line and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            _operational(f"{exc}: fix the environment variable and run the command again")
        except OperationalError as exc:
            _operational(f"cannot reach the database ({_first_line(exc.orig or exc)}): check BOAS_DATABASE_URL, "
                         "or BOAS_DATA_DIR for the embedded SQLite file, then run 'boas db upgrade'")
        except PermissionError as exc:
            _operational(f"permission denied on {exc.filename or 'a file'}: check BOAS_DATA_DIR")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _operational(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def runtime() -> Runtime:
    """This command's wiring, from the environment."""
    return build_runtime(load_settings())


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
