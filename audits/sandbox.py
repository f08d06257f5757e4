"""Run an uploaded model in a separate, short-lived, confined process and keep only its predictions.

Loading a model (pickle, cloudpickle, even skops) can execute code (MLflow CVE-2024-37052..37060),
so no BOAS process ever does it (SECURITY.md items 10 and 12). Layers, from the outside in:

1. a gate: the imports each pickle and skops file would perform are listed; any outside an allowlist
   of what scikit-learn/numpy/scipy models reference stops the job before anything runs;
2. a child ``python -I`` with a scrubbed environment, its own copy of model and data, rlimits (CPU,
   address space, file size, descriptors, no core) and a wall clock that kills its process group;
3. as root with ``unshare``: new mount/net/pid/ipc/uts namespaces (no interface up, host mounts
   read-only, private tmpfs over /tmp, /var/tmp, /dev/shm) and uid nobody before the model is read;
4. in the child, an audit hook refusing processes, sockets and writes outside its workdir.

``Predictions.isolation`` records which layers protected a run, for the audit's provenance.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audits.sandbox_child import ChildExit, SandboxError, SandboxLimits, child_environment, collect, read_json
from boas.registry.artifacts.mlmodel import read_mlmodel
from boas.registry.artifacts.pickle_scan import PickleScan, scan_pickles
from registry_db.errors import ValidationFailed

ISOLATION_NAMESPACES = "namespaces+rlimits+audit-hook"
ISOLATION_RLIMITS = "rlimits+audit-hook"
SANDBOX_UID = SANDBOX_GID = 65534  # nobody / nogroup
UNSHARE_FLAGS = ("--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "--mount-proc")
_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])  # the directory holding the audits package
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from audits.sandbox_child import main; sys.exit(main(sys.argv[2:]))"
)
_LOG_TAIL_BYTES = 20_000
log = logging.getLogger(__name__)

@dataclass(frozen=True, eq=False)
class Predictions:
    """The model's outputs for every row, with what is needed to trust and reproduce them."""

    y_pred: np.ndarray  # 0/1 int64, one per row
    y_score: np.ndarray | None  # float64 score of class 1, when the model gives one
    sha256: str  # predictions_digest(y_pred, y_score)
    isolation: str  # ISOLATION_NAMESPACES or ISOLATION_RLIMITS
    scan: PickleScan
    duration_s: float


def predictions_digest(y_pred: np.ndarray, y_score: np.ndarray | None) -> str:
    """sha256 of a canonical serialisation (little-endian int64 labels, float64 scores), to prove reruns agree."""
    digest = hashlib.sha256(b"boas-predictions/1\n")
    digest.update(f"y_pred int64 {len(y_pred)}\n".encode())
    digest.update(np.ascontiguousarray(y_pred, dtype="<i8").tobytes())
    if y_score is None:
        digest.update(b"y_score none\n")
    else:
        digest.update(f"y_score float64 {len(y_score)}\n".encode())
        digest.update(np.ascontiguousarray(np.asarray(y_score, dtype=np.float64) + 0.0, dtype="<f8").tobytes())
    return digest.hexdigest()


def predict_in_sandbox(
    model_dir: Path,
    data_path: Path,
    *,
    columns: list[str] | None,
    threshold: float,
    limits: SandboxLimits,
    scan: bool = True,
) -> Predictions:
    """Score a parquet dataset with an MLflow model in a confined child; the model never runs in this process."""
    started = time.monotonic()
    model_dir, data_path = Path(model_dir), Path(data_path)
    if not 0.0 <= threshold <= 1.0:
        raise ValidationFailed("threshold must be between 0 and 1", {"threshold": ["must be between 0 and 1"]})
    rows = _count_rows(data_path, columns)
    try:
        referenced = read_mlmodel(model_dir).pickled_files
    except ValidationFailed as exc:
        raise SandboxError(f"invalid MLflow model: {exc.message}") from exc
    pickle_scan = scan_pickles(model_dir, referenced)
    if scan and not pickle_scan.ok:
        raise SandboxError("pickle scan found dangerous imports: " + ", ".join(pickle_scan.dangerous))
    namespaces = _namespace_support()[0]
    workdir = Path(tempfile.mkdtemp(prefix="boas-sandbox-"))
    try:
        _stage(model_dir, data_path, workdir, owner=SANDBOX_UID if namespaces else None)
        config = {"mode": "predict", "columns": columns, "threshold": threshold}
        y_pred, y_score = collect(workdir, _run(workdir, config, limits, namespaces), rows, threshold, limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return Predictions(
        y_pred=y_pred,
        y_score=y_score,
        sha256=predictions_digest(y_pred, y_score),
        isolation=ISOLATION_NAMESPACES if namespaces else ISOLATION_RLIMITS,
        scan=pickle_scan,
        duration_s=round(time.monotonic() - started, 3),
    )


def _count_rows(data_path: Path, columns: list[str] | None) -> int:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(data_path)
    except (OSError, ValueError) as exc:
        raise SandboxError(f"cannot read the dataset as parquet: {exc}") from exc
    missing = [c for c in columns or [] if c not in parquet.schema_arrow.names]
    if missing:
        raise SandboxError("the dataset lacks the model's input columns: " + ", ".join(missing))
    if parquet.metadata.num_rows == 0:
        raise SandboxError("the dataset has no rows")
    return parquet.metadata.num_rows


def _stage(model_dir: Path, data_path: Path, workdir: Path, owner: int | None) -> None:
    """Copy the model and data into the workdir; links could alias host files, so they are refused."""
    for dirpath, dirnames, filenames in os.walk(model_dir):
        for name in dirnames + filenames:
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                rel = Path(dirpath, name).relative_to(model_dir).as_posix()
                raise SandboxError(f"the model directory holds a link or special file: {rel}")
    shutil.copytree(model_dir, workdir / "model", symlinks=True)
    shutil.copyfile(data_path, workdir / "data.parquet")
    if owner is not None:
        for dirpath, dirnames, filenames in os.walk(workdir):
            for name in [".", *dirnames, *filenames]:
                os.chown(os.path.join(dirpath, name), owner, owner, follow_symlinks=False)


def _run(workdir: Path, config: dict, limits: SandboxLimits, namespaces: bool) -> ChildExit:
    """Start the child, enforce the wall clock, and reap it without ever holding more than a log tail."""
    command = [sys.executable, "-I", "-B", "-c", _BOOT, _PROJECT_ROOT, str(workdir)]
    if namespaces:
        config = {**config, "confine": {"uid": SANDBOX_UID, "gid": SANDBOX_GID}}
        command = [_unshare(), *UNSHARE_FLAGS, "--", *command]
    try:
        proc = subprocess.Popen(
            [*command, json.dumps(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=child_environment(workdir),
            cwd=workdir,
            start_new_session=True,  # its own process group, killed as a whole
            preexec_fn=functools.partial(_apply_rlimits, _rlimits(limits)),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"could not start the sandbox: {exc}") from exc
    tail = bytearray()
    reader = threading.Thread(target=_keep_tail, args=(proc.stdout, tail), daemon=True)
    reader.start()
    deadline, timed_out = time.monotonic() + limits.wall_seconds, False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if not timed_out and time.monotonic() >= deadline:
            timed_out = True
            _kill_group(proc.pid)
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    _kill_group(proc.pid)  # anything the child left behind in its group
    reader.join(timeout=5)
    if not reader.is_alive() and proc.stdout is not None:
        proc.stdout.close()
    cpu = usage.ru_utime + usage.ru_stime
    return ChildExit(proc.returncode, cpu, timed_out, bytes(tail).decode("utf-8", "replace"))


def _rlimits(limits: SandboxLimits) -> list[tuple[int, tuple[int, int]]]:
    """Soft = hard: the CPU limit kills outright, since pid 1 of a namespace ignores SIGXCPU."""
    wanted = {
        resource.RLIMIT_CPU: limits.cpu_seconds,
        resource.RLIMIT_AS: limits.memory_bytes,
        resource.RLIMIT_FSIZE: limits.max_file_bytes,
        resource.RLIMIT_NOFILE: 256,
        resource.RLIMIT_CORE: 0,
    }
    ceilings = {which: resource.getrlimit(which)[1] for which in wanted}
    clamped = {w: v if ceilings[w] == resource.RLIM_INFINITY else min(v, ceilings[w]) for w, v in wanted.items()}
    return [(which, (value, value)) for which, value in clamped.items()]


def _apply_rlimits(rlimits: list[tuple[int, tuple[int, int]]]) -> None:
    for which, values in rlimits:
        resource.setrlimit(which, values)


def _keep_tail(stream: io.BufferedReader, tail: bytearray) -> None:
    for chunk in iter(lambda: stream.read1(65536), b""):
        tail.extend(chunk)
        del tail[:-_LOG_TAIL_BYTES]


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@functools.cache
def _unshare() -> str | None:
    return shutil.which("unshare", path="/usr/bin:/bin")


@functools.cache
def _namespace_support() -> tuple[bool, str]:
    """Whether namespaces can confine the child here: probed once per process, with a self-test inside."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False, "namespaces need root on Linux"
    if not _unshare():
        return False, "no unshare binary in /usr/bin or /bin"
    workdir = Path(tempfile.mkdtemp(prefix="boas-sandbox-probe-"))
    try:
        os.chown(workdir, SANDBOX_UID, SANDBOX_GID)
        done = _run(workdir, {"mode": "probe"}, SandboxLimits(cpu_seconds=60, wall_seconds=60), namespaces=True)
        if done.status == 0 and read_json(workdir / "result.json").get("uid") == str(SANDBOX_UID):
            return True, "namespaces work"
        error = read_json(workdir / "error.json") if (workdir / "error.json").exists() else {}
        reason = error.get("reason") or done.log_tail[-500:] or f"status {done.status}"
    except (OSError, SandboxError) as exc:
        reason = str(exc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log.warning("model sandbox runs without namespaces (%s): %s", ISOLATION_RLIMITS, reason)
    return False, reason
