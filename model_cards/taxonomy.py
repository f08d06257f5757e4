"""Controlled vocabularies of the public catalogue (BOAS / Health Data Hub filters), FR and EN labels."""

from __future__ import annotations

import re

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

# Common SPDX identifiers for code, models and documentation; custom terms use LicenseRef-*.
SPDX_LICENSES = frozenset(
    """0BSD AFL-3.0 AGPL-3.0-only AGPL-3.0-or-later Apache-2.0 Artistic-2.0 BSD-2-Clause BSD-3-Clause
    BSL-1.0 CC-BY-4.0 CC-BY-NC-4.0 CC-BY-NC-ND-4.0 CC-BY-NC-SA-4.0 CC-BY-ND-4.0 CC-BY-SA-4.0 CC0-1.0
    CECILL-2.1 CECILL-B CECILL-C EPL-2.0 EUPL-1.2 GPL-2.0-only GPL-2.0-or-later GPL-3.0-only
    GPL-3.0-or-later ISC LGPL-2.1-only LGPL-2.1-or-later LGPL-3.0-only LGPL-3.0-or-later
    LiLiQ-P-1.1 MIT MIT-0 MPL-2.0 ODbL-1.0 OpenRAIL OpenRAIL-M Unlicense Zlib etalab-2.0""".split()
)
LICENSE_REF = re.compile(r"^LicenseRef-[A-Za-z0-9.-]{1,60}$")


def check_license(value: str) -> str | None:
    """Return an error sentence, or None: an SPDX id, or an SPDX expression of them with AND/OR/WITH."""
    parts = [p for p in re.split(r"\s+(?:AND|OR|WITH)\s+|[()]", value.strip()) if p.strip()]
    if not parts:
        return "must be an SPDX license identifier, e.g. Apache-2.0 or CECILL-2.1"
    for part in parts:
        part = part.strip()
        if part not in SPDX_LICENSES and not LICENSE_REF.match(part):
            return f"'{part}' is not a known SPDX license identifier (use LicenseRef-<name> for custom terms)"
    return None


def check_term(field: str, value: str) -> str | None:
    allowed = VOCABULARIES[field]
    if value not in allowed:
        return f"must be one of: {', '.join(allowed)}"
    return None
