"""Uploaded artifacts read as hostile data: archives unpacked under limits, MLmodel files read without
MLflow, serialised files scanned without being loaded. Pure functions over files, no database."""
