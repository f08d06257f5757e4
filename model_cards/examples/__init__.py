"""A complete, realistic example card (and the snapshot document around it) for tests, the demo and authors."""

from __future__ import annotations

import copy
import hashlib
import json
from functools import lru_cache
from importlib import resources
from typing import Any

SLUG = "risque-hospitalisation-1an"
VERSION = "1.1.0"
BASE_URL = "https://boas.example"
_FILES = {  # path -> size in bytes of the fake MLflow model directory
    "MLmodel": 612,
    "conda.yaml": 231,
    "model.pkl": 1_482_337,
    "python_env.yaml": 122,
    "requirements.txt": 96,
}


def fake_sha256(label: str) -> str:
    """A well-formed, stable digest for example files (not the digest of any real content)."""
    return hashlib.sha256(f"boas-example:{label}".encode()).hexdigest()


@lru_cache(maxsize=1)
def _card_text() -> str:
    return resources.files(__name__).joinpath("complete_card.json").read_text(encoding="utf-8")


def load_example_card() -> dict[str, Any]:
    """The example card (a fresh copy each call, so callers may modify it)."""
    return json.loads(_card_text())


def example_mlmodel() -> dict[str, Any]:
    """What model_cards.mlmodel would read from the example's MLflow model (MLModelInfo.as_dict() shape)."""
    card = load_example_card()
    io = card["input_output"]
    return {
        "flavors": {
            "python_function": {"env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                                "loader_module": "mlflow.sklearn", "model_path": "model.pkl",
                                "predict_fn": "predict_proba", "python_version": "3.11.7"},
            "sklearn": {"code": None, "pickled_model": "model.pkl", "serialization_format": "cloudpickle",
                        "sklearn_version": "1.5.2"},
        },
        "loader_module": "mlflow.sklearn",
        "python_version": "3.11.7",
        "serialization_format": "cloudpickle",
        "signature": {
            "inputs": [{"type": f["type"], "name": f["name"], "required": True} for f in io["inputs"]],
            "outputs": [{"type": "double", "name": io["outputs"][0]["name"], "required": True}],
            "params": None,
        },
        "input_example": None,
        "requirements": ["mlflow==3.17.2", "scikit-learn==1.5.2", "pandas==2.2.3", "numpy==2.1.3"],
        "mlflow_version": card["derived"]["mlflow_version"],
        "model_uuid": card["derived"]["model_uuid"],
        "run_id": card["derived"]["run_id"],
        "utc_time_created": "2025-03-10 09:41:27.118204",
        "referenced_paths": ["conda.yaml", "model.pkl", "python_env.yaml"],
        "pickled_files": ["model.pkl"],
    }


def example_document() -> dict[str, Any]:
    """A full published snapshot document around the example card, with one succeeded bias audit."""
    return {
        "boas_card_version": "1.0",
        "algorithm": {
            "slug": SLUG,
            "name": "Risque d'hospitalisation non programmée à 1 an (65 ans et plus)",
            "summary": "Probabilité d'au moins une hospitalisation non programmée dans les 12 mois, "
                       "pour prioriser la prévention en soins primaires.",
            "description": "Modèle de **gradient boosting** calibré, entraîné sur une cohorte synthétique de type "
                           "SNDS. Exemple de référence de BOAS : toutes les rubriques de la fiche sont renseignées.",
            "kind": "ml_model",
            "license": "Apache-2.0",
            "code_repository_url": f"https://gitlab.example.org/boas/{SLUG}",
            "code_commit": "3f9c2a1b7d4e5f60718293a4b5c6d7e8f9012345",
            "objective": "risk_prediction",
            "clinical_domain": "ageing",
            "data_source": "snds_base_principale",
            "language": "python",
            "validation_status": "validated",
            "maintenance_status": "scheduled",
            "organisation": {"slug": "labo-donnees-sante", "name": "Laboratoire Données de Santé (exemple)",
                             "kind": "research_body"},
            "owners": ["Claire Dubois", "Karim Benali"],
        },
        "version": {
            "version": VERSION,
            "state": "published",
            "created_at": "2025-03-10T10:02:11+00:00",
            "published_at": "2025-03-14T15:30:00+00:00",
            "published_by": "Claire Dubois",
            "previous_version": "1.0.0",
            "url": f"{BASE_URL}/algorithms/{SLUG}/{VERSION}",
        },
        "artifacts": {
            "kind": "mlflow_model",
            "archive_sha256": fake_sha256(f"{SLUG}-{VERSION}.zip"),
            "manifest": [{"path": p, "sha256": fake_sha256(p), "size": s} for p, s in sorted(_FILES.items())],
            "mlmodel": example_mlmodel(),
        },
        "card": load_example_card(),
        "audits": copy.deepcopy(_AUDITS),
    }


_AUDITS = [
    {
        "id": 1,
        "kind": "bias",
        "status": "succeeded",
        "dataset": {"name": "reference-synthetique-snds-65plus-2021", "sha256": fake_sha256("reference-2021.csv")},
        "finished_at": "2025-03-12T08:15:42+00:00",
        "summary": {"pass": 14, "fail": 1, "insufficient_evidence": 3},
    }
]
