"""Transactions and the helpers every aggregate's writes share."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry_db.engine import WRITE_OPTION
from registry_db.errors import Conflict, NotFound

Row = TypeVar("Row")


def get_or_not_found(session: Session, model: type[Row], row_id: int, what: str) -> Row:
    """The row with this primary key, or the domain's NotFound naming it ("audit job 7 not found")."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row

# -- transactions --------------------------------------------------------------------------


def begin_write(session: Session) -> None:
    """Open the service's write transaction, ending any read transaction the request had opened.

    On SQLite this is BEGIN IMMEDIATE (the write lock is taken up front, and waited for); reads
    stay deferred. Write services call it first, then read what they change, then commit.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("begin_write() must open the service's transaction, before any change")
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={WRITE_OPTION: True})



# -- helpers -------------------------------------------------------------------------------


def _add_or_conflict(session: Session, row: object, message: str, field: str, code: str = "conflict") -> None:
    # The row is added inside a savepoint, so a unique violation leaves the outer transaction usable.
    session.flush()
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        if not _is_unique_violation(exc):
            raise
        raise Conflict(message, {field: [message]}, code=code) from exc


def _is_unique_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate == "23505" or "unique constraint" in text or "duplicate key" in text



# -- datasets, predictions and jobs --------------------------------------------------------


def add_row(session: Session, row: object) -> None:
    session.add(row)
    session.flush()
