"""A registry filled with representative content through the services, for page, crawler and browser tests."""

from __future__ import annotations

import copy
import io
import json
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any

from audits import datasets
from audits import service as audit_service
from audits.synth import generate_cohort
from boas.registry import accounts, algorithms, lifecycle, versions
from boas.registry.storage import Upload
from model_cards.examples import load_example_card
from tests.e2e.test_audits_api import DATASHEET

PASSWORD = "correct horse battery staple"


@dataclass
class Content:
    """What was created, so tests can name it."""

    org: str = ""
    users: dict[str, str] = field(default_factory=dict)  # role -> e-mail
    ml_slug: str = ""
    rule_slug: str = ""
    job_id: int = 0
    drift_job_id: int = 0
    dataset_id: int = 0
    small_groups: dict[str, int] = field(default_factory=dict)  # region -> count (< 11), full view


def code_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ciblage.sas", "data cible; set cohort; where age >= 65; run;\n")
    return buf.getvalue()


def card_json(**changes: Any) -> str:
    card = load_example_card()
    card.pop("derived", None)
    for key, value in changes.items():
        card[key] = value
    return json.dumps(card)


def make_user(session, role: str, *, organisation: str | None = None, password: str = PASSWORD, name: str = ""):
    """An account with a password, created the way the CLI bootstraps one."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    user = accounts.create_user(session, None, email=email, role=role, name=name or f"{role.title()} {email[:4]}",
                                organisation_slug=organisation, bootstrap=True)
    accounts.set_password(session, None, user.id, password, bootstrap=True)
    return user


def run_job(app, job_id: int) -> None:
    """Run a queued audit job in this process, as a worker would."""
    app.extensions["boas"].run_job(job_id)


def bias_audit(app, session, evaluator, slug: str, version: str, *, rows: int = 1500, seed: int = 5,
               run: bool = True) -> tuple[int, int, int, dict[str, int]]:
    """Upload a cohort and the version's predictions, launch a bias audit: (job, dataset, predictions, small groups)."""
    storage = app.extensions["boas"].storage
    frame = generate_cohort(rows, seed=seed)
    meta = {"name": f"Cohorte synthétique {seed}", "label_column": "outcome", "sensitive_columns": ["sex", "region"],
            "row_key": "row_id", "datasheet": DATASHEET}
    dataset = datasets.create_dataset(session, evaluator, storage, stream=io.BytesIO(frame.to_csv(index=False).encode()),
                                      filename="cohort.csv", metadata=meta)
    predictions_csv = frame[["row_id", "prediction"]].assign(score=frame["risk_score"]).to_csv(index=False).encode()
    predictions = datasets.create_prediction_set(session, evaluator, storage, stream=io.BytesIO(predictions_csv),
                                                 filename="predictions.csv",
                                                 metadata={"dataset": dataset.id, "algorithm": slug, "version": version})
    request = {"kind": "bias", "algorithm": slug, "version": version, "dataset": dataset.id,
               "predictions": predictions.id, "sensitive_features": ["sex", "region"], "reference_group": {"sex": "M"},
               "n_boot": 50, "seed": 3}
    queued: list[int] = []
    job, _cached = audit_service.create_audit(session, evaluator, request, queued.append)
    if run and queued:
        run_job(app, job.id)
    counts = frame["region"].value_counts()
    return job.id, dataset.id, predictions.id, {region: int(n) for region, n in counts.items() if n < 11}


def populate(app, model_zip: bytes) -> Content:
    """Two algorithms, several versions (one yanked, one draft), a completed bias audit on a published version."""
    runtime = app.extensions["boas"]
    content = Content(org=f"labo-{uuid.uuid4().hex[:6]}")
    with runtime.session_factory() as s:
        accounts.create_organisation(s, None, slug=content.org, name="Laboratoire Données de Santé",
                                     kind="research_body", bootstrap=True)
        author = make_user(s, "author", organisation=content.org, name="Claire Dubois")
        evaluator = make_user(s, "evaluator", name="Eve Evaluatrice")
        admin = make_user(s, "admin", name="Ada Admin")
        content.users = {"author": author.email, "evaluator": evaluator.email, "admin": admin.email}

        suffix = uuid.uuid4().hex[:6]
        ml = algorithms.create_algorithm(s, author, {
            "slug": f"risque-hospit-{suffix}", "name": "Risque d'hospitalisation à un an",
            "summary": "Probabilité d'hospitalisation non programmée chez les 65 ans et plus",
            "description": "Modèle de **gradient boosting** calibré.\n\n- entraîné sur une cohorte synthétique",
            "kind": "ml_model", "objective": "risk_prediction", "clinical_domain": "ageing",
            "data_source": "snds_base_principale", "language": "python", "validation_status": "validated",
            "maintenance_status": "scheduled", "license": "Apache-2.0"})
        content.ml_slug = ml.slug
        base = load_example_card()
        for version, limitations in (("1.0.0", "Première version."), ("1.1.0", "Calibration à revoir."),
                                     ("1.2.0", "Recalibrée sur 2022.")):
            versions.create_version(s, author, runtime.storage, ml.slug, version=version,
                                    card_json=card_json(limitations=limitations),
                                    model=Upload(io.BytesIO(model_zip), "model.zip"))
            lifecycle.publish_version(s, author, runtime.policy, ml.slug, version)
        lifecycle.yank_version(s, author, ml.slug, "1.1.0", "Erreur de calibration chez les plus de 85 ans")
        versions.create_version(s, author, runtime.storage, ml.slug, version="2.0.0-rc.1", card_json="",
                                model=Upload(io.BytesIO(model_zip), "model.zip"))

        rule = algorithms.create_algorithm(s, author, {
            "slug": f"diabete-traite-{suffix}", "name": "Diabète traité (ciblage SNDS)",
            "summary": "Identifie les personnes traitées pour un diabète dans le SNDS",
            "description": "Algorithme à base de règles sur les délivrances d'antidiabétiques.",
            "kind": "rule_based", "objective": "case_identification", "clinical_domain": "diabetes",
            "data_source": "snds_base_principale", "language": "sas", "validation_status": "being_validated",
            "maintenance_status": "ad_hoc", "license": "EUPL-1.2",
            "code_repository_url": "https://gitlab.example.org/snds/diabete", "code_commit": "abcdef1"})
        content.rule_slug = rule.slug
        versions.create_version(s, author, runtime.storage, rule.slug, version="1.0.0",
                                card_json=card_json(funding=copy.deepcopy(base.get("funding") or "Financement public.")),
                                code=Upload(io.BytesIO(code_zip()), "code.zip"))
        content.job_id, content.dataset_id, predictions, content.small_groups = bias_audit(
            app, s, evaluator, rule.slug, "1.0.0")
        lifecycle.publish_version(s, author, runtime.policy, rule.slug, "1.0.0")
        content.drift_job_id = drift_report(app, s, evaluator, rule.slug, "1.0.0", content.dataset_id, predictions)
    return content


def drift_report(app, session, evaluator, slug: str, version: str, reference_id: int, predictions_id: int) -> int:
    """A current cohort compared with the reference one (Evidently), attached to a rule-based version through
    its uploaded predictions (the current cohort's row keys are a subset of the reference's)."""
    frame = generate_cohort(800, seed=9)
    current = datasets.create_dataset(
        session, evaluator, app.extensions["boas"].storage, stream=io.BytesIO(frame.to_csv(index=False).encode()),
        filename="current.csv", metadata={"name": "Cohorte 2024", "label_column": "outcome", "row_key": "row_id",
                                          "sensitive_columns": ["sex"], "datasheet": DATASHEET})
    queued: list[int] = []
    job, _cached = audit_service.create_audit(session, evaluator, {
        "kind": "drift", "algorithm": slug, "version": version, "dataset": reference_id,
        "current_dataset": current.id, "predictions": predictions_id, "columns": ["age", "sex", "region"]},
        queued.append)
    for job_id in queued:
        run_job(app, job_id)
    return job.id
