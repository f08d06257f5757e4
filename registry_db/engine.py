"""Engine and session factory. Nothing here runs at import time."""

from __future__ import annotations

import contextlib
import os
from typing import Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION: Final = "boas_write"


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and IMMEDIATE write transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _secure_sqlite_file(parsed.database)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _secure_sqlite_file(database: str | None) -> None:
    """Create the SQLite file 0600 before SQLite does (its -wal and -shm files copy that mode); fix older ones."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    old = os.umask(0o077)
    try:
        with contextlib.suppress(FileNotFoundError):  # a missing directory: SQLite reports it on connect
            os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
    finally:
        os.umask(old)
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            if os.stat(database + suffix).st_mode & 0o077:
                os.chmod(database + suffix, 0o600)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over. Reads
    # use BEGIN DEFERRED (in WAL mode they block nobody, even while a slow upload is received);
    # write transactions, opened by store.begin_write(), use BEGIN IMMEDIATE so concurrent writers
    # queue on the busy timeout instead of failing with "database is locked" on lock upgrade.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
