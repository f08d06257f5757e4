"""Blobs in use, and writes that stage blobs and adopt them only if the transaction commits."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from registry_db.blobs import BlobStore
from registry_db.models import (
    ArtifactFile,
    Job,
    PredictionSet,
    ReferenceDataset,
    Version,
)
from registry_db.store.base import begin_write


def blob_in_use(session: Session, sha256: str) -> bool:
    """Whether any row still points at this blob (artifacts, archives, datasets, predictions, reports)."""
    for column in (ArtifactFile.sha256, Version.archive_sha256, ReferenceDataset.sha256, PredictionSet.sha256,
                   Job.report_sha256):
        if session.execute(select(exists().where(column == sha256))).scalar_one():
            return True
    return False


def lock_blob(session: Session, sha256: str) -> None:
    """Serialise writers of one blob until their transaction ends (PostgreSQL; SQLite's write lock does it).

    Adopting a blob and discarding a failed upload's blobs both take it, so a cleanup never deletes
    a file that another upload, not yet committed, has just found already stored.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(sha256[:15], 16)})


@dataclass
class Staging:
    """A private directory for an upload in progress, and the blobs adopted from it so far."""

    session: Session
    root: Path
    blobs: BlobStore
    created: list[str] = field(default_factory=list)

    def adopt(self, path: Path, sha256: str) -> None:
        """Move a staged file into the store, inside the caller's write transaction."""
        lock_blob(self.session, sha256)
        if self.blobs.adopt(path, sha256):
            self.created.append(sha256)


@contextmanager
def staged_write(session: Session, blobs: BlobStore) -> Iterator[Staging]:
    """All-or-nothing upload: on any failure the transaction rolls back and the blobs it created go."""
    staging = Staging(session=session, root=blobs.staging_dir(), blobs=blobs)
    try:
        yield staging
    except BaseException:
        session.rollback()
        discard_new_blobs(session, blobs, staging.created)
        raise
    finally:
        shutil.rmtree(staging.root, ignore_errors=True)


def discard_new_blobs(session: Session, blobs: BlobStore, digests: list[str]) -> None:
    """After a failed write, delete the blobs it created unless a committed row references them."""
    if not digests:
        return
    try:
        begin_write(session)
        for sha256 in sorted(digests):
            lock_blob(session, sha256)
        blobs.remove(d for d in digests if not blob_in_use(session, d))
        session.commit()
    except Exception:  # noqa: BLE001 - when in doubt keep the file: an orphan is safer than a hole
        session.rollback()
