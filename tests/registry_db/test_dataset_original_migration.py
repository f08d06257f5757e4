"""Migration 0008p on a database that already holds datasets, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import MetaData, Table, insert, text

from registry_db.engine import make_engine
from registry_db.migrate import downgrade, upgrade
from tests.conftest import fresh_database_url


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_datasets_stored_before_0008p_are_recorded_as_their_own_upload(backend, tmp_path):
    """They were stored as uploaded; the update that says so must not stop PostgreSQL's ALTER (deferred
    change-generation triggers pending), and SQLite's table rebuild must keep the change-generation triggers."""
    url, cleanup = fresh_database_url(backend, tmp_path)
    engine = make_engine(url)
    try:
        upgrade(engine, "0007g")
        meta = MetaData()
        users, datasets = (Table(name, meta, autoload_with=engine) for name in ("user_account", "reference_dataset"))
        now = datetime.datetime.now(datetime.UTC)
        with engine.begin() as conn:
            user = conn.execute(insert(users).values(email="e@example.org", name="e", role="evaluator", active=True,
                                                     created_at=now)).inserted_primary_key[0]
            conn.execute(insert(datasets).values(name="d", sha256="ab" * 32, size=123, format="csv", row_count=5,
                                                 columns=[], sensitive_columns=[], datasheet={}, uploaded_by_id=user,
                                                 created_at=now))
        upgrade(engine)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT original_sha256, original_size, original_format FROM reference_dataset")
                                ).one() == ("ab" * 32, 123, "csv")
            before = conn.execute(text("SELECT n FROM change_generation")).scalar_one()
        with engine.begin() as conn:
            conn.execute(text("UPDATE reference_dataset SET name = 'renamed'"))
        with engine.begin() as conn:
            assert conn.execute(text("SELECT n FROM change_generation")).scalar_one() == before + 1
        downgrade(engine, "0007g")
        with engine.begin() as conn:
            conn.execute(text("UPDATE reference_dataset SET name = 'again'"))
        with engine.begin() as conn:
            assert conn.execute(text("SELECT n FROM change_generation")).scalar_one() == before + 2
    finally:
        engine.dispose()
        cleanup()
