"""WSGI entry point: ``gunicorn wsgi:app``."""

from boas.app import create_app

app = create_app()
