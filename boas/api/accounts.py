"""Accounts: users and organisations (admins), API tokens (each user their own)."""

from __future__ import annotations

from boas.api.blueprint import Blueprint
from boas.api.schemas import IssuedTokenOut, OrganisationOut, TokenOut, UserOut
from boas.context import db_session
from boas.registry import accounts, schemas
from boas.security import current_user, login_required

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Users, organisations and API tokens")


@blp.route("/me")
@blp.response(200, UserOut)
@blp.errors(401, 429)
@login_required
def me():
    """The authenticated user."""
    return current_user()


@blp.route("/users")
@blp.response(200, UserOut(many=True))
@blp.errors(401, 403, 429)
@login_required
def list_users():
    """All accounts (admins)."""
    return accounts.list_users(db_session(), current_user())


@blp.route("/users", methods=["POST"])
@blp.response(201, UserOut)
@blp.errors(400, 401, 403, 409, 413, 429)
@login_required
@blp.arguments(schemas.UserCreateSchema)
def create_user(data):
    """Create an account with a role (admins)."""
    return accounts.create_user(
        db_session(), current_user(), email=data["email"], role=data["role"], name=data["name"],
        organisation_slug=data["organisation"],
    )


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@blp.response(200, UserOut)
@blp.errors(400, 401, 403, 404, 413, 429)
@login_required
@blp.arguments(schemas.UserUpdateSchema)
def update_user(data, user_id):
    """Change a role, name, organisation or deactivate an account (admins).

    A role change ends the user's browser sessions and API tokens unless ``end_sessions`` is false.
    """
    return accounts.update_user(
        db_session(), current_user(), user_id, role=data.get("role"), active=data.get("active"),
        name=data.get("name"), organisation_slug=data.get("organisation"), end_sessions=data["end_sessions"],
    )


@blp.route("/organisations")
@blp.response(200, OrganisationOut(many=True))
def list_organisations():
    """Organisations authors belong to."""
    return accounts.list_organisations(db_session())


@blp.route("/organisations", methods=["POST"])
@blp.response(201, OrganisationOut)
@blp.errors(400, 401, 403, 409, 413, 429)
@login_required
@blp.arguments(schemas.OrganisationCreateSchema)
def create_organisation(data):
    """Register an organisation (admins)."""
    return accounts.create_organisation(db_session(), current_user(), **data)


@blp.route("/tokens")
@blp.response(200, TokenOut(many=True))
@blp.errors(401, 429)
@login_required
def list_tokens():
    """Your API tokens (without their secrets)."""
    return accounts.list_tokens(db_session(), current_user())


@blp.route("/tokens", methods=["POST"])
@blp.response(201, IssuedTokenOut)
@blp.errors(400, 401, 413, 429)
@login_required
@blp.arguments(schemas.TokenCreateSchema)
def create_token(data):
    """Create an API token for yourself; the secret is in this response only."""
    return accounts.create_token(db_session(), current_user(), name=data["name"])


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(200, TokenOut)
@blp.errors(401, 404, 429)
@login_required
def revoke_token(token_id):
    """Revoke a token; it stops working at once."""
    return accounts.revoke_token(db_session(), current_user(), token_id)
