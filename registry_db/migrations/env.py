"""Alembic environment: the engine is handed over by registry_db.migrate, never read from a file."""

from alembic import context

from registry_db.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    context.run_migrations()
