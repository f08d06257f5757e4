"""Algorithms: the public catalogue and the authors' registrations."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from boas.api.schemas import AlgorithmOut, AlgorithmPage
from boas.context import db_session
from boas.registry import algorithms, schemas
from boas.security import current_user, login_required
from model_cards import taxonomy
from registry_db.models import OrganisationKind

blp = Blueprint("algorithms", __name__, url_prefix="/api/v1/algorithms", description="Algorithms")


class AlgorithmQuery(Schema):
    q = fields.String(metadata={"description": "full-text search in name, summary and description"})
    kind = fields.String(validate=validate.OneOf(["ml_model", "rule_based"]))
    license = fields.String()
    author_type = fields.String(validate=validate.OneOf([k.value for k in OrganisationKind]),
                                metadata={"description": "kind of the owning organisation"})
    audited = fields.Boolean(metadata={"description": "has a completed bias audit on a released version"})
    sort = fields.String(load_default="name", validate=validate.OneOf(["name", "recent", "created"]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


for _field in taxonomy.VOCABULARIES:
    AlgorithmQuery._declared_fields[_field] = fields.String(validate=validate.OneOf(list(taxonomy.VOCABULARIES[_field])))


@blp.route("")
@blp.arguments(AlgorithmQuery, location="query")
@blp.response(200, AlgorithmPage)
def list_algorithms(args):
    """Search the catalogue; the public sees algorithms that have a published version."""
    page, per_page, q, sort = args.pop("page"), args.pop("per_page"), args.pop("q", None), args.pop("sort")
    author_type, audited = args.pop("author_type", None), args.pop("audited", None)
    return algorithms.list_algorithms(db_session(), current_user(), filters=args, q=q, page=page, per_page=per_page,
                                    organisation_kind=author_type, audited=audited, sort=sort)


@blp.route("", methods=["POST"])
@blp.response(201, AlgorithmOut)
@login_required
@blp.arguments(schemas.AlgorithmCreateSchema)
def create_algorithm(data):
    """Register an algorithm (authors and admins); the caller becomes its owner."""
    return algorithms.create_algorithm(db_session(), current_user(), data)


@blp.route("/<slug>")
@blp.response(200, AlgorithmOut)
def get_algorithm(slug):
    """One algorithm."""
    return algorithms.get_algorithm(db_session(), current_user(), slug)


@blp.route("/<slug>", methods=["PATCH"])
@blp.response(200, AlgorithmOut)
@login_required
@blp.arguments(schemas.AlgorithmUpdateSchema)
def update_algorithm(data, slug):
    """Edit an algorithm (owners and admins)."""
    return algorithms.update_algorithm(db_session(), current_user(), slug, data)
