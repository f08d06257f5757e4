"""Named permission checks, one per write: deny by default, object-level for owned algorithms."""

from __future__ import annotations

from registry_db.errors import Forbidden, Unauthenticated
from registry_db.models import Algorithm, IncidentReport, Job, Moderation, Role, User


def require_user(actor: User | None) -> User:
    if actor is None:
        raise Unauthenticated("authentication required: send 'Authorization: Bearer <token>'")
    if not actor.active:
        raise Unauthenticated("this account is deactivated")
    return actor


def is_owner(actor: User | None, algorithm: Algorithm) -> bool:
    return actor is not None and any(owner.id == actor.id for owner in algorithm.owners)


def can_manage(actor: User | None, algorithm: Algorithm) -> bool:
    return actor is not None and (actor.role == Role.ADMIN or is_owner(actor, algorithm))


def require_role(actor: User | None, *roles: Role) -> User:
    user = require_user(actor)
    if user.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(f"this action requires the {allowed} role")
    return user


def require_create_algorithm(actor: User | None) -> User:
    return require_role(actor, Role.AUTHOR, Role.ADMIN)


def require_manage_algorithm(actor: User | None, algorithm: Algorithm) -> User:
    """Owners (and admins) edit an algorithm and its versions; nobody else, whatever their role."""
    user = require_user(actor)
    if not can_manage(user, algorithm):
        raise Forbidden(f"you are not an owner of algorithm '{algorithm.slug}'")
    return user


def require_admin(actor: User | None) -> User:
    return require_role(actor, Role.ADMIN)


def require_import_dataset(actor: User | None) -> User:
    """Registering a dataset in place reads the server's own disks and buckets: admins only, whatever the path."""
    return require_admin(actor)


# Who may send a file for each use, as the endpoint that will use it decides: datasets and predictions
# (evaluators, admins), a version's model or code (authors, admins; ownership is checked when it is used).
UPLOAD_ROLES = {"dataset": (Role.EVALUATOR, Role.ADMIN), "predictions": (Role.EVALUATOR, Role.ADMIN),
                "version": (Role.AUTHOR, Role.ADMIN)}


def require_open_upload(actor: User | None, purpose: str) -> User:
    """Open a resumable upload only with a role that may make that kind of upload."""
    return require_role(actor, *UPLOAD_ROLES[purpose])


# -- incident reports ---------------------------------------------------------------------------
#
# Anyone signed in may report on a released version. A report's free text may carry personal data, so
# until an admin approved it only its writer and admins read it; the algorithm's owners see that it
# exists (kind, state, what the screening detected) but not its title or text.


def require_file_report(actor: User | None) -> User:
    """Every signed-in account, whatever its role, may report on a released version."""
    return require_user(actor)


def require_moderate_report(actor: User | None) -> User:
    """Only admins approve or reject reports and held answers."""
    return require_admin(actor)


def require_manage_report(actor: User | None, algorithm: Algorithm) -> User:
    """The algorithm's owners and admins move a report through its states and answer it."""
    user = require_user(actor)
    if not can_manage(user, algorithm):
        raise Forbidden(f"only the owners of algorithm '{algorithm.slug}' or an admin may answer its reports "
                        "or change their state")
    return user


def can_see_report(actor: User | None, report: IncidentReport) -> bool:
    """Approved reports are public; others are seen by their writer, the algorithm's owners and admins."""
    return report.moderation == Moderation.APPROVED or can_read_report_text(actor, report) or (
        actor is not None and can_manage(actor, report.version.algorithm))


def can_read_report_text(actor: User | None, report: IncidentReport) -> bool:
    """The title and text: everyone once approved; before (or after a rejection) the writer and admins only."""
    if report.moderation == Moderation.APPROVED:
        return True
    return actor is not None and actor.active and (actor.role == Role.ADMIN or actor.id == report.created_by_id)


# -- separation of duties ------------------------------------------------------------------------
#
# An audit is evidence about an algorithm only if nobody on the algorithm's side produced it. Roles
# change (an author demoted to evaluator keeps ownership), so these checks look at ownership and
# organisation, never at the role: whoever owns the algorithm, or belongs to an organisation that
# does, may not supply its predictions, launch its audits or be their evaluator of record.


class ConflictOfInterest(Forbidden):
    """A refusal because the actor is on the algorithm's side; ``reason`` is "owner" or "organisation"."""

    code = "conflict_of_interest"

    def __init__(self, message: str, *, reason: str, algorithm: str, organisation: str | None = None):
        super().__init__(message)
        self.reason, self.algorithm, self.organisation = reason, algorithm, organisation


def owning_organisation_ids(algorithm: Algorithm) -> set[int]:
    """The organisation the algorithm was registered under and those of its current owners."""
    ids = {owner.organisation_id for owner in algorithm.owners if owner.organisation_id is not None}
    if algorithm.organisation_id is not None:
        ids.add(algorithm.organisation_id)
    return ids


def conflict_of_interest(user: User | None, algorithm: Algorithm) -> ConflictOfInterest | None:
    """Why ``user`` is not independent of ``algorithm`` (addressed to them), or None if they are."""
    if user is None:
        return None
    if is_owner(user, algorithm):
        return ConflictOfInterest(
            f"you own algorithm '{algorithm.slug}': its audits must come from an independent evaluator",
            reason="owner", algorithm=algorithm.slug)
    if user.organisation_id is not None and user.organisation_id in owning_organisation_ids(algorithm):
        name = user.organisation.name if user.organisation else str(user.organisation_id)
        return ConflictOfInterest(
            f"your organisation '{name}' owns algorithm '{algorithm.slug}': its audits must come from an "
            "independent evaluator", reason="organisation", algorithm=algorithm.slug, organisation=name)
    return None


def is_independent(user: User | None, algorithm: Algorithm) -> bool:
    return conflict_of_interest(user, algorithm) is None


def _require_independent_evaluator(actor: User | None, algorithm: Algorithm) -> User:
    user = require_role(actor, Role.EVALUATOR, Role.ADMIN)
    conflict = conflict_of_interest(user, algorithm)
    if conflict is not None:
        raise conflict
    return user


def require_upload_predictions(actor: User | None, algorithm: Algorithm) -> User:
    """Evaluators and admins supply an algorithm's predictions, unless they or their organisation own it."""
    return _require_independent_evaluator(actor, algorithm)


def require_audit_algorithm(actor: User | None, algorithm: Algorithm) -> User:
    """Evaluators and admins launch an audit of an algorithm (and become its evaluator of record), unless
    they or their organisation own it. Also checked before an earlier identical result is reused."""
    return _require_independent_evaluator(actor, algorithm)


def audit_is_independent(job: Job) -> bool | None:
    """Whether everyone who shaped an audit is independent of the audited algorithm *now*.

    The launcher (evaluator of record), the supplier of uploaded predictions and the uploaders of its
    datasets are judged against the algorithm's current owners and organisations: someone who joins
    the algorithm's side after an audit makes that audit stop counting for publication (it stays on
    record, attributed to them). None for audits of no algorithm (a drift report of two datasets).
    """
    if job.version is None:
        return None
    algorithm = job.version.algorithm
    people = [job.created_by, job.dataset.uploaded_by]
    if job.current_dataset is not None:
        people.append(job.current_dataset.uploaded_by)
    if job.predictions is not None:
        people.append(job.predictions.uploaded_by)
    return all(is_independent(person, algorithm) for person in people)
