"""``boas users``, ``boas tokens`` and ``boas organisations``: how the first accounts come to exist.

The options are passed to the services unchecked: the services validate them with the schemas the API
documents, so the command line, the pages and the API refuse the same input with the same words.
"""

from __future__ import annotations

import click

from boas.cli.common import refuse, session_scope
from boas.registry import accounts
from registry_db.errors import BoasError
from registry_db.models import OrganisationKind, Role


@click.group()
def users() -> None:
    """Accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, metavar="|".join(r.value for r in Role), help="the account's role")
@click.option("--name", default="")
@click.option("--organisation", default=None, help="organisation slug")
@click.option("--password", is_flag=True, help="also set a password for browser sign-in (prompted)")
def users_create(email: str, role: str, name: str, organisation: str | None, password: bool) -> None:
    """Create an account; this is how the first admin comes to exist (there is no default account)."""
    secret = click.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    with session_scope() as session:
        try:
            user = accounts.create_user(session, None, email=email, role=role, name=name,
                                        organisation_slug=organisation, bootstrap=True, password=secret)
        except BoasError as exc:
            refuse(exc)
        click.echo(f"created {user.role.value} {user.email} (id {user.id})")


@users.command("set-password")
@click.option("--email", required=True)
def users_set_password(email: str) -> None:
    """Set or reset a user's password for browser sign-in (prompted, never on the command line)."""
    secret = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with session_scope() as session:
        try:
            user = accounts.set_password_by_email(session, email, secret)
        except BoasError as exc:
            refuse(exc)
        click.echo(f"password set for {user.email}")


@click.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.option("--email", required=True)
@click.option("--name", default="cli")
def tokens_create(email: str, name: str) -> None:
    """Issue an API token; the secret is printed once and only its hash is stored."""
    with session_scope() as session:
        try:
            issued = accounts.create_token(session, None, user_email=email, name=name, bootstrap=True)
        except BoasError as exc:
            refuse(exc)
        click.echo(issued.secret)


@click.group()
def organisations() -> None:
    """Organisations."""


@organisations.command("create")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--kind", required=True, metavar="|".join(k.value for k in OrganisationKind),
              help="the kind of author the organisation is")
def organisations_create(slug: str, name: str, kind: str) -> None:
    """Register an organisation authors can belong to."""
    with session_scope() as session:
        try:
            accounts.create_organisation(session, None, slug=slug, name=name, kind=kind, bootstrap=True)
        except BoasError as exc:
            refuse(exc)
        click.echo(f"created organisation {slug}")


COMMANDS = (users, tokens, organisations)
