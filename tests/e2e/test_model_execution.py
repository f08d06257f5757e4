"""How a version's model is audited, through real HTTP: the decision recorded at upload, the signature
rule, the executed formats (skops, ONNX, XGBoost, LightGBM) against the models called directly, MLmodel
tricks, and a failing model whose message carries the dataset's rows.

The raising model runs on an instance that opts in (``sandbox_allow_code``), under bubblewrap. Its
author, the evaluator and the public read one fixed reason; every API answer, job page and log line
they could see is scanned for the dataset's values; the admin alone sees the model's own words.
"""

from __future__ import annotations

import logging
import shutil
import textwrap
import uuid

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature

from audits.synth import generate_cohort
from boas.registry import accounts
from tests.conftest import BACKENDS, zip_dir
from tests.e2e.test_audits_api import upload_dataset
from tests.factories import create_algorithm, upload_version
from tests.pages.conftest import committed_app, sign_in
from tests.pages.content import PASSWORD

pytestmark = pytest.mark.slow


def test_an_ml_model_without_an_input_signature_is_refused_naming_signature(client, make_account, mlflow_model_dir,
                                                                             tmp_path):
    model = tmp_path / "model"
    shutil.copytree(mlflow_model_dir, model)
    text = (model / "MLmodel").read_text()
    start = text.index("signature:")
    end = text.index("type_hint_from_example") if "type_hint_from_example" in text else len(text)
    (model / "MLmodel").write_text(text[:start] + text[end:])
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    response = upload_version(client, author, algo["slug"], "1.0.0", zip_dir(model))
    assert response.status_code == 422
    assert "signature" in response.get_json()["errors"]
    assert client.get(f"/api/v1/algorithms/{algo['slug']}/versions", headers=author).get_json() == []


@pytest.fixture(params=BACKENDS)
def plain_app(request, tmp_path):
    app, close = committed_app(tmp_path, request.param)
    yield app
    close()


def test_the_execution_decision_is_recorded_shown_and_stated_on_the_card(plain_app, model_zip):
    client = plain_app.test_client()
    people = _people(plain_app)
    algo = create_algorithm(client, people["author"][1])
    created = upload_version(client, people["author"][1], algo["slug"], "1.0.0", model_zip).get_json()
    assert created["execution"] == {"mode": "execute", "format": "skops", "reasons": []}
    browser = plain_app.test_client()
    assert sign_in(browser, people["author"][0], lang="en").status_code == 303
    english = browser.get(f"/en/algorithms/{algo['slug']}/1.0.0")
    assert english.status_code == 200
    assert "Audited by running the model in the sandbox" in english.get_data(as_text=True)
    assert "SKOPS" in english.get_data(as_text=True)
    french = browser.get(f"/fr/algorithms/{algo['slug']}/1.0.0").get_data(as_text=True)
    assert "Audité en exécutant le modèle dans le bac à sable" in french


@pytest.fixture(params=BACKENDS)
def opted_in(request, tmp_path, bubblewrap):
    app, close = committed_app(tmp_path, request.param, sandbox_allow_code=True)
    yield app
    close()


def _people(app):
    found = {}
    for role in ("author", "evaluator", "admin"):
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        with app.extensions["boas"].session_factory() as s:
            accounts.create_user(s, None, email=email, role=role, name=role, bootstrap=True, password=PASSWORD)
            token = accounts.create_token(s, None, user_email=email, bootstrap=True).secret
        found[role] = (email, {"Authorization": f"Bearer {token}"})
    return found


def _raising_model_zip(tmp_path, frame: pd.DataFrame) -> bytes:
    source = tmp_path / "raising_model.py"
    source.write_text(textwrap.dedent("""
        import mlflow
        from mlflow.pyfunc import PythonModel

        class Model(PythonModel):
            def predict(self, context, model_input, params=None):
                print(model_input.to_csv())
                raise ValueError("the rows I was given: " + model_input.head(12).to_csv())

        mlflow.models.set_model(Model())
    """))
    path = tmp_path / "raising"
    mlflow.pyfunc.save_model(path, python_model=str(source), signature=infer_signature(frame))
    mlmodel = path / "MLmodel"  # MLflow records the absolute source path, which BOAS refuses
    mlmodel.write_text(mlmodel.read_text().replace(f"model_code_path: {source}", f"model_code_path: {source.name}"))
    return zip_dir(path)


def test_a_model_raising_its_rows_shows_only_a_fixed_reason_except_to_admins(opted_in, tmp_path, caplog):
    client = opted_in.test_client()
    people = _people(opted_in)
    author, evaluator, admin = (people[r][1] for r in ("author", "evaluator", "admin"))
    rng = np.random.default_rng(5)
    frame = generate_cohort(300, seed=12)
    frame["lab_value"] = (rng.random(len(frame)) * 1000 + 123.0).round(4) + 0.0001  # distinctive values
    inputs = frame[["age", "lab_value"]]
    algo = create_algorithm(client, author)
    created = upload_version(client, author, algo["slug"], "1.0.0", _raising_model_zip(tmp_path, inputs))
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["execution"]["mode"] == "predictions_only"
    assert {r["code"] for r in created.get_json()["execution"]["reasons"]} >= {"model_from_code", "python_source"}
    dataset = upload_dataset(client, evaluator, frame).get_json()
    caplog.set_level(logging.INFO)
    launched = client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "bias", "algorithm": algo["slug"], "version": "1.0.0", "dataset": dataset["id"],
        "sensitive_features": ["sex"], "n_boot": 10})
    assert launched.status_code == 202, launched.get_json()
    job_id = launched.get_json()["id"]

    secrets = {f"{v}" for v in frame["lab_value"].head(12)}
    seen: list[str] = [caplog.text]
    for headers in (author, evaluator):
        job = client.get(f"/api/v1/audits/{job_id}", headers=headers)
        assert job.status_code == 200
        body = job.get_json()
        assert body["status"] == "failed" and body["error_code"] == "crash"
        assert body["error"] == "the model failed while it was loaded or while it predicted"
        assert "untrusted_detail" not in body and "traceback_tail" not in (body["provenance"] or {})
        seen.append(job.get_data(as_text=True))
        seen.append(client.get("/api/v1/audits", headers=headers).get_data(as_text=True))
    assert client.get(f"/api/v1/audits/{job_id}").status_code == 404  # a draft's audit is not public
    for role in ("author", "evaluator"):
        browser = opted_in.test_client()
        assert sign_in(browser, people[role][0], lang="en").status_code == 303
        page = browser.get(f"/en/workspace/jobs/{job_id}")
        assert page.status_code == 200
        assert "the model failed while it was loaded or while it predicted" in page.get_data(as_text=True)
        seen.append(page.get_data(as_text=True))
    leaked = [value for value in secrets if any(value in text for text in seen)]
    assert leaked == []

    full = client.get(f"/api/v1/audits/{job_id}", headers=admin).get_json()
    assert any(value in full["untrusted_detail"] for value in secrets)
    assert ",age,lab_value" in full["untrusted_detail"]  # the model was handed its signature's columns only
    assert "deprivation_quintile" not in full["untrusted_detail"] and "age_band" not in full["untrusted_detail"]
    assert len(full["untrusted_detail"]) <= 6000
    browser = opted_in.test_client()
    assert sign_in(browser, people["admin"][0], lang="fr").status_code == 303
    page = browser.get(f"/fr/workspace/jobs/{job_id}").get_data(as_text=True)
    assert "non fiable" in page and any(value in page for value in secrets)


def test_launching_an_execution_audit_of_a_code_bearing_model_is_refused(client, make_account, mlflow_model_dir,
                                                                         tmp_path):
    import pickle

    model = tmp_path / "model"
    shutil.copytree(mlflow_model_dir, model)
    (model / "weights.bin").write_bytes(pickle.dumps({"a": np.arange(3)}))  # any name: found by its bytes
    _, author = make_account("author")
    _, evaluator = make_account("evaluator")
    algo = create_algorithm(client, author)
    version = upload_version(client, author, algo["slug"], "1.0.0", zip_dir(model)).get_json()
    assert version["execution"]["mode"] == "predictions_only"
    assert {"code": "pickle", "path": "weights.bin"} in version["execution"]["reasons"]
    frame = generate_cohort(200, seed=3)
    frame["deprivation"] = frame["deprivation_quintile"]
    dataset = upload_dataset(client, evaluator, frame).get_json()
    refused = client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "bias", "algorithm": algo["slug"], "version": "1.0.0", "dataset": dataset["id"],
        "sensitive_features": ["sex"], "n_boot": 10})
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["code"] == "model_not_executable" and "predictions" in refused.get_json()["errors"]


def test_skops_and_onnx_versions_are_audited_by_execution_with_the_models_own_numbers(plain_app, tmp_path):
    import mlflow.onnx
    import mlflow.sklearn
    import onnxruntime
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    from audits.synth import split_features

    client = plain_app.test_client()
    people = _people(plain_app)
    author, evaluator = people["author"][1], people["evaluator"][1]
    X, y = split_features(generate_cohort(5000, seed=31))
    model = LogisticRegression(max_iter=1000).fit(X, y)
    signature = infer_signature(X.head(20))
    mlflow.sklearn.save_model(model, tmp_path / "skops", serialization_format="skops", signature=signature)
    onx = to_onnx(model, X.head(1).to_numpy(np.float32), options={"zipmap": False}, target_opset=17)
    mlflow.onnx.save_model(onx, tmp_path / "onnx", signature=signature)
    frame = generate_cohort(3000, seed=32)
    frame["sex_f"] = (frame["sex"] == "F").astype(int)  # the features split_features derives
    dataset = upload_dataset(client, evaluator, frame).get_json()
    features, _ = split_features(frame)
    session = onnxruntime.InferenceSession(str(tmp_path / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    direct = {"skops": model.predict_proba(features)[:, 1],
              "onnx": session.run(["probabilities"], {"X": features.to_numpy(np.float32)})[0][:, 1]}
    rates = {}
    for fmt in ("skops", "onnx"):
        algo = create_algorithm(client, author)
        version = upload_version(client, author, algo["slug"], "1.0.0", zip_dir(tmp_path / fmt)).get_json()
        assert version["execution"] == {"mode": "execute", "format": fmt, "reasons": []}
        launched = client.post("/api/v1/audits", headers=evaluator, json={
            "kind": "bias", "algorithm": algo["slug"], "version": "1.0.0", "dataset": dataset["id"],
            "sensitive_features": ["sex"], "threshold": 0.2, "n_boot": 20})
        assert launched.status_code == 202, launched.get_json()
        job = client.get(f"/api/v1/audits/{launched.get_json()['id']}", headers=evaluator).get_json()
        assert job["status"] == "succeeded", (job["error"], job["error_code"])
        assert job["provenance"]["predictions"]["format"] == fmt
        selected = direct[fmt] >= 0.2
        assert job["result"]["overall"]["metrics"]["selection_rate"]["value"] == pytest.approx(selected.mean(), abs=1e-12)
        groups = {g["group"]: g["metrics"]["selection_rate"]["value"] for g in job["result"]["features"][0]["groups"]}
        for group, rate in groups.items():
            assert rate == pytest.approx(selected[(frame["sex"] == group).to_numpy()].mean(), abs=1e-12)
        rates[fmt] = groups
    assert rates["skops"] == pytest.approx(rates["onnx"], abs=1e-3)  # float32 ONNX may flip a rare borderline row


def test_xgboost_and_lightgbm_versions_are_audited_by_execution_with_the_models_own_numbers(plain_app, tmp_path):
    import lightgbm
    import mlflow.lightgbm
    import mlflow.xgboost
    import xgboost

    from audits.synth import split_features

    client = plain_app.test_client()
    people = _people(plain_app)
    author, evaluator = people["author"][1], people["evaluator"][1]
    X, y = split_features(generate_cohort(4000, seed=41))
    signature = infer_signature(X.head(20))
    models = {
        "xgboost": xgboost.XGBClassifier(n_estimators=40, max_depth=3, n_jobs=1).fit(X, y),
        "lightgbm": lightgbm.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                                   lightgbm.Dataset(X, y), num_boost_round=40),
    }
    mlflow.xgboost.save_model(models["xgboost"], tmp_path / "xgboost", signature=signature, pip_requirements=[])
    mlflow.lightgbm.save_model(models["lightgbm"], tmp_path / "lightgbm", signature=signature, pip_requirements=[])
    frame = generate_cohort(3000, seed=42)
    frame["sex_f"] = (frame["sex"] == "F").astype(int)  # the features split_features derives
    dataset = upload_dataset(client, evaluator, frame).get_json()
    features, _ = split_features(frame)
    direct = {"xgboost": models["xgboost"].predict_proba(features)[:, 1].astype(np.float64),
              "lightgbm": models["lightgbm"].predict(features)}
    for fmt in ("xgboost", "lightgbm"):
        algo = create_algorithm(client, author)
        version = upload_version(client, author, algo["slug"], "1.0.0", zip_dir(tmp_path / fmt))
        assert version.status_code == 201, version.get_json()
        assert version.get_json()["execution"] == {"mode": "execute", "format": fmt, "reasons": []}
        launched = client.post("/api/v1/audits", headers=evaluator, json={
            "kind": "bias", "algorithm": algo["slug"], "version": "1.0.0", "dataset": dataset["id"],
            "sensitive_features": ["sex"], "threshold": 0.3, "n_boot": 20})
        assert launched.status_code == 202, launched.get_json()
        job = client.get(f"/api/v1/audits/{launched.get_json()['id']}", headers=evaluator).get_json()
        assert job["status"] == "succeeded", (job["error"], job["error_code"])
        assert job["provenance"]["predictions"]["format"] == fmt
        selected = direct[fmt] >= 0.3
        assert 0.05 < selected.mean() < 0.95
        assert job["result"]["overall"]["metrics"]["selection_rate"]["value"] == pytest.approx(selected.mean(), abs=1e-12)
        groups = {g["group"]: g["metrics"]["selection_rate"]["value"] for g in job["result"]["features"][0]["groups"]}
        assert set(groups) == {"F", "M"}
        for group, rate in groups.items():
            assert rate == pytest.approx(selected[(frame["sex"] == group).to_numpy()].mean(), abs=1e-12)


def test_hostile_xgboost_and_lightgbm_uploads_are_refused_or_predictions_only(client, make_account, tmp_path):
    import pickle

    import lightgbm
    import mlflow.lightgbm
    import mlflow.xgboost
    import xgboost

    from audits.synth import split_features

    X, y = split_features(generate_cohort(500, seed=43))
    signature = infer_signature(X.head(20))
    booster = xgboost.train({"objective": "binary:logistic", "nthread": 1}, xgboost.DMatrix(X, y), 5)
    mlflow.xgboost.save_model(booster, tmp_path / "xgb-pickle", signature=signature, pip_requirements=[])
    shutil.copytree(tmp_path / "xgb-pickle", tmp_path / "xgb-outside")
    (tmp_path / "xgb-pickle" / "model.ubj").write_bytes(pickle.dumps({"weights": np.arange(3)}, protocol=2))
    mlmodel = tmp_path / "xgb-outside" / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("    data: model.ubj", "    data: ../../model.ubj", 1))
    mlflow.lightgbm.save_model(lightgbm.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1).fit(X, y),
                               tmp_path / "lgb-pickle", signature=signature, serialization_format="pickle",
                               pip_requirements=[])
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    outside = upload_version(client, author, algo["slug"], "0.9.0", zip_dir(tmp_path / "xgb-outside"))
    assert outside.status_code == 422
    assert "escapes the model directory" in " ".join(outside.get_json()["errors"]["model"])
    for number, name in (("1.0.0", "xgb-pickle"), ("1.1.0", "lgb-pickle")):
        created = upload_version(client, author, algo["slug"], number, zip_dir(tmp_path / name))
        assert created.status_code == 201, created.get_json()
        execution = created.get_json()["execution"]
        assert execution["mode"] == "predictions_only" and execution["format"] == "code", name
        assert "pickle" in {r["code"] for r in execution["reasons"]}, execution
    versions = client.get(f"/api/v1/algorithms/{algo['slug']}/versions", headers=author).get_json()
    assert sorted(v["version"] for v in versions) == ["1.0.0", "1.1.0"]


MLMODEL_TRICKS = {
    # (how MLmodel is edited, what the upload answers: an execution reason, or "422")
    "loader-as-a-list": (("loader_module: mlflow.sklearn", "loader_module: [mlflow.sklearn]"), "custom_loader"),
    "loader-as-a-mapping": (("loader_module: mlflow.sklearn", "loader_module: {m: mlflow.sklearn}"), "custom_loader"),
    "duplicate-loader-key": (("loader_module: mlflow.sklearn", "loader_module: mlflow.sklearn\n    loader_module: evil"),
                             "custom_loader"),  # YAML's last key wins, for MLflow as for BOAS
    "python-name-tag": (("loader_module: mlflow.sklearn", "loader_module: !!python/name:os.system"), "422"),
    "python-apply-tag": (("predict_fn: predict", "predict_fn: !!python/object/apply:os.system [true]"), "422"),
    "merge-key-brings-code": (("  python_function:\n", "  python_function:\n    <<: {code: code}\n"), "422"),
    "alias-brings-code": (("  sklearn:\n    code: null", "  sklearn:\n    code: &c code"), "422"),
    "upper-case-flavour": (("  sklearn:", "  SKLEARN:"), "unknown_flavour"),
    "cyrillic-o-in-python-function": (("  python_function:", "  pyth\u043en_function:"), "custom_loader"),
    "zero-width-space-in-loader": (("loader_module: mlflow.sklearn", 'loader_module: "mlflow.sklearn\u200b"'),
                                   "custom_loader"),
    "billion-laughs": (("flavors:", "x0: &a [l, l, l, l, l, l, l, l, l, l]\n" + "".join(
        f"x{i}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(1, 7))
        + "flavors:"), "422"),
}


@pytest.mark.parametrize("trick", sorted(MLMODEL_TRICKS))
def test_mlmodel_yaml_tricks_are_refused_or_predictions_only_never_a_500(trick, client, make_account, mlflow_model_dir,
                                                                          tmp_path):
    (old, new), expected = MLMODEL_TRICKS[trick]
    model = tmp_path / "model"
    shutil.copytree(mlflow_model_dir, model)
    text = (model / "MLmodel").read_text()
    assert old in text
    (model / "MLmodel").write_text(text.replace(old, new, 1))
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    response = upload_version(client, author, algo["slug"], "1.0.0", zip_dir(model))
    if expected == "422":
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["errors"]["model"]
        assert client.get(f"/api/v1/algorithms/{algo['slug']}/versions", headers=author).get_json() == []
    else:
        assert response.status_code == 201, response.get_json()
        execution = response.get_json()["execution"]
        assert execution["mode"] == "predictions_only" and expected in {r["code"] for r in execution["reasons"]}
