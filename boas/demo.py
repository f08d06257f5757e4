"""Demo content for an empty registry: realistic algorithms, versions, audits and drift reports.

Everything is computed here, on the synthetic cohort (no download): models are trained and saved
with MLflow, audits run through the same job code as workers (models in the sandbox). The demo
accounts have no password, so the demo adds no way to sign in: create your own with the CLI.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from audits import datasets
from audits import service as audit_service
from boas.demo_cards import card_for
from boas.registry import accounts, algorithms, lifecycle, versions
from boas.registry.policy import Policy
from boas.registry.storage import Storage, Upload
from boas.runtime import Runtime
from model_cards.examples import load_example_card
from registry_db.models import AlgorithmKind, OrganisationKind, Role, User

Log = Callable[[str], None]
DATASHEET = {
    "motivation": "Cohorte de référence synthétique pour auditer les modèles de risque d’hospitalisation.",
    "source": "Générateur de cohorte synthétique de BOAS (structure de type SNDS), aucune donnée réelle.",
    "population": "Adultes de 18 ans et plus, France métropolitaine et DROM (18 régions).",
    "collection_period": "2019-2022 (simulée)",
    "preprocessing": "Aucun : variables générées directement au format d’analyse.",
    "coverage": "18 régions, 5 quintiles de défavorisation, 4 tranches d’âge.",
    "access_conditions": "Réservée aux évaluateurs de l’instance BOAS.",
    "synthetic": True,
    # HealthDCAT-AP: a claims-like (SNDS-structured) table is healthcare-related administrative data (EHDS Art. 51).
    "health_categories": ["HRAD"],
    "keywords": ["cohorte synthétique", "hospitalisation", "SNDS"],
    "spatial": ["http://publications.europa.eu/resource/authority/country/FRA"],
    "min_typical_age": 18,
    "purpose": "Auditer les biais et la dérive des algorithmes publiés sur BOAS, sans donnée réelle.",
    "provenance": "Générée par le générateur de cohorte synthétique de BOAS, graine fixe, aucune donnée source.",
}


@dataclass
class Demo:
    """The demo's process wiring (from ``boas.runtime``) and where it reports progress."""

    runtime: Runtime
    log: Log

    def session(self) -> Session:
        return self.runtime.session_factory()

    @property
    def storage(self) -> Storage:
        return self.runtime.storage

    @property
    def policy(self) -> Policy:
        return self.runtime.policy


def _cohort(rows: int, seed: int, **kwargs):
    from audits.synth import generate_cohort

    frame = generate_cohort(rows, seed, **kwargs)
    frame["sex_f"] = (frame["sex"] == "F").astype(int)
    return frame


def _train(frame, kind: str, label_bias: tuple[str, str] | None = None):
    """A scikit-learn model on the cohort; ``label_bias`` under-records outcomes of one group."""
    import numpy as np
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    from audits.synth import split_features

    X, y = split_features(frame)
    y = y.copy()
    if label_bias:
        column, group = label_bias
        rng = np.random.default_rng(0)
        hidden = (frame[column] == group).to_numpy() & (y.to_numpy() == 1) & (rng.random(len(y)) < 0.6)
        y[hidden] = 0
    model = (LogisticRegression(max_iter=1000) if kind == "logistic"
             else GradientBoostingClassifier(n_estimators=150, learning_rate=0.08, max_depth=3, random_state=0))
    return model.fit(X, y), X


def save_executable_model(model, X, path: Path) -> str:
    """Save a fitted scikit-learn classifier in a format BOAS executes: skops, else ONNX. Returns which.

    skops is tried first; its loader trusts only BOAS's list of types, so a model using others (trees)
    is converted to ONNX with skl2onnx instead (README, "Model formats").
    """
    import mlflow.onnx
    import mlflow.sklearn
    import numpy as np
    from mlflow.models import infer_signature

    from boas.registry.artifacts.execution import untrusted_skops_types

    signature = infer_signature(X.head(100), model.predict_proba(X.head(100))[:, 1])
    with tempfile.TemporaryDirectory() as tmp:
        try:
            import skops.io

            skops.io.dump(model, Path(tmp) / "probe.skops")
            untrusted = untrusted_skops_types(Path(tmp) / "probe.skops")
        except Exception:  # noqa: BLE001 - not serialisable by skops: ONNX it is
            untrusted = ["<not serialisable by skops>"]
    if not untrusted:
        mlflow.sklearn.save_model(model, str(path), serialization_format="skops", signature=signature)
        return "skops"
    from skl2onnx import to_onnx

    onx = to_onnx(model, X.head(1).to_numpy(np.float32), options={"zipmap": False}, target_opset=17)
    mlflow.onnx.save_model(onx, str(path), signature=signature)
    return "onnx"


def _model_zip(model, X) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        save_executable_model(model, X, path)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(path.rglob("*")):
                if file.is_file():
                    zf.write(file, f"model/{file.relative_to(path).as_posix()}")
        return buf.getvalue()


def _metrics(model, frame) -> list[dict[str, Any]]:
    """AUC and sensitivity on a held-out cohort, with 95% bootstrap intervals."""
    import numpy as np
    from sklearn.metrics import recall_score, roc_auc_score

    from audits.synth import DEFAULT_THRESHOLD, split_features

    X, y = split_features(frame)
    score = model.predict_proba(X)[:, 1]
    pred = (score >= DEFAULT_THRESHOLD).astype(int)
    rng = np.random.default_rng(0)
    out = []
    for name, fn, args in (("ROC AUC", roc_auc_score, (y, score)), ("sensibilité", recall_score, (y, pred))):
        value = float(fn(*args))
        boots = []
        for _ in range(200):
            idx = rng.integers(0, len(y), len(y))
            boots.append(fn(*(a.iloc[idx] if hasattr(a, "iloc") else a[idx] for a in args)))
        low, high = np.percentile(boots, [2.5, 97.5])
        out.append({"name": name, "value": round(value, 4), "ci_low": round(float(low), 4),
                    "ci_high": round(float(high), 4), "level": 0.95, "dataset": "cohorte synthétique de validation"})
    return out


def _card(slug: str, model_type: str, metrics: list[dict[str, Any]], **changes: Any) -> str:
    """The card of one demo algorithm (``boas.demo_cards``), with its model and its own measured performance."""
    card = card_for(slug, load_example_card())
    card.pop("derived", None)
    details = card["model_details"]
    details.update(model_type=model_type, architecture=model_type, hyperparameters={})
    details.pop("change_summary", None)  # the example's history is not the demo's
    details.update(changes.pop("model_details", {}))
    card["performance_metrics"] = metrics
    card.update(changes)
    return json.dumps(card)


def _change_summary(change: str, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """A change summary whose words follow the measured ROC AUC of both versions."""
    old, new = (next(m["value"] for m in metrics if m["name"] == "ROC AUC") for metrics in (before, after))
    trend = "améliorée" if new > old + 0.001 else ("en baisse" if new < old - 0.001 else "inchangée")
    as_fr = lambda value: f"{value:.4f}".replace(".", ",")  # noqa: E731 - French decimal comma
    return f"{change}\u202f; ROC AUC {trend} ({as_fr(old)} → {as_fr(new)})."


def _zip_text(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def _csv_upload(frame, name: str) -> Upload:
    return Upload(stream=io.BytesIO(frame.to_csv(index=False).encode()), filename=name)


def _run_audit(demo: Demo, evaluator: User, request: dict[str, Any]) -> None:
    """Launch through the service, then run the job right here, as a worker would."""
    with demo.session() as session:
        queued: list[int] = []
        job, _cached = audit_service.create_audit(session, evaluator, request, queued.append)
    for job_id in queued:
        demo.runtime.run_job(job_id)
    with demo.session() as session:
        done = audit_service.get_audit(session, evaluator, job.id)
        demo.log(f"  audit {done['kind']} #{done['id']}: {done['status']}{' — ' + done['error'] if done['error'] else ''}")


def seed_demo(demo: Demo) -> bool:
    """Fill an empty registry; returns False (and does nothing) if it already holds algorithms."""
    with demo.session() as session:
        if not algorithms.registry_is_empty(session):
            return False
        for slug, name, kind in (
                ("plateforme-donnees-demo", "Plateforme de données de santé (démo)", OrganisationKind.DATA_PLATFORM),
                ("chu-exemple-demo", "CHU Exemple (démo)", OrganisationKind.HOSPITAL),
                ("equipe-epidemio-demo", "Équipe de recherche en épidémiologie (démo)", OrganisationKind.RESEARCH_BODY),
                ("evaluation-independante-demo", "Cellule d’évaluation indépendante (démo)",
                 OrganisationKind.ADMINISTRATION)):
            accounts.create_organisation(session, None, slug=slug, name=name, kind=kind, bootstrap=True)
        people = {}
        for email, name, role, org in (
            ("claire.dubois@demo.boas.invalid", "Claire Dubois", Role.AUTHOR, "equipe-epidemio-demo"),
            ("karim.benali@demo.boas.invalid", "Karim Benali", Role.AUTHOR, "chu-exemple-demo"),
            ("lea.martin@demo.boas.invalid", "Léa Martin", Role.AUTHOR, "plateforme-donnees-demo"),
            # Evaluators belong to no organisation that owns what they audit (separation of duties).
            ("evaluation@demo.boas.invalid", "Cellule d’évaluation (démo)", Role.EVALUATOR,
             "evaluation-independante-demo"),
        ):
            people[role if role == Role.EVALUATOR else name.split()[0].lower()] = accounts.create_user(
                session, None, email=email, name=name, role=role, organisation_slug=org, bootstrap=True)
    evaluator = people["evaluator"]

    demo.log("training models on the synthetic cohort…")
    train, holdout = _cohort(30_000, 1), _cohort(10_000, 2)
    logistic, X = _train(train, "logistic")
    boosted, _ = _train(train, "boosted")
    biased, _ = _train(train, "logistic", label_bias=("sex", "F"))

    with demo.session() as session:
        audit_set = datasets.create_dataset(
            session, evaluator, demo.storage, **_table(_cohort(20_000, 5), "cohorte-reference.csv"),
            metadata={"name": "Cohorte synthétique de référence 2019-2021", "label_column": "outcome",
                      "sensitive_columns": ["sex", "age_band", "region", "deprivation_quintile"], "row_key": "row_id",
                      "datasheet": DATASHEET})
        shifted = _cohort(8_000, 6)
        shifted["age"] = (shifted["age"] + 7).clip(upper=99)
        shifted["deprivation_quintile"] = (shifted["deprivation_quintile"] + 1).clip(upper=5)
        site_set = datasets.create_dataset(
            session, evaluator, demo.storage, **_table(shifted, "site-nouveau.csv"),
            metadata={"name": "Nouveau site (population plus âgée et plus défavorisée)", "label_column": "outcome",
                      "sensitive_columns": ["sex", "age_band"], "row_key": "row_id",
                      "datasheet": {**DATASHEET, "population": "Patientèle d’un nouveau territoire, plus âgée."}})
        audit_id, site_id = audit_set.id, site_set.id
    bias_request = {"kind": "bias", "dataset": audit_id, "sensitive_features": ["sex", "age_band", "region"],
                    "reference_group": {"sex": "M", "region": "Île-de-France"}, "threshold": 0.2, "n_boot": 500}

    slug = "hospitalisation-non-programmee"
    demo.log(f"{slug}: two published versions, bias audits and a drift report")
    _algorithm(demo, people["claire"], slug, "Risque d’hospitalisation non programmée à 1 an",
               "Probabilité d’une hospitalisation non programmée dans l’année, pour prioriser la prévention.",
               AlgorithmKind.ML_MODEL, objective="risk_prediction", clinical_domain="ageing", data_source="snds_base_principale",
               language="python", validation_status="validated", maintenance_status="scheduled")
    first, second = _metrics(logistic, holdout), _metrics(boosted, holdout)
    _version(demo, people["claire"], slug, "1.0.0", model=_model_zip(logistic, X),
             card=_card(slug, "Régression logistique (scikit-learn)", first))
    _run_audit(demo, evaluator, {**bias_request, "algorithm": slug, "version": "1.0.0"})
    _publish(demo, people["claire"], slug, "1.0.0")
    _version(demo, people["claire"], slug, "1.1.0", model=_model_zip(boosted, X),
             card=_card(slug, "Gradient boosting (scikit-learn, exporté en ONNX)", second,
                        model_details={"change_summary": _change_summary("Passage à un gradient boosting", first,
                                                                         second)}))
    _run_audit(demo, evaluator, {**bias_request, "algorithm": slug, "version": "1.1.0"})
    _publish(demo, people["claire"], slug, "1.1.0")
    _run_audit(demo, evaluator, {"kind": "drift", "algorithm": slug, "version": "1.1.0", "dataset": audit_id,
                                 "current_dataset": site_id,
                                 "columns": ["age", "sex", "region", "deprivation_quintile", "diabetes", "ckd"]})

    slug = "readmission-30-jours"
    demo.log(f"{slug}: a model with a known bias against women, flagged by its audit")
    _algorithm(demo, people["karim"], slug, "Réadmission à 30 jours après une hospitalisation",
               "Risque de réhospitalisation non programmée à 30 jours ; l’audit révèle une sous-détection des femmes.",
               AlgorithmKind.ML_MODEL, objective="risk_prediction", clinical_domain="cardiovascular",
               data_source="hospital_data_warehouse", language="python", validation_status="being_validated",
               maintenance_status="ad_hoc")
    _version(demo, people["karim"], slug, "0.9.0", model=_model_zip(biased, X),
             card=_card(slug, "Régression logistique (scikit-learn)", _metrics(biased, holdout),
                        limitations="Entraîné sur des données où les réhospitalisations des femmes sont sous-codées : "
                                    "**l’audit de biais montre une sensibilité nettement plus faible chez les femmes**."))
    _run_audit(demo, evaluator, {**bias_request, "algorithm": slug, "version": "0.9.0"})
    _publish(demo, people["karim"], slug, "0.9.0")

    slug = "ciblage-diabete-traite"
    demo.log(f"{slug}: a rule-based SNDS algorithm audited from uploaded predictions, one version yanked")
    _algorithm(demo, people["léa"], slug, "Ciblage du diabète traité pharmacologiquement (SNDS)",
               "Repère les personnes ayant au moins trois délivrances d’antidiabétiques (ATC A10) dans l’année.",
               AlgorithmKind.RULE_BASED, objective="case_identification", clinical_domain="diabetes",
               data_source="snds_base_principale", language="sas", validation_status="validated",
               maintenance_status="scheduled", code_repository_url="https://gitlab.example.org/boas-demo/ciblage-diabete",
               code_commit="9e1f2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6")
    sas = {"ciblage_diabete.sas": "/* Ciblage du diabète traité : >= 3 délivrances ATC A10 sur l’année */\n"
                                  "proc sql; create table cible as select ben_nir_psa, count(*) as n\n"
                                  "  from er_pha_f where substr(pha_atc_c07, 1, 3) = 'A10'\n"
                                  "  group by ben_nir_psa having n >= 3; quit;\n",
           "README.md": "# Ciblage du diabète traité\n\nAlgorithme de ciblage sur le DCIR (SNDS).\n"}
    rule_card = _card(slug, "Algorithme à base de règles (SAS)", [
        {"name": "sensibilité", "value": 0.92, "ci_low": 0.9, "ci_high": 0.94, "level": 0.95,
         "dataset": "cohorte synthétique de référence"},
        {"name": "valeur prédictive positive", "value": 0.95, "ci_low": 0.93, "ci_high": 0.97, "level": 0.95,
         "dataset": "cohorte synthétique de référence"}])
    # 1.0.0 kept oral antidiabetics only (A10B): the bug its withdrawal names, fixed in 1.0.1.
    first_sas = {**sas, "ciblage_diabete.sas": sas["ciblage_diabete.sas"].replace("substr(pha_atc_c07, 1, 3) = 'A10'",
                                                                                  "substr(pha_atc_c07, 1, 4) = 'A10B'")}
    _version(demo, people["léa"], slug, "1.0.0", code=_zip_text(first_sas), card=rule_card)
    _publish(demo, people["léa"], slug, "1.0.0")
    with demo.session() as session:
        lifecycle.yank_version(session, people["léa"], slug, "1.0.0",
                              "Liste de codes ATC incomplète (insulines A10A omises) : utiliser 1.0.1.")
    fixed = json.loads(rule_card)
    fixed["model_details"]["change_summary"] = ("Toutes les délivrances ATC A10 sont comptées, insulines (A10A) "
                                                "comprises, et non plus les seuls antidiabétiques oraux (A10B).")
    _version(demo, people["léa"], slug, "1.0.1", code=_zip_text(sas), card=json.dumps(fixed))
    _publish(demo, people["léa"], slug, "1.0.1")
    _rule_based_audit(demo, evaluator, slug, "1.0.1")

    slug = "cartographie-insuffisance-renale"
    demo.log(f"{slug}: a published SQL pathology-mapping algorithm and a draft in progress")
    _algorithm(demo, people["léa"], slug, "Cartographie de l’insuffisance rénale chronique",
               "Requête SQL repérant l’insuffisance rénale chronique (ALD, dialyse, greffe, actes de néphrologie).",
               AlgorithmKind.RULE_BASED, objective="pathology_mapping", clinical_domain="renal", data_source="pmsi",
               language="sql", validation_status="not_validated", maintenance_status="ad_hoc",
               code_repository_url="https://gitlab.example.org/boas-demo/cartographie-irc", code_commit="a1b2c3d4e5f6")
    sql = {"irc.sql": "-- Insuffisance rénale chronique : dialyse, greffe ou ALD 19\n"
                      "select distinct ben_nir_psa from t_mco_d where dgn_pal like 'N18%';\n"}
    _version(demo, people["léa"], slug, "0.9.0", code=_zip_text(sql),
             card=_card(slug, "Requête SQL à base de règles", _query_metrics(), limitations=(
                 "Évaluée seulement sur une cohorte synthétique dont l’insuffisance rénale est connue : la "
                 "sensibilité sur le PMSI réel reste à mesurer.")))
    _publish(demo, people["léa"], slug, "0.9.0")
    _version(demo, people["léa"], slug, "1.0.0-rc.1", code=_zip_text(sql), card="")
    demo.log("demo content ready")
    return True


def _query_metrics() -> list[dict[str, Any]]:
    """Sensitivity and PPV of the kidney-disease query, run (simulated) on a synthetic cohort whose truth is known."""
    import numpy as np

    frame = _cohort(20_000, 9)
    rng = np.random.default_rng(909)  # not the cohort's seed: its draws would replay those that made "ckd"
    truth = frame["ckd"].to_numpy() == 1
    found = truth & (rng.random(len(frame)) < 0.85) | ~truth & (rng.random(len(frame)) < 0.004)
    out = []
    for name, hits, pool in (("sensibilité", found & truth, truth), ("valeur prédictive positive", found & truth, found)):
        value = hits.sum() / pool.sum()
        boots = []
        for _ in range(200):
            idx = rng.integers(0, len(frame), len(frame))
            boots.append(hits[idx].sum() / max(1, pool[idx].sum()))
        low, high = np.percentile(boots, [2.5, 97.5])
        out.append({"name": name, "value": round(float(value), 4), "ci_low": round(float(low), 4),
                    "ci_high": round(float(high), 4), "level": 0.95,
                    "dataset": "cohorte synthétique, insuffisance rénale connue"})
    return out


def _table(frame, name: str) -> dict[str, Any]:
    upload = _csv_upload(frame, name)
    return {"stream": upload.stream, "filename": upload.filename}


def _algorithm(demo: Demo, author: User, slug: str, name: str, summary: str, kind: str, **fields: Any) -> None:
    with demo.session() as session:
        algorithms.create_algorithm(session, author, {"slug": slug, "name": name, "summary": summary, "kind": kind,
                                                    "license": "EUPL-1.2", **fields})


def _version(demo: Demo, author: User, slug: str, version: str, *, card: str, model: bytes | None = None,
             code: bytes | None = None) -> None:
    with demo.session() as session:
        versions.create_version(
            session, author, demo.storage, slug, version=version, card_json=card,
            model=Upload(io.BytesIO(model), "model.zip") if model else None,
            code=Upload(io.BytesIO(code), "code.zip") if code else None)


def _publish(demo: Demo, author: User, slug: str, version: str) -> None:
    with demo.session() as session:
        lifecycle.publish_version(session, author, demo.policy, slug, version)


def _rule_based_audit(demo: Demo, evaluator: User, slug: str, version: str) -> None:
    import numpy as np

    frame = _cohort(20_000, 8)
    rng = np.random.default_rng(808)  # not the cohort's seed: its draws would replay those that made "diabetes"
    truth = frame["diabetes"].to_numpy()
    frame["prediction"] = ((truth == 1) & (rng.random(len(frame)) < 0.92)
                           | (truth == 0) & (rng.random(len(frame)) < 0.006)).astype(int)
    with demo.session() as session:
        dataset = datasets.create_dataset(
            session, evaluator, demo.storage, **_table(frame.drop(columns=["prediction", "risk_score"]),
                                                       "cohorte-diabete.csv"),
            metadata={"name": "Cohorte synthétique, diabète confirmé (étalon)", "label_column": "diabetes",
                      "sensitive_columns": ["sex", "age_band", "region"], "row_key": "row_id",
                      "datasheet": {**DATASHEET, "labelling": "Diabète confirmé par le dossier médical (simulé)."}})
        dataset_id = dataset.id
    with demo.session() as session:
        predictions = datasets.create_prediction_set(
            session, evaluator, demo.storage, **_table(frame[["row_id", "prediction"]], "predictions.csv"),
            metadata={"dataset": dataset_id, "algorithm": slug, "version": version,
                      "description": "Sortie du programme SAS exécuté sur la cohorte de référence."})
        predictions_id = predictions.id
    _run_audit(demo, evaluator, {"kind": "bias", "algorithm": slug, "version": version, "dataset": dataset_id,
                                 "predictions": predictions_id, "sensitive_features": ["sex", "age_band", "region"],
                                 "reference_group": {"sex": "M", "region": "Île-de-France"}, "n_boot": 500})
