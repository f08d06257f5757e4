"""The hostile-model gate and the sandbox hold when BOAS does not run as root (uid 65534, no groups).

The suite runs as root, where the sandbox has namespaces and ``setuid`` to fall back on; a deployment
usually does not. Here the models are built as root, handed to uid 65534, and
``tests/audits/unprivileged_driver.py`` runs the upload gate (``stage_artifact``) and
``predict_in_sandbox`` as that user, with Debian's ``/usr/bin/python3.11`` in a virtualenv that user
makes (the suite's interpreter lives under ``/root``, which others cannot enter) and this checkout's
and virtualenv's packages on its path. bubblewrap then runs unprivileged, in a user namespace.

Every family of the issue is covered: pickles under other names and in containers (protocols 0, 1 and
5, zip, gzip, joblib), a pickle declared as skops, a model with no format line (MLflow's pickle
default), cloudpickle (a pyfunc ``python_model``), a custom ``loader_module``, a ``code:`` directory, a
model from code, skops with widened trust, an XGBoost flavour whose file is a pickle; and, opted in,
under bubblewrap, ctypes, fork, memory and disk payloads. Each writes a canary into a directory uid 65534 can write (the driver proves
it by writing a control file there): no canary may appear, and every failure is one fixed reason.
If the unprivileged run cannot be set up, the test fails saying why; it never skips.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import mlflow.pyfunc
import mlflow.sklearn
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import xgboost
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

from audits.sandbox_child import FAILURES
from tests.audits.test_safe_execution import Canary, _hostile_variants, _model_from_code
from tests.audits.test_sandbox import code_model
from tests.conftest import zip_dir

pytestmark = pytest.mark.slow
NOBODY = 65534
DEBIAN_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
REPO = Path(__file__).resolve().parents[2]
COLUMNS = ["age", "bmi"]
PAYLOAD_LIMITS = {"cpu_seconds": 60, "memory_bytes": 1024**3, "wall_seconds": 45, "max_file_bytes": 128 * 1024**2}


class CanaryModel(mlflow.pyfunc.PythonModel):
    """Saved by cloudpickle as the pyfunc ``python_model``: loading or calling it writes the canary."""

    def __init__(self, canary: str):
        self.canary = canary

    def load_context(self, context):
        Path(self.canary).write_text("ran")

    def predict(self, context, model_input, params=None):
        Path(self.canary).write_text("ran")
        return [0] * len(model_input)


def _require(condition: bool, why: str) -> None:
    if not condition:
        pytest.fail(f"the unprivileged run cannot be set up: {why}")


def _unreadable(paths: list[Path]) -> list[str]:
    """Directories on the way to ``paths`` that others cannot enter, and the paths others cannot read."""
    bad = []
    for path in paths:
        for parent in [*reversed(path.parents), path]:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH or (parent == path and not mode & stat.S_IROTH):
                bad.append(str(parent))
                break
    return bad


# (source, mount point) pairs: where a checkout sits out of other users' reach (under /root, say), the
# commands run as uid 65534 see it bind-mounted under the test's base directory, in a mount namespace of
# their own, so the test holds wherever the suite is cloned, and nothing on the host is made wider.
MOUNTS: list[tuple[Path, Path]] = []
BIND_THEN_EXEC = 'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 97; shift 2; done; shift; exec "$@"'


def _as_nobody(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command  # already unprivileged
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin")
    _require(setpriv is not None, "setpriv (util-linux) is needed to switch to uid 65534")
    switched = [str(setpriv), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *command]
    if not MOUNTS:
        return switched
    unshare = shutil.which("unshare", path="/usr/bin:/bin")
    _require(unshare is not None, "unshare (util-linux) is needed to show the checkout to uid 65534")
    pairs = [str(p) for source, point in MOUNTS for p in (source, point)]
    return [str(unshare), "--mount", "--propagation", "private", "--", "/bin/sh", "-c", BIND_THEN_EXEC, "sh",
            *pairs, "--", *switched]


def _seen_by_nobody(base: Path, paths: list[Path]) -> list[Path]:
    """``paths`` as uid 65534 will reach them: themselves, or bind mounts under ``base`` (see MOUNTS)."""
    MOUNTS.clear()
    seen = []
    for index, path in enumerate(paths):
        if not _unreadable([path]):
            seen.append(path)
            continue
        point = base / "mounts" / str(index)
        point.mkdir(parents=True)
        MOUNTS.append((path, point))
        seen.append(point)
    return seen


def _unprivileged_python(base: Path, env: dict[str, str]) -> Path:
    """A virtualenv of Debian's interpreter, made by uid 65534, seeing this checkout and its packages."""
    if os.geteuid() != 0:
        return Path(sys.executable)
    _require(DEBIAN_PYTHON.is_file(), f"{DEBIAN_PYTHON} (Debian's python3) is missing; the suite's own "
                                      f"interpreter {sys.executable} is not reachable by other users")
    site_dirs = [Path(p) for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]
    repo, *site_dirs = _seen_by_nobody(base, [REPO, *site_dirs])
    made = subprocess.run(_as_nobody([str(DEBIAN_PYTHON), "-m", "venv", "--without-pip", str(base / "venv")]),
                          env=env, cwd=base, capture_output=True, text=True, timeout=120, check=False)
    _require(made.returncode == 0, f"uid 65534 could not make a virtualenv: {made.stderr[-500:]}")
    python = base / "venv" / "bin" / "python"
    version = subprocess.run(_as_nobody([str(python), "-I", "-c", "import sys; print(sys.version_info[:2])"]),
                             env=env, cwd=base, capture_output=True, text=True, timeout=60, check=False)
    _require(version.stdout.strip() == str(sys.version_info[:2]),
             f"{DEBIAN_PYTHON} is Python {version.stdout.strip()}, the packages are built for {sys.version_info[:2]}")
    site = next((base / "venv" / "lib").glob("python3*/site-packages"))
    lines = [str(repo), *(f"import site; site.addsitedir({str(d)!r})" for d in site_dirs)]
    (site / "boas-under-test.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chown(site / "boas-under-test.pth", NOBODY, NOBODY)
    return python


def _build(base: Path) -> tuple[list[dict], dict[str, Path]]:
    """The hostile models (built as root, with canaries under base/canary) and the driver's cases."""
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"age": rng.normal(55, 12, 200).round(1), "bmi": rng.normal(27, 4, 200).round(2)})
    y = ((frame["age"] - 55) / 12 + rng.normal(0, 1, 200) > 0).astype(int)
    frame.to_parquet(base / "data.parquet", index=False)
    models, canary = base / "models", base / "canary"
    models.mkdir()
    canary.mkdir()
    signature = infer_signature(frame)
    skops_model = models / "skops"
    mlflow.sklearn.save_model(LogisticRegression().fit(frame, y), skops_model, serialization_format="skops",
                              signature=signature, pip_requirements=[])
    canaries = {"pickles": canary / "pickles"}
    variants = _hostile_variants(skops_model, models / "variants", canaries["pickles"])
    canaries["from-code"] = canary / "from-code"
    source = models / "model_code.py"
    variants["from-code"] = _model_from_code(models, canaries["from-code"], frame)
    mlmodel = variants["from-code"] / "MLmodel"  # MLflow records the absolute source path, which BOAS refuses
    mlmodel.write_text(mlmodel.read_text().replace(f"model_code_path: {source}", f"model_code_path: {source.name}"))
    canaries["cloudpickle"] = canary / "cloudpickle"
    variants["cloudpickle"] = models / "cloudpickle"
    mlflow.pyfunc.save_model(variants["cloudpickle"], python_model=CanaryModel(str(canaries["cloudpickle"])),
                             signature=signature, pip_requirements=[])
    xgb_model = models / "xgboost"
    booster = xgboost.train({"objective": "binary:logistic", "nthread": 1}, xgboost.DMatrix(frame, y), 5)
    mlflow.xgboost.save_model(booster, xgb_model, signature=signature, pip_requirements=[])
    shutil.copytree(xgb_model, models / "xgboost-file-is-pickle")
    (models / "xgboost-file-is-pickle" / "model.ubj").write_bytes(pickle.dumps(Canary(canaries["pickles"]), protocol=4))
    variants["xgboost-file-is-pickle"] = models / "xgboost-file-is-pickle"
    cases = [{"name": name, "model_dir": str(path), "zip": _zip(base, name, path), "runs": [False]}
             for name, path in (("skops-control", skops_model), ("xgboost-control", xgb_model))]
    for name, path in variants.items():
        opt_in = name not in ("custom-loader", "code-directory")  # those two would run a plain, harmless model
        cases.append({"name": name, "model_dir": str(path), "zip": _zip(base, name, path),
                      "runs": [False, True] if opt_in else [False]})
    payloads = {
        "ctypes": f"""
            import ctypes, socket
            libc = ctypes.CDLL(None)
            libc.system(b"touch {canary / 'ctypes'}; touch {canary / 'ctypes-shell'}")
            try:
                open({str(canary / 'ctypes')!r}, "w").close()
            except OSError:
                pass
            hidden = [{str(canary)!r}, {str(base / "data")!r}, {str(base / "zips")!r}, {str(base / "models")!r}]
            checks = [os.getuid() == 65534, not os.path.exists("/etc/passwd"), not any(map(os.path.exists, hidden))]
            try:
                socket.create_connection(("127.0.0.1", 22), 1)
                checks.append(False)
            except Exception:
                checks.append(True)
            return [int(all(checks))] * len(model_input)
        """,
        "fork": f"""
            import ctypes, time
            libc = ctypes.CDLL(None)
            for _ in range(64):
                libc.fork()
            try:
                open({str(canary / 'fork')!r}, "w").close()
            except OSError:
                pass
            time.sleep(30)
            return [0] * len(model_input)
        """,
        "memory": "blocks = []\nwhile True:\n    blocks.append(bytes(64 * 1024**2))",
        "disk": f"""
            try:
                open({str(canary / 'disk')!r}, "w").close()
            except OSError:
                pass
            for i in range(40):
                pathlib.Path(f"fill-{{i}}").write_bytes(bytes(16 * 1024**2))
            import time
            time.sleep(30)
            return [0] * len(model_input)
        """,
    }
    payload_root = models / "payloads"
    payload_root.mkdir()
    for name, body in payloads.items():
        path = code_model(payload_root, body)
        cases.append({"name": f"payload-{name}", "model_dir": str(path), "runs": [True], "limits": PAYLOAD_LIMITS})
    return cases, canaries


def _zip(base: Path, name: str, path: Path) -> str:
    target = base / "zips" / f"{name}.zip"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(zip_dir(path))
    return str(target)


def _chown_tree(root: Path) -> None:
    if os.geteuid() != 0:
        return
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            os.chown(os.path.join(dirpath, name), NOBODY, NOBODY, follow_symlinks=False)


@pytest.fixture
def unprivileged_report():
    base = Path(tempfile.mkdtemp(prefix="boas-unprivileged-", dir="/tmp"))
    try:
        os.chmod(base, 0o700)
        (base / "tmp").mkdir()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(base), "TMPDIR": str(base / "tmp"), "LANG": "C.UTF-8"}
        _chown_tree(base)
        python = _unprivileged_python(base, env)
        cases, canaries = _build(base)
        spec = base / "spec.json"
        spec.write_text(json.dumps({"base": str(base), "data": str(base / "data.parquet"), "columns": COLUMNS,
                                    "cases": cases}), encoding="utf-8")
        _chown_tree(base)
        result = base / "result.json"
        done = subprocess.run(_as_nobody([str(python), "-I", "-m", "tests.audits.unprivileged_driver", str(spec),
                                          str(result)]),
                              env=env, cwd=base, capture_output=True, text=True, timeout=1500, check=False)
        assert done.returncode == 0 and result.is_file(), f"the driver failed as uid {NOBODY}: {done.stderr[-3000:]}"
        report = json.loads(result.read_text(encoding="utf-8"))
        yield report, {name: path.exists() for name, path in canaries.items()}, sorted(
            p.name for p in (base / "canary").iterdir())
    finally:
        shutil.rmtree(base, ignore_errors=True)


EXPECTED_REASON = {
    "pickle-named-skops": "pickle", "pickle-protocol-0": "pickle", "pickle-protocol-1": "pickle",
    "pickle-protocol-5": "pickle", "pickle-in-zip": "pickle", "pickle-gzipped": "pickle", "joblib-zlib": "pickle",
    "no-format-line": "pickle", "cloudpickle": "pickle", "custom-loader": "custom_loader",
    "code-directory": "code_directory", "skops-widened-trust": "untrusted_type", "from-code": "model_from_code",
    "xgboost-file-is-pickle": "pickle",
}


def test_every_hostile_family_is_stopped_when_boas_runs_unprivileged(unprivileged_report):
    report, canaries, left = unprivileged_report
    assert report["uid"] != 0 and report["euid"] != 0 and 0 not in report["groups"] and report["gid"] != 0
    assert report["control_written"] is True  # the canaries' directory was writable by this user
    assert report["bwrap"][0] is True, f"bubblewrap does not work unprivileged: {report['bwrap'][1]}"
    cases = report["cases"]
    errors = {name: case["driver_error"] for name, case in cases.items() if "driver_error" in case}
    assert errors == {}

    control = cases["skops-control"]  # the gate and the sandbox do run a safe model as this user
    assert control["upload"]["execution"] == {"mode": "execute", "format": "skops", "reasons": []}
    assert control["default"]["ran"] is True and control["default"]["isolation"].startswith("bwrap")
    native = cases["xgboost-control"]
    assert native["upload"]["execution"] == {"mode": "execute", "format": "xgboost", "reasons": []}
    assert native["default"]["ran"] is True and native["default"]["format"] == "xgboost"

    for name, reason in EXPECTED_REASON.items():
        upload = cases[name]["upload"]
        if "refused" in upload:  # refused at upload (a pickle importing what no model needs): nothing to run
            assert upload["errors"]["model"] and set(cases[name]) == {"upload"}, (name, upload)
            continue
        assert upload["execution"]["mode"] == "predictions_only", name
        assert reason in {r["code"] for r in upload["execution"]["reasons"]}, (name, upload)
        assert cases[name]["default"]["code"] == "refused_format", (name, cases[name]["default"])
        assert cases[name]["default"]["reason"] == FAILURES["refused_format"]
        if "opted_in" in cases[name]:  # opted in: the scan stops it, or it runs under bubblewrap only
            outcome = cases[name]["opted_in"]
            if outcome.get("ran"):
                assert outcome["isolation"].startswith("bwrap") and outcome["format"] == "code", (name, outcome)
            else:
                assert outcome["code"] in ("refused_format", "crash"), (name, outcome)
                assert outcome["reason"] == FAILURES[outcome["code"]]

    ctypes_run = cases["payload-ctypes"]["opted_in"]
    # uid nobody, no /etc/passwd, none of the host's copies of the models, the data or the canaries, no network
    assert ctypes_run.get("ran") is True, ctypes_run
    assert ctypes_run["isolation"].startswith("bwrap") and ctypes_run["y_pred"] == [1]
    assert cases["payload-memory"]["opted_in"]["code"] == "memory", cases["payload-memory"]
    disk = cases["payload-disk"]["opted_in"]
    assert disk["code"] == "crash" and "killed by the watchdog" in disk["detail"], disk
    fork = cases["payload-fork"]["opted_in"]
    assert fork.get("code") in ("crash", "memory"), fork
    for outcome in (cases[f"payload-{n}"]["opted_in"] for n in ("memory", "disk", "fork")):
        assert outcome["reason"] == FAILURES[outcome["code"]]

    assert canaries == dict.fromkeys(canaries, False)
    assert left == ["control"]  # no payload wrote anything beside the driver's control file
