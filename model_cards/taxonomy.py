"""Controlled vocabularies of the public catalogue (BOAS / Health Data Hub filters), FR and EN labels."""

from __future__ import annotations

import functools
import re
from typing import Any

VOCABULARIES: dict[str, dict[str, tuple[str, str]]] = {
    "objective": {
        "case_identification": ("Ciblage de population (SNDS)", "Case identification (SNDS)"),
        "data_transformation": ("Manipulation et transformation de données", "Data manipulation and transformation"),
        "pathology_mapping": ("Cartographie des pathologies", "Pathology mapping"),
        "on_demand_query": ("Requête à la demande", "On-demand query"),
        "risk_prediction": ("Prédiction de risque", "Risk prediction"),
        "diagnosis_support": ("Aide au diagnostic", "Diagnosis support"),
        "other": ("Autre", "Other"),
    },
    "clinical_domain": {
        "diabetes": ("Diabète", "Diabetes"),
        "infectious_diseases": ("Maladies infectieuses", "Infectious diseases"),
        "respiratory_diseases": ("Maladies respiratoires", "Respiratory diseases"),
        "cardiovascular": ("Maladies cardiovasculaires", "Cardiovascular diseases"),
        "oncology": ("Cancérologie", "Oncology"),
        "mental_health": ("Santé mentale", "Mental health"),
        "neurology": ("Neurologie", "Neurology"),
        "renal": ("Maladies rénales", "Kidney diseases"),
        "perinatal": ("Périnatalité", "Perinatal health"),
        "ageing": ("Vieillissement", "Ageing"),
        "pharmacoepidemiology": ("Pharmaco-épidémiologie", "Pharmacoepidemiology"),
        "other": ("Autre", "Other"),
    },
    "data_source": {
        "snds_base_principale": ("SNDS base principale", "SNDS main database"),
        "pmsi": ("PMSI", "PMSI (hospital discharge data)"),
        "hospital_data_warehouse": ("Entrepôt de données de santé hospitalier", "Hospital data warehouse"),
        "cohort": ("Cohorte", "Cohort"),
        "registry": ("Registre", "Disease registry"),
        "tabular": ("Données tabulaires", "Tabular data"),
        "imaging": ("Imagerie", "Imaging"),
        "other": ("Autre", "Other"),
    },
    "language": {
        "python": ("Python", "Python"),
        "r": ("R", "R"),
        "sql": ("SQL", "SQL"),
        "sas": ("SAS", "SAS"),
        "other": ("Autre", "Other"),
    },
    "validation_status": {
        "validated": ("Validé", "Validated"),
        "being_validated": ("En cours de validation", "Being validated"),
        "not_validated": ("Non validé", "Not validated"),
    },
    "maintenance_status": {
        "scheduled": ("Maintenance planifiée", "Scheduled maintenance"),
        "ad_hoc": ("Maintenance ponctuelle", "Ad hoc maintenance"),
        "none": ("Non maintenu", "Not maintained"),
    },
}

LICENSE_REF = re.compile(r"^(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]{1,60}$")
LICENSE_ERROR = "must be an SPDX license expression, e.g. Apache-2.0, MIT OR CECILL-2.1 (LicenseRef-<name> for custom terms)"


@functools.cache
def _spdx():
    # The SPDX license list as the license-expression library ships it (loaded once, ~30 ms).
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _parse(value: str) -> tuple[Any, str]:
    """(parsed expression or None, the parser's complaint)."""
    from license_expression import ExpressionError

    try:
        return _spdx().parse(value, validate=False, strict=True), ""
    except ExpressionError as exc:
        return None, str(exc).split(" for token")[0]
    except (AttributeError, TypeError):  # the parser itself trips on some malformed inputs
        return None, "Invalid expression"


def check_license(value: str) -> str | None:
    """Return an error sentence, or None: an SPDX license expression (AND, OR, WITH, parentheses).

    Parsed by ``license-expression`` against the SPDX list it ships, so unbalanced parentheses, an
    operator without operands, or a license used as an exception are refused; ``LicenseRef-*`` is accepted.
    """
    if not (value or "").strip():
        return LICENSE_ERROR
    parsed, problem = _parse(value)
    if parsed is None and value.count("(") != value.count(")"):
        problem = "unbalanced parentheses"
    if parsed is None:
        return f"not a valid SPDX license expression ({problem.rstrip('.')}): write e.g. MIT OR Apache-2.0"
    unknown = [key for key in _spdx().unknown_license_keys(parsed) if not LICENSE_REF.match(key)]
    if unknown:
        return f"'{unknown[0]}' is not a known SPDX license identifier (use LicenseRef-<name> for custom terms)"
    return None


def spdx_license_ids(expression: str | None) -> list[str]:
    """The SPDX license ids of an expression, in order (exceptions, LicenseRef-* and operators left out)."""
    parsed = _parse(expression or "")[0] if (expression or "").strip() else None
    if parsed is None:
        return []
    unknown = set(_spdx().unknown_license_keys(parsed))
    exceptions = {symbol.key for symbol in _spdx().license_symbols(parsed, unique=True, decompose=True)
                  if getattr(symbol, "is_exception", False)}
    return [key for key in _spdx().license_keys(parsed, unique=True) if key not in unknown | exceptions]
