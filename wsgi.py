"""WSGI entry point: ``gunicorn wsgi:app``."""

from boas import create_app

app = create_app()
