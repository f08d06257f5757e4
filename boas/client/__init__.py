"""A small client of the BOAS API for authors' pipelines, importable without the server.

``BoasClient`` checks a token, registers algorithms, uploads versions (streamed, with progress),
patches cards, reads the baseline checklist and downloads a version's files, verifying every digest.
``check_model_directory`` applies the registry's own upload rules locally before anything is sent.
This package imports neither Flask nor the database layer (an import-linter contract says so): only
``requests`` and the registry's pure artifact checks.
"""

from __future__ import annotations

from boas.client.api import BoasClient
from boas.client.credentials import Credentials, credentials_path, load_credentials, save_credentials
from boas.client.errors import ApiError, ClientError, error_lines
from boas.client.local import LocalCheck, check_model_directory, pack_directory

__all__ = [
    "ApiError",
    "BoasClient",
    "ClientError",
    "Credentials",
    "LocalCheck",
    "check_model_directory",
    "credentials_path",
    "error_lines",
    "load_credentials",
    "pack_directory",
    "save_credentials",
]
