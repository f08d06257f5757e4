"""The model sandbox: its predictions are the model's own, and hostile models are stopped by each layer.

Hostile models are built here: pickles whose ``__reduce__`` runs ``os.system``, ``open`` or a socket
connection, and MLflow models-from-code whose ``predict`` escapes, hoards memory, spins or reads
the environment. They carry code, so they run only on the opt-in path (``allow_code``), under
bubblewrap; without it they are refused before any process starts. Host paths are checked afterwards
from this (unconfined) process.
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
    ISOLATION_BWRAP,
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
# bubblewrap wherever it works, else namespaces as root with unshare, else the in-process layers only.
HAS_BWRAP = sandbox.bwrap_support()[0]
EXPECTED_ISOLATION = (ISOLATION_BWRAP if HAS_BWRAP else
                      ISOLATION_NAMESPACES if os.geteuid() == 0 and shutil.which("unshare") else ISOLATION_RLIMITS)
needs_bwrap = pytest.mark.usefixtures("bubblewrap")  # fails, never skips, without it
pytestmark = pytest.mark.slow
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


def run_code(model: Path, data: Path, **kwargs) -> sandbox.Predictions:
    """The opt-in path: a model that carries code, under bubblewrap."""
    return predict_in_sandbox(model, data, allow_code=True, **kwargs)


@pytest.fixture(scope="module")
def skops_model(fitted, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "skops"
    mlflow.sklearn.save_model(fitted, path, serialization_format="skops")
    return path


@pytest.fixture(scope="module")
def skops_run(skops_model, cohort) -> sandbox.Predictions:
    return predict_in_sandbox(skops_model, cohort[1], columns=COLUMNS, threshold=0.4, limits=LIMITS)


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


def test_sandboxed_predictions_equal_the_model_called_directly(skops_run, cohort, fitted):
    frame, _ = cohort
    result = skops_run

    expected_score = fitted.predict_proba(frame[COLUMNS])[:, 1]
    np.testing.assert_allclose(result.y_score, expected_score, rtol=1e-12)
    np.testing.assert_array_equal(result.y_pred, (expected_score >= 0.4).astype(int))
    assert result.y_pred.dtype == np.int64 and 0 < result.y_pred.sum() < len(frame)
    assert result.isolation == EXPECTED_ISOLATION
    assert result.sha256 == predictions_digest(result.y_pred, result.y_score)
    assert result.format == "skops"
    assert result.scan.ok and result.scan.files == ["model.skops"] and result.scan.dangerous == []
    assert "sklearn.linear_model._logistic.LogisticRegression" in result.scan.globals
    assert result.scan.as_dict()["globals"] == result.scan.globals


def test_a_pickled_model_is_refused_unless_opted_in_and_then_gives_the_same_digest(pickled_model, skops_run, cohort):
    with pytest.raises(SandboxError) as refused:
        predict_in_sandbox(pickled_model, cohort[1], columns=COLUMNS, threshold=0.4, limits=LIMITS)
    assert refused.value.code == "refused_format"
    if not HAS_BWRAP:
        return
    from_pickle = run_code(pickled_model, cohort[1], columns=COLUMNS, threshold=0.4, limits=LIMITS)
    assert from_pickle.sha256 == skops_run.sha256 and from_pickle.format == "code"
    assert from_pickle.isolation == ISOLATION_BWRAP
    assert from_pickle.scan.files == ["model.pkl"] and from_pickle.scan.ok


@pytest.mark.parametrize("kind", ["system", "open", "socket"])
def test_dangerous_pickle_is_refused_before_any_process_starts(
    kind, pickled_model, cohort, tmp_path, listener, monkeypatch
):
    tag = uuid.uuid4().hex
    payload, dangerous_import = attack(kind, tag, listener.getsockname()[1])
    model = hostile_sklearn_model(pickled_model, tmp_path, payload)
    started = []
    sandbox.bwrap_support()  # probed (and cached) before Popen is replaced
    monkeypatch.setattr(sandbox.subprocess, "Popen", lambda *a, **k: started.append(a))

    for allow_code in (False, True):
        with pytest.raises(SandboxError) as failure:
            predict_in_sandbox(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=LIMITS, allow_code=allow_code)
        assert failure.value.code == "refused_format"
    if HAS_BWRAP:  # opted in, the scan is the gate that stops it
        assert "pickle scan found dangerous imports" in failure.value.untrusted_detail
        assert dangerous_import in failure.value.untrusted_detail
    assert started == []
    assert not Path(f"/tmp/boas-marker-{tag}").exists()


@needs_bwrap
@pytest.mark.parametrize("kind", ["system", "open", "socket"])
def test_hostile_pickle_is_stopped_at_runtime_without_the_scan(kind, pickled_model, cohort, tmp_path, listener):
    tag = uuid.uuid4().hex
    payload, _ = attack(kind, tag, listener.getsockname()[1])
    model = hostile_sklearn_model(pickled_model, tmp_path, payload)

    with pytest.raises(SandboxError) as failure:
        run_code(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=LIMITS, scan=False)

    assert failure.value.code == "crash" and "the sandbox blocks" in failure.value.untrusted_detail
    assert "sandbox blocks" not in str(failure.value)  # the model's own words never reach the message
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


def test_model_directory_holding_a_symlink_is_refused(skops_model, cohort, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(skops_model, model)
    (model / "notes.txt").symlink_to("/etc/passwd")

    with pytest.raises(SandboxError) as failure:
        predict_in_sandbox(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=LIMITS)
    assert failure.value.code == "refused_format"
    assert failure.value.untrusted_detail.endswith("link or special file: notes.txt")


@needs_bwrap
def test_model_writing_outside_its_workdir_fails_and_leaves_nothing_on_the_host(cohort, tmp_path):
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
            run_code(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=LIMITS)
        assert [t.exists() for t in targets] == [False, False]
    finally:
        for target in targets:
            target.unlink(missing_ok=True)
    assert failure.value.code == "crash"
    assert failure.value.untrusted_detail.count("the sandbox blocks writing") == 2


@needs_bwrap
def test_model_exceeding_the_memory_limit_fails_with_a_memory_reason(cohort, tmp_path):
    model = code_model(tmp_path, "hoard = bytearray(3 * 1024**3)\nreturn [0] * len(model_input)")
    limits = SandboxLimits(cpu_seconds=60, memory_bytes=1024**3, wall_seconds=120)

    with pytest.raises(SandboxError) as failure:
        run_code(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=limits)
    assert failure.value.code == "memory"


@pytest.fixture(scope="module")
def spinning_model(tmp_path_factory) -> Path:
    return code_model(tmp_path_factory.mktemp("spin"), "while True:\n    pass")


@needs_bwrap
def test_model_that_never_returns_is_killed_at_the_wall_clock_limit(spinning_model, cohort):
    limits = SandboxLimits(cpu_seconds=60, wall_seconds=5)

    with pytest.raises(SandboxError) as failure:
        run_code(spinning_model, cohort[1], columns=COLUMNS, threshold=0.5, limits=limits)
    assert failure.value.code == "timeout" and "wall-clock limit of 5 s" in failure.value.untrusted_detail


@needs_bwrap
def test_model_burning_cpu_is_killed_at_the_cpu_limit(spinning_model, cohort):
    limits = SandboxLimits(cpu_seconds=3, wall_seconds=60)

    with pytest.raises(SandboxError) as failure:
        run_code(spinning_model, cohort[1], columns=COLUMNS, threshold=0.5, limits=limits)
    assert failure.value.code == "timeout" and "wall-clock" not in failure.value.untrusted_detail


@needs_bwrap
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

    result = run_code(model, data, columns=["probe"], threshold=0.5, limits=LIMITS)

    assert result.y_pred.tolist() == [0] * 7 + [1] * 4
    assert result.y_score is None


@needs_bwrap
def test_model_returning_the_wrong_number_of_predictions_fails(cohort, tmp_path):
    model = code_model(tmp_path, "return [0.5] * (len(model_input) - 1)")

    with pytest.raises(SandboxError) as failure:
        run_code(model, cohort[1], columns=COLUMNS, threshold=0.5, limits=LIMITS)
    assert failure.value.code == "wrong_output_shape"
    assert failure.value.untrusted_detail == "model produced 399 predictions for 400 rows"
