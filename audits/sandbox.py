"""Run an uploaded model in a separate, short-lived, confined process and keep only its predictions.

Loading a model (pickle, cloudpickle, even skops) can execute code (MLflow CVE-2024-37052..37060),
so no BOAS process ever does it (SECURITY.md items 10, 12 and 18). Layers, from the outside in:

0. the format: only skops (BOAS's trusted types), ONNX and native XGBoost/LightGBM files are executed; a model that carries code
   (``boas.registry.artifacts.execution``) is refused unless the instance opts in, and then runs only
   under bubblewrap (``audits.bwrap``), never with less;
1. a gate: the imports each pickle and skops file would perform are listed; any outside an allowlist
   of what scikit-learn/numpy/scipy models reference stops the job before anything runs;
2. bubblewrap where it works, for every run (no network, read-only minimal root, only the model and
   the data mounted, a watchdog on the tree's memory, CPU, processes and disk);
3. always, a child ``python -I`` with a scrubbed environment, its own copy of model and data, rlimits (CPU,
   address space, file size, descriptors, no core) and a wall clock that kills its process group;
4. without bubblewrap, as root with ``unshare``: new mount/net/pid/ipc/uts namespaces (no interface up, host mounts
   read-only, private tmpfs over /tmp, /var/tmp, /dev/shm) and uid nobody before the model is read;
5. in the child, an audit hook refusing processes, sockets and writes outside its workdir.

``Predictions.isolation`` records which layers protected a run, for the audit's provenance. A failure
is a ``SandboxError`` with one of five codes; what the model wrote stays in its untrusted detail.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audits.bwrap import MAX_PROCESSES, SANDBOX_ROOT, Watchdog, bwrap_binary, bwrap_command
from audits.sandbox_child import ChildExit, SandboxError, SandboxLimits, child_environment, collect, read_json
from boas.registry.artifacts.execution import EXECUTE, decide_execution, model_file
from boas.registry.artifacts.mlmodel import read_mlmodel
from boas.registry.artifacts.pickle_scan import PickleScan, scan_pickles
from registry_db.errors import ValidationFailed

ISOLATION_BWRAP = "bwrap+watchdog+rlimits+audit-hook"
ISOLATION_NAMESPACES = "namespaces+rlimits+audit-hook"
ISOLATION_RLIMITS = "rlimits+audit-hook"
ISOLATIONS = {"bwrap": ISOLATION_BWRAP, "namespaces": ISOLATION_NAMESPACES, "rlimits": ISOLATION_RLIMITS}
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
    format: str = "skops"  # how it was loaded: "skops", "onnx", "xgboost", "lightgbm", or "code" (opt-in, bwrap only)


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
    allow_code: bool = False,
    hidden: tuple[str, ...] = (),
) -> Predictions:
    """Score a parquet dataset with an MLflow model in a confined child; the model never runs in this process.

    Safe formats (skops with BOAS's trusted types, ONNX, native XGBoost and LightGBM) run under bubblewrap where it works, else in the
    namespace or rlimit child. A model that carries code runs only when the instance allows it
    (``allow_code``) and only under bubblewrap; otherwise it is refused (``refused_format``). ``hidden``
    names host paths (the data directory) the model must not see.
    """
    started = time.monotonic()
    model_dir, data_path = Path(model_dir), Path(data_path)
    if not 0.0 <= threshold <= 1.0:
        raise ValidationFailed("threshold must be between 0 and 1", {"threshold": ["must be between 0 and 1"]})
    rows = _count_rows(data_path, columns)
    try:
        info = read_mlmodel(model_dir).as_dict()
    except ValidationFailed as exc:
        raise SandboxError("refused_format", f"invalid MLflow model: {exc.message}") from None
    decision = decide_execution(model_dir, info)
    bwrap_ok, bwrap_reason = bwrap_support(tuple(hidden))
    if decision["mode"] != EXECUTE:
        codes = ", ".join(sorted({r["code"] for r in decision["reasons"]}))
        if not allow_code:
            raise SandboxError("refused_format", f"the model carries code ({codes}); this instance runs none")
        if not bwrap_ok:
            raise SandboxError("refused_format", f"the model carries code ({codes}) and bubblewrap is unusable: "
                                                 f"{bwrap_reason}")
    pickle_scan = scan_pickles(model_dir, sorted({*info["pickled_files"],
                                                  *(r["path"] for r in decision["reasons"] if r["code"] == "pickle")}))
    if scan and not pickle_scan.ok:
        raise SandboxError("refused_format", "pickle scan found dangerous imports: " + ", ".join(pickle_scan.dangerous))
    mode = "bwrap" if bwrap_ok else "namespaces" if _namespace_support()[0] else "rlimits"
    workdir = Path(tempfile.mkdtemp(prefix="boas-sandbox-"))
    try:
        _stage(model_dir, data_path, workdir, owner=SANDBOX_UID if mode == "namespaces" else None)
        config = {"mode": "predict", "columns": columns, "threshold": threshold, "format": decision["format"],
                  "allow_code": allow_code and mode == "bwrap",
                  "model_file": model_file(info, decision["format"]) if decision["mode"] == EXECUTE else None,
                  "model_class": ((info.get("flavors") or {}).get(decision["format"]) or {}).get("model_class")}
        y_pred, y_score = collect(workdir, _run(workdir, config, limits, mode, hidden), rows, threshold, limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return Predictions(
        y_pred=y_pred,
        y_score=y_score,
        sha256=predictions_digest(y_pred, y_score),
        isolation=ISOLATIONS[mode],
        scan=pickle_scan,
        duration_s=round(time.monotonic() - started, 3),
        format=decision["format"],
    )


def _count_rows(data_path: Path, columns: list[str] | None) -> int:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(data_path)
    except (OSError, ValueError) as exc:
        raise ValidationFailed(f"cannot read the dataset as parquet: {exc}") from exc
    missing = [c for c in columns or [] if c not in parquet.schema_arrow.names]
    if missing:
        raise ValidationFailed("the dataset lacks the model's input columns: " + ", ".join(missing))
    if parquet.metadata.num_rows == 0:
        raise ValidationFailed("the dataset has no rows")
    return parquet.metadata.num_rows


def _stage(model_dir: Path, data_path: Path, workdir: Path, owner: int | None) -> None:
    """Copy the model and data into the workdir; links could alias host files, so they are refused."""
    for dirpath, dirnames, filenames in os.walk(model_dir):
        for name in dirnames + filenames:
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                rel = Path(dirpath, name).relative_to(model_dir).as_posix()
                raise SandboxError("refused_format", f"the model directory holds a link or special file: {rel}")
    shutil.copytree(model_dir, workdir / "model", symlinks=True)
    shutil.copyfile(data_path, workdir / "data.parquet")
    if owner is not None:
        for dirpath, dirnames, filenames in os.walk(workdir):
            for name in [".", *dirnames, *filenames]:
                os.chown(os.path.join(dirpath, name), owner, owner, follow_symlinks=False)


def _run(workdir: Path, config: dict, limits: SandboxLimits, mode: str, hidden: tuple[str, ...] = ()) -> ChildExit:
    """Start the child, enforce the wall clock (and, under bubblewrap, the tree's totals), reap it."""
    boot = [sys.executable, "-I", "-B", "-c", _BOOT, _PROJECT_ROOT]
    inner = workdir
    env = child_environment(workdir)
    if mode == "bwrap":
        inner = Path(SANDBOX_ROOT)
        command = [*bwrap_command(workdir, _PROJECT_ROOT, list(hidden)), *boot, str(inner)]
        env = {**child_environment(inner), "HOME": "/tmp", "TMPDIR": "/tmp"}  # noqa: S108 - the sandbox's own tmpfs
    elif mode == "namespaces":
        config = {**config, "confine": {"uid": SANDBOX_UID, "gid": SANDBOX_GID}}
        command = [_unshare() or "/usr/bin/unshare", *UNSHARE_FLAGS, "--", *boot, str(workdir)]  # probed before
    else:
        command = [*boot, str(workdir)]
    try:
        proc = subprocess.Popen(
            [*command, json.dumps(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
            start_new_session=True,  # its own process group, killed as a whole
            preexec_fn=functools.partial(_apply_rlimits, _rlimits(limits, processes=mode == "bwrap")),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError("crash", f"could not start the sandbox: {exc}") from None
    tail = bytearray()
    reader = threading.Thread(target=_keep_tail, args=(proc.stdout, tail), daemon=True)
    reader.start()
    watchdog = Watchdog(proc.pid, workdir, limits) if mode == "bwrap" else None
    deadline, timed_out, killed_for, tick = time.monotonic() + limits.wall_seconds, False, None, 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        tick += 1
        if watchdog is not None and killed_for is None and tick % 2 == 0:
            killed_for = watchdog.check()
            if killed_for:
                watchdog.kill()
        if not timed_out and time.monotonic() >= deadline:
            timed_out = True
            if watchdog is not None:
                watchdog.kill()
            _kill_group(proc.pid)
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    _kill_group(proc.pid)  # anything the child left behind in its group
    reader.join(timeout=5)
    if not reader.is_alive() and proc.stdout is not None:
        proc.stdout.close()
    cpu = usage.ru_utime + usage.ru_stime
    return ChildExit(proc.returncode, cpu, timed_out, bytes(tail).decode("utf-8", "replace"), killed_for)


def _rlimits(limits: SandboxLimits, *, processes: bool = False) -> list[tuple[int, tuple[int, int]]]:
    """Soft = hard: the CPU limit kills outright, since pid 1 of a namespace ignores SIGXCPU.

    Under bubblewrap as root the tree runs as ``nobody``, whose processes RLIMIT_NPROC then caps.
    """
    wanted = {
        resource.RLIMIT_CPU: limits.cpu_seconds,
        resource.RLIMIT_AS: limits.memory_bytes,
        resource.RLIMIT_FSIZE: limits.max_file_bytes,
        resource.RLIMIT_NOFILE: 256,
        resource.RLIMIT_CORE: 0,
    }
    if processes:  # the watchdog sums the tree's CPU and stops it at the limit; each process's rlimit is a backstop
        wanted[resource.RLIMIT_CPU] = limits.cpu_seconds + 2
    if processes and os.geteuid() != 0:  # counted per user: this one's processes plus the model's
        wanted[resource.RLIMIT_NPROC] = MAX_PROCESSES + _processes_of(os.getuid())
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


def _self_test(mode: str, config: dict, prepare: Callable[[Path], None],
               hidden: tuple[str, ...] = ()) -> tuple[dict, str]:
    """Run the child's probe under ``mode``: (what it reported, "") if it exited 0, else ({}, why it failed)."""
    workdir = Path(tempfile.mkdtemp(prefix="boas-sandbox-probe-"))
    try:
        prepare(workdir)
        done = _run(workdir, config, SandboxLimits(cpu_seconds=60, wall_seconds=60), mode, hidden)
        if done.status == 0:
            return read_json(workdir / "result.json"), ""
        error = read_json(workdir / "error.json") if (workdir / "error.json").exists() else {}
        return {}, error.get("detail") or done.log_tail[-500:] or f"status {done.status}"
    except (OSError, SandboxError) as exc:
        return {}, getattr(exc, "untrusted_detail", "") or str(exc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@functools.cache
def _namespace_support() -> tuple[bool, str]:
    """Whether namespaces can confine the child here: probed once per process, with a self-test inside."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False, "namespaces need root on Linux"
    if not _unshare():
        return False, "no unshare binary in /usr/bin or /bin"
    report, reason = _self_test("namespaces", {"mode": "probe"},
                                lambda workdir: os.chown(workdir, SANDBOX_UID, SANDBOX_GID))
    if report.get("uid") == str(SANDBOX_UID):
        return True, "namespaces work"
    reason = reason or f"the sandbox still runs as uid {report.get('uid')}"
    log.warning("model sandbox runs without namespaces (%s): %s", ISOLATION_RLIMITS, reason)
    return False, reason


def bwrap_support(hidden: tuple[str, ...] = ()) -> tuple[bool, str]:
    """Whether bubblewrap confines the child here, proved by a self-test run inside it (cached per process)."""
    return _bwrap_probe(tuple(sorted(hidden)))


@functools.cache
def _bwrap_probe(hidden: tuple[str, ...]) -> tuple[bool, str]:
    if not sys.platform.startswith("linux") or bwrap_binary() is None:
        return False, "bubblewrap (bwrap) is not installed"
    def prepare(workdir: Path) -> None:
        (workdir / "model").mkdir()
        (workdir / "data.parquet").write_bytes(b"")

    report, reason = _self_test("bwrap", {"mode": "probe", "confine": None, "hidden": list(hidden)}, prepare, hidden)
    if report.get("euid") == str(SANDBOX_UID):
        return True, "bubblewrap works"
    if not reason:
        return False, f"the sandbox still runs as uid {report.get('euid')}"
    log.warning("bubblewrap is unusable, models that carry code are refused: %s", reason)
    return False, reason


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                count += 1
    return count
