"""Reference datasets registered in place: a file on a mounted directory or an object in a configured bucket.

A cohort of tens of millions of rows already sits where the data team extracted it; sending it
through HTTP (even resumably) doubles the traffic and the waiting. An admin names it instead, and
``registry_db.sources`` copies it (hashed) into a staging directory, from which it takes exactly the
path of an uploaded table (``datasets.store_staged_dataset``): same identifier screening, checks,
conversion and storage. The audit log records where it came from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from audits import schemas
from audits.datasets import parse_metadata, store_staged_dataset
from boas.registry import permissions
from boas.registry.schemas import load
from boas.registry.storage import Storage
from registry_db import sources, store
from registry_db.errors import ValidationFailed
from registry_db.models import ReferenceDataset, User


def register_dataset_from_source(session: Session, actor: User | None, storage: Storage, *, source: Any,
                                 metadata: str | dict[str, Any] | None,
                                 now: datetime | None = None) -> ReferenceDataset:
    """Register the table at ``source`` (``file:<root>/<path>`` or ``s3://<bucket>/<key>``) with its datasheet.

    Admins only: the source is read with the server's own rights. Both the source and the metadata are
    checked before a byte is copied, and their problems reported together; the copy is capped by
    ``BOAS_DATASET_IMPORT_MAX_GB``. ``now`` is accepted as ``create_dataset`` accepts it (no upload
    session to expire here).
    """
    admin = permissions.require_import_dataset(actor)
    refused: list[ValidationFailed] = []
    place = meta = None
    try:
        place = sources.parse_source(storage.imports, source)
    except ValidationFailed as exc:
        refused.append(exc)
    try:
        meta = load(schemas.DatasetMetaSchema(), parse_metadata(metadata), "invalid dataset metadata")
    except ValidationFailed as exc:
        refused.append(exc)
    if refused:
        raise ValidationFailed(refused[0].message, {k: v for exc in refused for k, v in exc.errors.items()})
    assert place is not None and meta is not None
    with store.staged_write(session, storage.blobs) as staging:
        path = staging.root / "table"
        sha256, size = sources.copy_source(storage.imports, place, path, storage.blobs.stage_stream)
        dataset = store_staged_dataset(session, admin, staging, meta, path, place.filename, sha256, size,
                                       event="dataset.imported", details={"source": str(place)})
        session.commit()
    return dataset
