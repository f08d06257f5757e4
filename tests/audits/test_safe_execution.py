"""Safe by construction: which models run, how, and what a failing model can tell anyone.

Real MLflow models throughout: skops, ONNX, native XGBoost and LightGBM Booster models run and give
the numbers of the model called directly (a LightGBM scikit-learn model, skops or pickle, does not); every code-bearing family is marked predictions-only and never runs a line (a canary file
outside the data directory stays absent); under the opt-in bubblewrap path a hostile model cannot
open the database or a blob, and a model that raises with its rows in the message yields a fixed
reason only.
"""

from __future__ import annotations

import os
import pickle
import shutil
import stat
import textwrap
import zipfile
from pathlib import Path

import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

from audits.sandbox import SandboxError, SandboxLimits, predict_in_sandbox
from audits.sandbox_child import FAILURES
from boas.registry.artifacts.execution import decide_execution
from boas.registry.artifacts.mlmodel import read_mlmodel
from registry_db.blobs import FilesystemBlobStore
from registry_db.engine import make_engine
from registry_db.errors import ValidationFailed

pytestmark = pytest.mark.slow
COLUMNS = ["age", "bmi"]
LIMITS = SandboxLimits(cpu_seconds=60, memory_bytes=3 * 1024**3, wall_seconds=90)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"age": rng.normal(55, 12, 300).round(1), "bmi": rng.normal(27, 4, 300).round(2)})
    y = ((frame["age"] - 55) / 12 + rng.normal(0, 1, 300) > 0).astype(int)
    path = tmp_path_factory.mktemp("data") / "data.parquet"
    frame.to_parquet(path, index=False)
    return frame, y, path


@pytest.fixture(scope="module")
def fitted(cohort):
    frame, y, _ = cohort
    return LogisticRegression().fit(frame, y)


@pytest.fixture(scope="module")
def skops_model(fitted, cohort, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("m") / "skops"
    mlflow.sklearn.save_model(fitted, path, serialization_format="skops", signature=infer_signature(cohort[0]))
    return path


@pytest.fixture(scope="module")
def onnx_model(fitted, cohort, tmp_path_factory) -> Path:
    import mlflow.onnx
    from skl2onnx import to_onnx

    path = tmp_path_factory.mktemp("m") / "onnx"
    onx = to_onnx(fitted, cohort[0].to_numpy(np.float32)[:1], options={"zipmap": False}, target_opset=17)
    mlflow.onnx.save_model(onx, path, signature=infer_signature(cohort[0]))
    return path


def _decide(path: Path) -> dict:
    return decide_execution(path, read_mlmodel(path).as_dict())


def test_skops_and_onnx_models_run_and_equal_the_model_called_directly(skops_model, onnx_model, fitted, cohort):
    frame, _, data = cohort
    direct = fitted.predict_proba(frame)[:, 1]
    for path, fmt in ((skops_model, "skops"), (onnx_model, "onnx")):
        assert _decide(path) == {"mode": "execute", "format": fmt, "reasons": []}
        run = predict_in_sandbox(path, data, columns=COLUMNS, threshold=0.5, limits=LIMITS)
        assert run.format == fmt
        tolerance = 1e-12 if fmt == "skops" else 1e-5  # ONNX computes in float32
        np.testing.assert_allclose(run.y_score, direct, atol=tolerance, rtol=0)
        assert (run.y_pred == (direct >= 0.5)).mean() > 0.99
        assert run.y_pred.mean() == pytest.approx(fitted.predict(frame).mean(), abs=0.01)


class Canary:
    """Unpickles as a call that writes the canary file."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "ran"))


def _hostile_variants(skops_model: Path, root: Path, canary: Path) -> dict[str, Path]:
    variants = {}

    def copy(name: str) -> Path:
        target = root / name
        shutil.copytree(skops_model, target)
        variants[name] = target
        return target

    payload = pickle.dumps(Canary(canary), protocol=4)
    copy("pickle-named-skops")
    (root / "pickle-named-skops" / "model.skops").write_bytes(payload)  # declared skops, is a pickle
    for proto in (0, 1, 5):
        (copy(f"pickle-protocol-{proto}") / "weights.bin").write_bytes(pickle.dumps(Canary(canary), protocol=proto))
    with zipfile.ZipFile(copy("pickle-in-zip") / "extras.dat", "w") as archive:
        archive.writestr("inner/state", payload)
    import gzip

    (copy("pickle-gzipped") / "cache.z").write_bytes(gzip.compress(payload))
    import joblib

    joblib.dump(Canary(canary), copy("joblib-zlib") / "state.npz", compress=3)
    undeclared = copy("no-format-line")  # MLflow then defaults to pickle
    (undeclared / "MLmodel").write_text((undeclared / "MLmodel").read_text().replace(
        "    serialization_format: skops\n", ""))
    (undeclared / "model.skops").write_bytes(payload)
    loader = copy("custom-loader")
    text = (loader / "MLmodel").read_text().replace("loader_module: mlflow.sklearn", "loader_module: evil_loader")
    (loader / "MLmodel").write_text(text)
    code = copy("code-directory")
    (code / "code").mkdir()
    (code / "code" / "helper.txt").write_text("not python, but a code directory all the same")
    (code / "MLmodel").write_text((code / "MLmodel").read_text().replace("code: null", "code: code"))
    # skops with widened trust: a type outside BOAS's list, whatever MLmodel's skops_trusted_types says
    widened = copy("skops-widened-trust")
    (widened / "MLmodel").write_text((widened / "MLmodel").read_text().replace(
        "skops_trusted_types: null", "skops_trusted_types:\n    - builtins.eval"))
    with zipfile.ZipFile(widened / "model.skops") as src:
        files = {n: src.read(n) for n in src.namelist()}
    files["schema.json"] = files["schema.json"].replace(b'"LogisticRegression"', b'"Popen"').replace(
        b'"sklearn.linear_model._logistic"', b'"subprocess"')
    with zipfile.ZipFile(widened / "model.skops", "w") as dst:
        for name, data in files.items():
            dst.writestr(name, data)
    return variants


def _model_from_code(root: Path, canary: Path, frame: pd.DataFrame) -> Path:
    source = root / "model_code.py"
    source.write_text(textwrap.dedent(f"""
        import mlflow.pyfunc
        from pathlib import Path
        class M(mlflow.pyfunc.PythonModel):
            def predict(self, context, model_input):
                Path({str(canary)!r}).write_text("ran")
                return [0] * len(model_input)
        mlflow.models.set_model(M())
    """))
    path = root / "from-code"
    mlflow.pyfunc.save_model(path, python_model=str(source), signature=infer_signature(frame))
    return path


def test_every_code_bearing_family_is_predictions_only_and_never_runs(skops_model, cohort, tmp_path):
    frame, _, data = cohort
    canary = tmp_path / "outside" / "canary"
    canary.parent.mkdir()
    variants = _hostile_variants(skops_model, tmp_path / "models", canary)
    variants["from-code"] = _model_from_code(tmp_path, canary, frame)
    expected = {"pickle-named-skops": "pickle", "pickle-protocol-0": "pickle", "pickle-protocol-1": "pickle",
                "pickle-protocol-5": "pickle", "pickle-in-zip": "pickle", "pickle-gzipped": "pickle",
                "joblib-zlib": "pickle", "no-format-line": "pickle",
                "custom-loader": "custom_loader", "code-directory": "code_directory",
                "skops-widened-trust": "untrusted_type", "from-code": "model_from_code"}
    for name, path in variants.items():
        try:
            decision = _decide(path)
        except ValidationFailed:  # MLflow writes a model from code with an absolute path: refused at upload
            assert name == "from-code"
            continue
        assert decision["mode"] == "predictions_only", name
        assert expected[name] in {r["code"] for r in decision["reasons"]}, (name, decision)
        with pytest.raises(SandboxError) as refused:
            predict_in_sandbox(path, data, columns=COLUMNS, threshold=0.5, limits=LIMITS)
        assert refused.value.code == "refused_format", name
    assert not canary.exists()


def test_the_data_directory_is_owner_only_and_older_modes_are_fixed(tmp_path):
    import hashlib

    data_dir = tmp_path / "data"
    blobs = FilesystemBlobStore(data_dir)
    blobs.ensure()
    engine = make_engine(f"sqlite:///{data_dir / 'boas.db'}")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    engine.dispose()
    stage = blobs.staging_dir()
    (stage / "f").write_bytes(b"reference rows")
    digest = hashlib.sha256(b"reference rows").hexdigest()
    blobs.adopt(stage / "f", digest)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "boas.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(blobs.path_for(digest).stat().st_mode) == 0o600
    os.chmod(data_dir, 0o755)  # noqa: S103 - the old, too-open mode the start must fix
    os.chmod(blobs.path_for(digest), 0o444)
    os.chmod(data_dir / "boas.db", 0o644)
    FilesystemBlobStore(data_dir).ensure()
    make_engine(f"sqlite:///{data_dir / 'boas.db'}").dispose()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(blobs.path_for(digest).stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "boas.db").stat().st_mode) == 0o600


# -- the opt-in path: models that carry code, under bubblewrap only ----------------------------------

needs_bwrap = pytest.mark.usefixtures("bubblewrap")  # fails, never skips, without it


def _code_model(root: Path, body: str) -> Path:
    from tests.audits.test_sandbox import code_model

    return code_model(root, body)


@needs_bwrap
def test_a_model_raising_its_rows_yields_only_the_fixed_reason(cohort, tmp_path, caplog):
    frame, _, data = cohort
    model = _code_model(tmp_path, 'print(model_input.to_csv())\nraise ValueError("rows: " + model_input.head(12).to_csv())')
    with pytest.raises(SandboxError) as failure:
        predict_in_sandbox(model, data, columns=COLUMNS, threshold=0.5, limits=LIMITS, allow_code=True)
    error = failure.value
    assert error.code == "crash" and error.reason == FAILURES["crash"]
    public = f"{error} {error.reason} {error.args} {caplog.text}"
    assert not any(f"{v}" in public for v in frame["age"].head(12))
    assert f"{frame['age'].iloc[0]}" in error.untrusted_detail  # kept, truncated, for admins


@needs_bwrap
def test_the_model_runs_as_nobody_without_network_host_files_or_ctypes_escape(cohort, tmp_path):
    frame, _, data = cohort
    canary = tmp_path / "canary"
    model = _code_model(tmp_path, f"""
        import ctypes, socket
        libc = ctypes.CDLL(None)
        libc.system(b"touch {canary}")
        checks = [os.getuid() == 65534, not os.path.exists("/etc/passwd"), not os.path.exists({str(tmp_path)!r})]
        try:
            socket.create_connection(("127.0.0.1", 22), 1)
            checks.append(False)
        except Exception:
            checks.append(True)
        return [int(all(checks))] * len(model_input)
    """)
    run = predict_in_sandbox(model, data, columns=COLUMNS, threshold=0.5, limits=LIMITS, allow_code=True)
    assert run.isolation.startswith("bwrap") and run.y_pred.tolist() == [1] * len(frame)
    assert not canary.exists()


@needs_bwrap
@pytest.mark.parametrize(("payload", "code"), [
    ("import ctypes\nlibc = ctypes.CDLL(None)\nfor _ in range(64):\n    libc.fork()\n"
     "import time\ntime.sleep(30)\nreturn [0] * len(model_input)", {"crash", "memory"}),  # count or summed RSS
    ("blocks = []\nwhile True:\n    blocks.append(bytes(64 * 1024**2))", {"memory"}),
    ("for i in range(40):\n    pathlib.Path(f'fill-{i}').write_bytes(bytes(16 * 1024**2))\n"
     "import time\ntime.sleep(30)\nreturn [0] * len(model_input)", {"crash"}),
], ids=["fork", "memory", "disk"])
def test_fork_memory_and_disk_payloads_are_stopped(payload, code, cohort, tmp_path):
    _, _, data = cohort
    model = _code_model(tmp_path, payload)
    limits = SandboxLimits(cpu_seconds=60, memory_bytes=1024**3, wall_seconds=45, max_file_bytes=128 * 1024**2)
    with pytest.raises(SandboxError) as failure:
        predict_in_sandbox(model, data, columns=COLUMNS, threshold=0.5, limits=limits, allow_code=True)
    assert failure.value.code in code
    assert "killed by the watchdog" in failure.value.untrusted_detail or code == {"memory"}


@needs_bwrap
def test_under_bubblewrap_a_model_cannot_open_the_database_or_a_blob(cohort, tmp_path):
    import hashlib

    _, _, data = cohort
    base = Path(os.path.realpath(Path.home())) / f".boas-test-{os.getpid()}"  # outside /tmp
    try:
        data_dir = base / "data"
        blobs = FilesystemBlobStore(data_dir)
        blobs.ensure()
        make_engine(f"sqlite:///{data_dir / 'boas.db'}").dispose()
        stage = blobs.staging_dir()
        (stage / "f").write_bytes(b"reference rows")
        digest = hashlib.sha256(b"reference rows").hexdigest()
        blobs.adopt(stage / "f", digest)
        targets = [str(data_dir / "boas.db"), str(blobs.path_for(digest)), str(data_dir)]
        model = _code_model(tmp_path, f"""
            opened = []
            for target in {targets!r}:
                try:
                    os.listdir(target) if os.path.isdir(target) else open(target, "rb").close()
                    opened.append(target)
                except OSError:
                    pass
            return [int(not opened)] * len(model_input)
        """)
        run = predict_in_sandbox(model, data, columns=COLUMNS, threshold=0.5, limits=LIMITS, allow_code=True,
                                 hidden=(str(data_dir),))
        assert run.y_pred.min() == 1  # not one of them could be opened
    finally:
        shutil.rmtree(base, ignore_errors=True)


# -- XGBoost and LightGBM: their native files run, read by their own parsers -----------------------


@pytest.fixture(scope="module")
def native_models(cohort, tmp_path_factory) -> dict[str, tuple[Path, object]]:
    """Real models saved by MLflow's flavours: (directory, the fitted model to call directly)."""
    import lightgbm
    import mlflow.lightgbm
    import mlflow.xgboost
    import xgboost

    frame, y, _ = cohort
    root, signature = tmp_path_factory.mktemp("native"), infer_signature(frame)
    classifier = xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(frame, y)
    booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                            xgboost.DMatrix(frame, y), num_boost_round=15)
    lgb_booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                                 lightgbm.Dataset(frame, y), num_boost_round=15)
    lgb_sklearn = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1, n_jobs=1).fit(frame, y)
    models = {"xgb-classifier": classifier, "xgb-booster": booster, "xgb-booster-json": booster,
              "lgb-booster": lgb_booster}
    for name, model in models.items():
        extra = {"model_format": "json"} if name.endswith("-json") else {}
        saver = mlflow.lightgbm if name.startswith("lgb") else mlflow.xgboost
        saver.save_model(model, root / name, signature=signature, pip_requirements=[], **extra)
    for fmt in ("skops", "pickle"):
        mlflow.lightgbm.save_model(lgb_sklearn, root / f"lgb-sklearn-{fmt}", signature=signature,
                                   serialization_format=fmt, pip_requirements=[])
        models[f"lgb-sklearn-{fmt}"] = lgb_sklearn
    return {name: (root / name, model) for name, model in models.items()}


def _direct_scores(model: object, frame: pd.DataFrame) -> np.ndarray:
    import xgboost

    if isinstance(model, xgboost.Booster):
        return model.predict(xgboost.DMatrix(frame))
    if hasattr(model, "predict_proba"):
        return model.predict_proba(frame)[:, 1]
    return model.predict(frame)


def test_native_xgboost_and_lightgbm_models_run_and_equal_the_model_called_directly(native_models, cohort):
    frame, _, data = cohort
    for name in ("xgb-classifier", "xgb-booster", "xgb-booster-json", "lgb-booster"):
        path, model = native_models[name]
        fmt = "lightgbm" if name.startswith("lgb") else "xgboost"
        assert _decide(path) == {"mode": "execute", "format": fmt, "reasons": []}, name
        direct = np.asarray(_direct_scores(model, frame), dtype=np.float64)
        reordered = data.with_name(f"{name}.parquet")  # the signature's order, not the file's, decides
        frame[COLUMNS[::-1]].to_parquet(reordered, index=False)
        run = predict_in_sandbox(path, reordered, columns=COLUMNS, threshold=0.5, limits=LIMITS)
        assert run.format == fmt, name
        np.testing.assert_array_equal(run.y_score, direct)
        np.testing.assert_array_equal(run.y_pred, (direct >= 0.5).astype(int))
        assert 0.05 < run.y_pred.mean() < 0.95, name  # a model that separates, not a constant


def test_a_lightgbm_scikit_learn_model_is_predictions_only_in_skops_and_in_pickle(native_models, cohort):
    _, _, data = cohort
    skops_dir, pickle_dir = native_models["lgb-sklearn-skops"][0], native_models["lgb-sklearn-pickle"][0]
    assert _decide(skops_dir) == {"mode": "predictions_only", "format": "code", "reasons": [
        {"code": "unsupported_format", "path": "model_class: lightgbm.sklearn.LGBMClassifier"}]}
    pickled = _decide(pickle_dir)
    assert pickled["mode"] == "predictions_only"
    assert {"code": "pickle", "path": "model.pkl"} in pickled["reasons"]
    for path in (skops_dir, pickle_dir):
        with pytest.raises(SandboxError) as refused:
            predict_in_sandbox(path, data, columns=COLUMNS, threshold=0.5, limits=LIMITS)
        assert refused.value.code == "refused_format"


def _native_variant(source: Path, root: Path, name: str, edit=None, replace=None) -> Path:
    target = root / name
    shutil.copytree(source, target)
    if edit is not None:
        (target / "MLmodel").write_text(edit((target / "MLmodel").read_text()))
    for rel, data in (replace or {}).items():
        (target / rel).write_bytes(data)
    return target


def test_hostile_xgboost_and_lightgbm_flavours_never_run(native_models, cohort, tmp_path):
    _, _, data = cohort
    canary = tmp_path / "outside" / "canary"
    canary.parent.mkdir()
    payload = pickle.dumps(Canary(canary), protocol=4)
    xgb_dir, lgb_dir, root = native_models["xgb-booster"][0], native_models["lgb-booster"][0], tmp_path / "m"
    variants = {
        # the file a native flavour names is a pickle (XGBoost would refuse it; mlflow's old loaders would not)
        "xgb-file-is-pickle": (_native_variant(xgb_dir, root, "a", replace={"model.ubj": payload}), "pickle"),
        "lgb-file-is-pickle": (_native_variant(lgb_dir, root, "b", replace={"model.lgb": payload}), "pickle"),
        # a class to import instead of a Booster: mlflow.xgboost would import and call it
        "xgb-odd-class": (_native_variant(xgb_dir, root, "c", edit=lambda t: t.replace(
            "model_class: xgboost.core.Booster", "model_class: subprocess.Popen")), "unsupported_format"),
        "xgb-legacy-format": (_native_variant(xgb_dir, root, "d", edit=lambda t: t.replace(
            "model_format: ubj", "model_format: deprecated")), "unsupported_format"),
        "xgb-not-its-format": (_native_variant(xgb_dir, root, "e", replace={"model.ubj": b"\x00binary\x00"}),
                               "unsupported_format"),
        "lgb-sklearn-class": (_native_variant(lgb_dir, root, "f", edit=lambda t: t.replace(
            "model_class: lightgbm.basic.Booster", "model_class: lightgbm.sklearn.LGBMClassifier")),
            "unsupported_format"),
        "lgb-own-loader": (_native_variant(lgb_dir, root, "g", edit=lambda t: t.replace(
            "loader_module: mlflow.lightgbm", "loader_module: lgb_loader")), "custom_loader"),
        "xgb-code-directory": (_native_variant(xgb_dir, root, "h", edit=lambda t: t.replace(
            "    code: null", "    code: model.ubj")), "code_directory"),
    }
    for name, (path, reason) in variants.items():
        decision = _decide(path)
        assert decision["mode"] == "predictions_only", name
        assert reason in {r["code"] for r in decision["reasons"]}, (name, decision)
        with pytest.raises(SandboxError) as refused:
            predict_in_sandbox(path, data, columns=COLUMNS, threshold=0.5, limits=LIMITS)
        assert refused.value.code == "refused_format", name
    outside = _native_variant(xgb_dir, root, "i", edit=lambda t: t.replace("data: model.ubj", "data: ../a/model.ubj"))
    with pytest.raises(ValidationFailed, match="escapes the model directory"):
        read_mlmodel(outside)
    linked = _native_variant(xgb_dir, root, "j")
    (linked / "model.ubj").unlink()
    os.symlink(xgb_dir / "model.ubj", linked / "model.ubj")  # a file of the model that is a host file
    with pytest.raises(ValidationFailed, match="resolves outside the model directory"):
        read_mlmodel(linked)
    assert not canary.exists()


def test_a_skops_file_holding_a_bound_method_of_a_trusted_type_is_not_executed(skops_model, tmp_path):
    """skops's MethodNode gives ``getattr(obj, func)`` of a trusted type: a callable BOAS never listed."""
    import json

    import skops.io

    model = tmp_path / "method"
    shutil.copytree(skops_model, model)
    with zipfile.ZipFile(model / "model.skops") as src:
        files = {n: src.read(n) for n in src.namelist()}
    schema = json.loads(files["schema.json"])
    empty = {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {},
             "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": []}}
    schema["content"]["content"]["callback"] = {"__class__": "dict", "__module__": "builtins",
                                                "__loader__": "MethodNode", "content": {"func": "clear", "obj": empty}}
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(model / "model.skops", "w") as dst:
        for name, data in files.items():
            dst.writestr(name, data)
    assert "builtins.dict.clear" in skops.io.get_untrusted_types(file=model / "model.skops")  # skops agrees
    decision = _decide(model)
    assert decision["mode"] == "predictions_only"
    assert {"code": "untrusted_type", "path": "builtins.dict.clear"} in decision["reasons"]


def test_staging_and_chunks_after_the_start_do_not_walk_the_data_directory_again(tmp_path, monkeypatch):
    """The start secures the tree once; an upload, a chunk or a job must not stat every stored blob again."""
    import hashlib
    import io

    import registry_db.blobs as blobs_module

    blobs = FilesystemBlobStore(tmp_path / "data")
    blobs.ensure()
    walked: list[str] = []
    real_walk = os.walk
    monkeypatch.setattr(blobs_module.os, "walk", lambda top, *a, **k: walked.append(str(top)) or real_walk(top, *a, **k))
    stage = blobs.staging_dir()
    (stage / "f").write_bytes(b"reference rows")
    blobs.adopt(stage / "f", hashlib.sha256(b"reference rows").hexdigest())
    token = "t" * 43
    part, _digest, _size = blobs.receive_chunk(io.BytesIO(b"chunk"), token, 1024, "chunk")
    blobs.append_chunk(token, 0, part)
    assert walked == []
    assert stat.S_IMODE(stage.stat().st_mode) == 0o700
    assert stat.S_IMODE(blobs.resumable_path(token).stat().st_mode) == 0o600
