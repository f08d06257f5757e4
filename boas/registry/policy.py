"""Publication rules an operator may tune (see the README's configuration table)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    """Publication rules an operator may tune (documented in the README)."""

    require_bias_audit: bool = True
    public_base_url: str = "http://127.0.0.1:8000"
    # The instance's Health Data Access Body, named in every HealthDCAT-AP export; all three or none (config.py).
    hdab_name: str = ""
    hdab_url: str = ""
    hdab_email: str = ""

