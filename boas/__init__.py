"""BOAS: the open library of health algorithms.

``boas.app.create_app()`` builds the Flask application (``wsgi.py`` serves it). The package also
holds the registry's services (``boas.registry``), which workers and the CLI import without the web
stack, so importing ``boas`` itself imports nothing.
"""
