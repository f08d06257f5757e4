"""The model sandbox: its predictions are the model's own, and hostile models are stopped by each layer.

Hostile models are built here: pickles whose ``__reduce__`` runs ``os.system``, ``open`` or a socket
connection, and MLflow models-from-code whose ``predict`` escapes, hoards memory, spins or reads
the environment. Host paths are checked afterwards from this (unconfined) process.
"""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import textwrap
import uuid
from pathlib import Path

import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from audits import sandbox
from audits.sandbox import (
    ISOLATION_NAMESPACES,
    ISOLATION_RLIMITS,
    SandboxError,
    SandboxLimits,
    predict_in_sandbox,
    predictions_digest,
    scan_pickles,
)

LIMITS = SandboxLimits(cpu_seconds=120, memory_bytes=3 * 1024**3, wall_seconds=180)
COLUMNS = ["age", "bmi", "systolic_bp"]
# Namespaces are used wherever they can be: as root with unshare (CI), else the in-process layers only.
EXPECTED_ISOLATION = ISOLATION_NAMESPACES if os.geteuid() == 0 and shutil.which("unshare") else ISOLATION_RLIMITS
OUTSIDE_DIR = Path(sandbox.__file__).resolve().parents[2]  # the project's parent directory, on the host


class Reduce:
    """An object that unpickles as ``fn(*args)``: the classic pickle payload."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame(
        {
            "age": rng.normal(55, 12, n),
            "bmi": rng.normal(27, 4, n),
            "systolic_bp": rng.normal(130, 15, n),
            "region": rng.choice(["north", "south"], n),
        }
    )
    path = tmp_path_factory.mktemp("data") / "cohort.parquet"
    frame.to_parquet(path, index=False)
    return frame, path


@pytest.fixture(scope="module")
def fitted(cohort) -> LogisticRegression:
    frame, _ = cohort
    rng = np.random.default_rng(8)
    logit = 0.08 * (frame["age"] - 55) + 0.1 * (frame["bmi"] - 27) + rng.normal(0, 1, len(frame))
    return LogisticRegression().fit(frame[COLUMNS], (logit > 0).astype(int))


@pytest.fixture(scope="module")
def pickled_model(fitted, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "cloudpickle"
    mlflow.sklearn.save_model(fitted, path, serialization_format="cloudpickle")
    return path


@pytest.fixture(scope="module")
def skops_model(fitted, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "skops"
    mlflow.sklearn.save_model(fitted, path)  # MLflow 3's default format
    return path


@pytest.fixture(scope="module")
def pickled_run(pickled_model, cohort) -> sandbox.Predictions:
    return predict_in_sandbox(pickled_model, cohort[1], columns=COLUMNS, threshold=0.4, limits=LIMITS)


def hostile_sklearn_model(pickled_model: Path, root: Path, payload: object) -> Path:
    """A valid MLflow sklearn model directory whose model.pkl (named by MLmodel) is ``payload``."""
    model = root / f"hostile-{uuid.uuid4().hex[:8]}"
    shutil.copytree(pickled_model, model)
    assert "pickled_model: model.pkl" in (model / "MLmodel").read_text()
    (model / "model.pkl").write_bytes(pickle.dumps(payload))
    return model


def code_model(root: Path, predict_body: str) -> Path:
    """An MLflow model-from-code whose predict runs ``predict_body`` (no pickle at all: the scan passes)."""
    source = root / f"model_{uuid.uuid4().hex[:8]}.py"
    source.write_text(
        "import os, pathlib\nimport mlflow\nimport pandas as pd\nfrom mlflow.pyfunc import PythonModel\n\n\n"
        "class Model(PythonModel):\n    def predict(self, context, model_input: pd.DataFrame, params=None):\n"
        + textwrap.indent(textwrap.dedent(predict_body), " " * 8)
        + "\n\nmlflow.models.set_model(Model())\n"
    )
    path = root / source.stem
    mlflow.pyfunc.save_model(path, python_model=str(source))
    mlmodel = path / "MLmodel"  # MLflow records the absolute source path, which BOAS refuses; loading uses its name
    mlmodel.write_text(mlmodel.read_text().replace(f"model_code_path: {source}", f"model_code_path: {source.name}"))
    return path


def attack(kind: str, tag: str, port: int) -> tuple[object, str]:
    """(pickle payload, the import the scan must name) for one kind of attack."""
    marker = f"/tmp/boas-marker-{tag}"
    if kind == "system":
        return Reduce(os.system, (f"touch {marker}",)), "posix.system"
    if kind == "open":
        return Reduce(open, (marker, "w")), "io.open"
    return Reduce(socket.create_connection, (("127.0.0.1", port), 3)), "socket.create_connection"


@pytest.fixture
def listener():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    yield server
    server.close()


@pytest.fixture(params=["namespaces-if-available", "rlimits-only"])
def isolation(request, monkeypatch) -> str:
    """Run a test with the machine's best isolation, then again with namespaces switched off."""
    if request.param == "rlimits-only":
        monkeypatch.setattr(sandbox, "_namespace_support", lambda: (False, "switched off by the test"))
    expected = EXPECTED_ISOLATION if request.param == "namespaces-if-available" else ISOLATION_RLIMITS
    assert sandbox._namespace_support()[0] is (expected == ISOLATION_NAMESPACES)
    return expected


def test_sandboxed_predictions_equal_the_model_called_directly(pickled_run, cohort, fitted):
    frame, _ = cohort
    result = pickled_run

    expected_score = fitted.predict_proba(frame[COLUMNS])[:, 1]
    np.testing.assert_allclose(result.y_score, expected_score, rtol=1e-12)
    np.testing.assert_array_equal(result.y_pred, (expected_score >= 0.4).astype(int))
    assert result.y_pred.dtype == np.int64 and 0 < result.y_pred.sum() < len(frame)
    assert result.isolation == EXPECTED_ISOLATION
    assert result.sha256 == predictions_digest(result.y_pred, result.y_score)
    assert result.scan.ok and result.scan.files == ["model.pkl"] and result.scan.dangerous == []
    assert "sklearn.linear_model._logistic.LogisticRegression" in result.scan.globals
    assert result.scan.as_dict()["globals"] == result.scan.globals


def test_skops_model_gives_the_same_predictions_and_digest(skops_model, pickled_run, cohort):
    from_skops = predict_in_sandbox(skops_model, cohort[1], columns=COLUMNS, threshold=0.4, limits=LIMITS)

    assert from_skops.sha256 == pickled_run.sha256
    assert from_skops.scan.files == ["model.skops"] and from_skops.scan.ok
    assert "sklearn.linear_model._logistic.LogisticRegression" in from_skops.scan.globals


@pytest.mark.parametrize("kind", ["system", "open", "socket"])
def test_dangerous_pickle_is_refused_before_any_process_starts(
    kind, pickled_model, cohort, tmp_path, listener, monkeypatch
):
    tag = uuid.uuid4().hex
    payload, dangerous_import = attack(kind, tag, listener.getsockname()[1])
    model = hostile_sklearn_model(pickled_model, tmp_path, payload)
    started = []
    monkeypatch.setattr(sandbox.subprocess, "Popen", lambda *a, **k: started.append(a))

    with pytest.raises(SandboxError, match="pickle scan found dangerous imports") as failure:
        predict_in_sandbox(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=LIMITS)

    assert dangerous_import in failure.value.reason
    assert started == []
    assert not Path(f"/tmp/boas-marker-{tag}").exists()


@pytest.mark.parametrize("kind", ["system", "open", "socket"])
def test_hostile_pickle_is_stopped_at_runtime_without_the_scan(
    kind, isolation, pickled_model, cohort, tmp_path, listener
):
    tag = uuid.uuid4().hex
    payload, _ = attack(kind, tag, listener.getsockname()[1])
    model = hostile_sklearn_model(pickled_model, tmp_path, payload)

    with pytest.raises(SandboxError, match="the sandbox blocks") as failure:
        predict_in_sandbox(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=LIMITS, scan=False)

    assert failure.value.reason.startswith("model failed:")
    assert not Path(f"/tmp/boas-marker-{tag}").exists()
    with pytest.raises(TimeoutError):
        listener.accept()  # nobody ever connected


def test_scan_covers_pickles_that_mlmodel_does_not_name(pickled_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(pickled_model, model)
    (model / "extras").mkdir()
    (model / "extras" / "helper.joblib").write_bytes(pickle.dumps(Reduce(os.system, ("true",))))
    # hand-made: scikit-learn re-exports importlib.import_module, a gadget the allowlist must not trust
    (model / "extras" / "gadget.pkl").write_bytes(b"csklearn.utils.discovery\nimport_module\n(S'os'\ntR.")

    scan = scan_pickles(model, ["model.pkl"])

    assert scan.files == ["extras/gadget.pkl", "extras/helper.joblib", "model.pkl"]
    assert scan.dangerous == ["posix.system", "sklearn.utils.discovery.import_module"] and not scan.ok
    assert "numpy.ndarray" in scan.globals and "sklearn.linear_model._logistic.LogisticRegression" in scan.globals


def test_model_directory_holding_a_symlink_is_refused(pickled_model, cohort, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(pickled_model, model)
    (model / "notes.txt").symlink_to("/etc/passwd")

    with pytest.raises(SandboxError, match=r"link or special file: notes\.txt$"):
        predict_in_sandbox(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=LIMITS)


def test_model_writing_outside_its_workdir_fails_and_leaves_nothing_on_the_host(isolation, cohort, tmp_path):
    targets = [Path(f"/tmp/boas-escape-{uuid.uuid4().hex}"), OUTSIDE_DIR / f"boas-escape-{uuid.uuid4().hex}"]
    model = code_model(
        tmp_path,
        f"""
        errors = []
        for target in {[str(t) for t in targets]!r}:
            try:
                pathlib.Path(target).write_text("escaped")
            except OSError as exc:
                errors.append(str(exc))
        raise RuntimeError(" | ".join(errors))
        """,
    )
    try:
        with pytest.raises(SandboxError) as failure:
            predict_in_sandbox(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=LIMITS)
        assert [t.exists() for t in targets] == [False, False]
    finally:
        for target in targets:
            target.unlink(missing_ok=True)
    assert failure.value.reason.count("the sandbox blocks writing") == 2


def test_model_exceeding_the_memory_limit_fails_with_a_memory_reason(cohort, tmp_path):
    model = code_model(tmp_path, "hoard = bytearray(3 * 1024**3)\nreturn [0] * len(model_input)")
    limits = SandboxLimits(cpu_seconds=60, memory_bytes=1024**3, wall_seconds=120)

    with pytest.raises(SandboxError, match="memory limit of 1024 MB exceeded"):
        predict_in_sandbox(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=limits)


@pytest.fixture(scope="module")
def spinning_model(tmp_path_factory) -> Path:
    return code_model(tmp_path_factory.mktemp("spin"), "while True:\n    pass")


def test_model_that_never_returns_is_killed_at_the_wall_clock_limit(spinning_model, cohort):
    limits = SandboxLimits(cpu_seconds=60, wall_seconds=5)

    with pytest.raises(SandboxError, match=r"^wall-clock timeout after 5 s$"):
        predict_in_sandbox(spinning_model, cohort[1], columns=COLUMNS, threshold=0.5, limits=limits)


def test_model_burning_cpu_is_killed_at_the_cpu_limit(spinning_model, cohort):
    limits = SandboxLimits(cpu_seconds=3, wall_seconds=60)

    with pytest.raises(SandboxError, match=r"^killed: CPU time limit of 3 s exceeded$"):
        predict_in_sandbox(spinning_model, cohort[1], columns=COLUMNS, threshold=0.5, limits=limits)


def test_model_sees_none_of_the_parent_environment(cohort, tmp_path, monkeypatch):
    secrets = {
        "BOAS_DATABASE_URL": "postgresql://boas:hunter2@db/boas",
        "BOAS_SECRET_KEY": "s3cret",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "AWS_ACCESS_KEY_ID": "aws-id",
        "REDIS_URL": "redis://cache:6379/0",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    assert "PYTEST_CURRENT_TEST" in os.environ
    probes = [*secrets, "PYTEST_CURRENT_TEST", "VIRTUAL_ENV", "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME", "TMPDIR"]
    data = tmp_path / "probes.parquet"
    pd.DataFrame({"probe": probes}).to_parquet(data, index=False)
    model = code_model(
        tmp_path,
        """
        found = []
        for probe in model_input["probe"]:
            name, _, value = probe.partition("=")
            found.append(int(os.environ.get(name) == value) if value else int(name in os.environ))
        return found
        """,
    )

    result = predict_in_sandbox(model, data, columns=["probe"], threshold=0.5, limits=LIMITS)

    assert result.y_pred.tolist() == [0] * 7 + [1] * 4
    assert result.y_score is None


def test_model_returning_the_wrong_number_of_predictions_fails(cohort, tmp_path):
    model = code_model(tmp_path, "return [0.5] * (len(model_input) - 1)")

    with pytest.raises(SandboxError, match=r"^model produced 399 predictions for 400 rows$"):
        predict_in_sandbox(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=LIMITS)
