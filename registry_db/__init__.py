"""Persistence: SQLAlchemy 2 models, engines and sessions, store functions, the blob store, Alembic
migrations and the domain errors every layer raises. Knows nothing of Flask or of the services."""
