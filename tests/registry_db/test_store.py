"""The store against real SQLite and PostgreSQL: constraints, migrations, the blob store."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from boas.registry import accounts
from registry_db import store
from registry_db.blobs import FilesystemBlobStore
from registry_db.engine import make_engine
from registry_db.errors import Conflict, IntegrityFailure
from registry_db.migrate import current_revision, downgrade, upgrade
from registry_db.models import Algorithm, AlgorithmKind, Base, Version, VersionState
from tests.conftest import fresh_database_url


def _algorithm(session, slug="algo") -> Algorithm:
    author = accounts.create_user(session, None, email=f"{slug}@example.org", role="author", bootstrap=True)
    algorithm = Algorithm(slug=slug, name="A", summary="S", kind=AlgorithmKind.ML_MODEL, created_by_id=author.id)
    algorithm.owners = [author]
    store.add_algorithm(session, algorithm)
    session.commit()
    return algorithm


def test_version_uniqueness_is_enforced_by_the_database(session):
    algorithm = _algorithm(session)
    session.add(Version(algorithm_id=algorithm.id, version="1.0.0", state=VersionState.DRAFT,
                        created_by_id=algorithm.created_by_id))
    session.flush()
    nested = session.begin_nested()
    session.add(Version(algorithm_id=algorithm.id, version="1.0.0", state=VersionState.DRAFT,
                        created_by_id=algorithm.created_by_id))
    with pytest.raises(IntegrityError):
        session.flush()  # no check-then-insert: the constraint itself refuses
    nested.rollback()


def test_store_turns_a_duplicate_into_a_conflict_and_keeps_the_transaction_usable(session):
    algorithm = _algorithm(session)
    store.add_version(session, Version(algorithm_id=algorithm.id, version="1.0.0", state=VersionState.DRAFT,
                                       created_by_id=algorithm.created_by_id))
    with pytest.raises(Conflict) as excinfo:
        store.add_version(session, Version(algorithm_id=algorithm.id, version="1.0.0", state=VersionState.DRAFT,
                                           created_by_id=algorithm.created_by_id))
    assert excinfo.value.code == "version_exists"
    assert [v.version for v in store.list_versions(session, algorithm)] == ["1.0.0"]


def test_slugs_are_unique(session):
    _algorithm(session, "same-slug")
    author = accounts.create_user(session, None, email="other@example.org", role="author", bootstrap=True)
    with pytest.raises(Conflict):
        store.add_algorithm(session, Algorithm(slug="same-slug", name="B", summary="S", kind=AlgorithmKind.RULE_BASED,
                                               created_by_id=author.id))


def test_enum_columns_refuse_values_outside_the_vocabulary(session):
    from sqlalchemy import text

    algorithm = _algorithm(session)
    nested = session.begin_nested()
    with pytest.raises(IntegrityError):
        session.execute(text("UPDATE algorithm SET kind = 'oracle' WHERE id = :id"), {"id": algorithm.id})
    nested.rollback()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_the_models_and_downgrade_cleanly(backend, tmp_path):
    url, cleanup = fresh_database_url(backend, tmp_path)
    engine = make_engine(url)
    try:
        upgrade(engine)
        assert current_revision(engine) is not None
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)  # and back up again
        assert {"algorithm", "algorithm_version", "artifact_file", "audit_event"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
        cleanup()


def test_timestamps_are_timezone_aware(session):
    algorithm = _algorithm(session, "tz")
    session.expire_all()
    loaded = session.execute(select(Algorithm).where(Algorithm.slug == "tz")).scalar_one()
    assert loaded.created_at.utcoffset() is not None
    assert algorithm.created_at.utcoffset() is not None


# -- blob store (filesystem only) ----------------------------------------------------------


def test_blob_store_adopts_atomically_and_deduplicates(tmp_path):
    blobs = FilesystemBlobStore(tmp_path)
    stage = blobs.staging_dir()
    data = b"model weights"
    digest = hashlib.sha256(data).hexdigest()
    (stage / "a").write_bytes(data)
    (stage / "b").write_bytes(data)
    assert blobs.adopt(stage / "a", digest) is True
    assert blobs.adopt(stage / "b", digest) is False  # same content: stored once
    assert not (stage / "a").exists() and not (stage / "b").exists()
    path = blobs.verified_path(digest, len(data))
    assert path.read_bytes() == data
    assert path == tmp_path / "blobs" / "sha256" / digest[:2] / digest


def test_blob_store_refuses_a_corrupted_or_missing_file(tmp_path):
    blobs = FilesystemBlobStore(tmp_path)
    stage = blobs.staging_dir()
    digest = hashlib.sha256(b"abc").hexdigest()
    (stage / "f").write_bytes(b"abc")
    blobs.adopt(stage / "f", digest)
    target = blobs.path_for(digest)
    target.chmod(0o644)
    target.write_bytes(b"abd")
    with pytest.raises(IntegrityFailure):
        blobs.verified_path(digest)
    target.unlink()
    with pytest.raises(IntegrityFailure) as excinfo:
        blobs.verified_path(digest)
    assert excinfo.value.code == "artifact_missing"


def test_blob_paths_only_accept_hex_digests(tmp_path):
    with pytest.raises(ValueError):
        FilesystemBlobStore(tmp_path).path_for("../../etc/passwd")
