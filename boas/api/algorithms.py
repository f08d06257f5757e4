"""Algorithms: the public catalogue and the authors' registrations."""

from __future__ import annotations

from audits import scheduling
from boas.api.blueprint import Blueprint
from boas.api.schemas import AlgorithmOut, AlgorithmPage
from boas.context import db_session, now
from boas.registry import algorithms, schemas
from boas.security import current_user, login_required

blp = Blueprint("algorithms", __name__, url_prefix="/api/v1/algorithms", description="Algorithms")


@blp.route("")
@blp.arguments(schemas.AlgorithmQuerySchema, location="query")
@blp.response(200, AlgorithmPage)
@blp.errors(401, 429)
def list_algorithms(args):
    """Search the catalogue; the public sees algorithms that have a published version."""
    page, per_page, q, sort = args.pop("page"), args.pop("per_page"), args.pop("q", None), args.pop("sort")
    author_type, audited = args.pop("author_type", None), args.pop("audited", None)
    to_review = args.pop("to_review", None)
    return scheduling.list_catalogue(db_session(), current_user(), now=now(), to_review=to_review, filters=args, q=q,
                                     page=page, per_page=per_page, organisation_kind=author_type, audited=audited,
                                     sort=sort)


@blp.route("", methods=["POST"])
@blp.response(201, AlgorithmOut)
@blp.errors(400, 401, 403, 409, 413, 429)
@login_required
@blp.arguments(schemas.AlgorithmCreateSchema)
def create_algorithm(data):
    """Register an algorithm (authors and admins); the caller becomes its owner."""
    return algorithms.create_algorithm(db_session(), current_user(), data)


@blp.route("/<slug>")
@blp.response(200, AlgorithmOut)
@blp.errors(401, 404, 429)
def get_algorithm(slug):
    """One algorithm."""
    return algorithms.get_algorithm(db_session(), current_user(), slug)


@blp.route("/<slug>", methods=["PATCH"])
@blp.response(200, AlgorithmOut)
@blp.errors(400, 401, 403, 404, 413, 429)
@login_required
@blp.arguments(schemas.AlgorithmUpdateSchema)
def update_algorithm(data, slug):
    """Edit an algorithm (owners and admins)."""
    return algorithms.update_algorithm(db_session(), current_user(), slug, data)
