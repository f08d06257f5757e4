"""The child process of the model sandbox: what it does inside, and how its files are read back.

``audits.sandbox`` starts it as ``python -I -B -c <boot> <project root> <workdir> <config json>``,
with a scrubbed environment and resource limits already applied. It locks itself down, loads the
model, predicts and leaves only files inside ``workdir``: ``result.json`` + ``predictions.npz`` on
success, ``error.json`` (``{"detail", "kind"}``) on failure. The reading side of that file protocol
(``collect``) lives here too, so both halves change together. Only the standard library is
imported before the confinement is in place.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import json
import os
import re
import signal
import socket
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audits.sandbox_loaders import RefusedFormat, WrongOutput

HOST_TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 - hidden behind private tmpfs, never used
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
_PR_SET_NO_NEW_PRIVS = 38
_JSON_CAP = 64 * 1024
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_BLOCKED_EVENTS = frozenset(
    {
        # new processes: the classic pickle payloads
        "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
        "pty.spawn", "os.startfile",
        # network of any kind
        "socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
        "socket.getnameinfo", "socket.sendto", "socket.sendmsg", "urllib.Request", "http.client.connect",
        # escaping the limits or reaching other processes, and links that alias files outside the workdir
        "resource.setrlimit", "resource.prlimit", "os.kill", "os.killpg", "signal.pthread_kill",
        "os.link", "os.symlink",
    }
)  # fmt: skip
# Events that modify the filesystem, with the positions of the path arguments to check.
_PATH_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.chmod": (0,),
    "os.chown": (0,), "os.truncate": (0,), "os.utime": (0,), "os.setxattr": (0,), "os.removexattr": (0,),
    "os.chflags": (0,), "shutil.rmtree": (0,), "sqlite3.connect": (0,),
}  # fmt: skip


@dataclass(frozen=True)
class SandboxLimits:
    """What one sandboxed run may consume before it is killed."""

    cpu_seconds: int = 600
    memory_bytes: int = 4 * 1024**3  # address space (RLIMIT_AS), not resident memory
    wall_seconds: int = 900
    max_file_bytes: int = 1024**3


class SandboxViolation(PermissionError):
    """Raised by the audit hook: the model tried something the sandbox does not allow."""


# Every way a sandboxed run can fail, as the only text authors and the public ever read about it.
FAILURES = {
    "timeout": "the model ran past its time limit",
    "memory": "the model ran past its memory limit",
    "refused_format": "this model is not executed here: it carries code, or the isolation it needs is missing; "
                      "audit it from uploaded predictions",
    "crash": "the model failed while it was loaded or while it predicted",
    "wrong_output_shape": "the model did not give one 0/1 label or probability per row",
}
UNTRUSTED_DETAIL_CHARS = 4000


class SandboxError(Exception):
    """The sandboxed run failed: ``code`` is one of ``FAILURES``; ``untrusted_detail`` is for admins only.

    The detail may hold what the model printed or raised, which can carry the rows it was given: it never
    goes into ``str(error)``, ``reason`` or a log line.
    """

    def __init__(self, code: str, detail: str = ""):
        super().__init__(FAILURES[code])
        self.code = code
        self.reason = FAILURES[code]
        self.untrusted_detail = detail[-UNTRUSTED_DETAIL_CHARS:]


@dataclass(frozen=True)
class ChildExit:
    """How the child ended, as the parent observed it (never as the child reports it)."""

    status: int  # exit code, or -signal number
    cpu_s: float  # user + system time of the child and everything it waited for
    timed_out: bool
    log_tail: str
    killed_for: str | None = None  # the watchdog's reason (a FAILURES code), when it killed the run


def child_environment(workdir: Path) -> dict[str, str]:
    """The child's entire environment: nothing is inherited, so no secret can reach model code."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",  # one thread: reproducible sums, and a predictable address space
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "1",  # per-thread arenas and Arrow's allocator reserve gigabytes of RLIMIT_AS
        "ARROW_DEFAULT_MEMORY_POOL": "system",
        "MLFLOW_TRACKING_URI": (workdir / "mlruns").as_uri(),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",  # this confined child is the one place it is allowed
    }


def main(argv: list[str]) -> int:
    """Run one sandbox job; every failure, including the model's, ends up in error.json."""
    workdir, stage = Path(argv[0]), "setup"
    try:
        config = json.loads(argv[1])
        if config.get("confine"):
            confine(workdir, uid=int(config["confine"]["uid"]), gid=int(config["confine"]["gid"]))
        os.chdir(workdir)
        if config["mode"] == "probe":
            result = _self_test(config.get("confine"), config.get("hidden") or [])
        else:
            install_guard(workdir)
            stage = "model"
            result = _predict(workdir, config)
        (workdir / "result.json").write_text(json.dumps(result), encoding="utf-8")
        return 0
    except BaseException as exc:  # noqa: BLE001 - the model may raise anything, even SystemExit
        kind = "memory" if isinstance(exc, MemoryError) else "crash" if stage == "model" else "setup"
        if isinstance(exc, RefusedFormat):
            kind = "refused_format"
        elif isinstance(exc, WrongOutput):
            kind = "wrong_output_shape"
        elif isinstance(exc, OSError) and exc.errno == errno.EFBIG:
            kind = "file_size"
        detail = f"{type(exc).__name__}: {exc}"[:2000]  # untrusted: written from the model's own message
        with contextlib.suppress(BaseException):  # the exit status still tells the parent it failed
            (workdir / "error.json").write_text(json.dumps({"detail": detail, "kind": kind}), encoding="utf-8")
        return 3


def confine(workdir: Path, *, uid: int, gid: int) -> None:
    """In fresh mount/net/pid namespaces (as root): freeze the host filesystem, then become ``uid``."""
    libc = ctypes.CDLL(None, use_errno=True)
    os.umask(0o022)  # directories created below must stay traversable by uid
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)
    workdir = Path(os.path.realpath(workdir))
    covers = [d for d in HOST_TEMP_DIRS if os.path.isdir(d)]
    needed = _needed_paths()
    blocked = {_blocked_ancestor(p) for p in [*needed, str(workdir)]}
    covers += sorted(b for b in blocked if b and not _under(b, covers))
    binds = [p for p in needed if _under(p, covers)]
    # Keep handles on what the covers will hide, to mount them back in through /proc/self/fd.
    handles = {p: os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for p in [*binds, str(workdir)]}
    for options, target in _mounts():
        if "ro" not in options.split(","):
            with contextlib.suppress(OSError):  # best effort: the unprivileged uid below is the main barrier
                _mount(libc, None, target, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
    for cover in sorted(covers, key=len):
        mode = "1777" if cover in HOST_TEMP_DIRS else "755"
        _mount(libc, "tmpfs", cover, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size=32m,nr_inodes=4096,mode={mode}")
    for path in binds:
        os.makedirs(path, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{handles[path]}", path, None, _MS_BIND | _MS_REC)
        _mount(libc, None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    os.makedirs(workdir, exist_ok=True)
    _mount(libc, f"/proc/self/fd/{handles[str(workdir)]}", str(workdir), None, _MS_BIND)
    _mount(libc, None, str(workdir), None, _MS_REMOUNT | _MS_BIND | _MS_NOSUID | _MS_NODEV)
    for handle in handles.values():
        os.close(handle)
    os.chdir(workdir)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or os.getuid() != uid or os.geteuid() != uid:
        raise RuntimeError("could not drop privileges")


def install_guard(workdir: Path) -> None:
    """Refuse new processes, network and writes outside ``workdir`` from now on (ctypes stays allowed)."""
    root = os.path.realpath(workdir)

    def inside(path: Any) -> bool:
        if isinstance(path, int) or path in (None, "", ":memory:"):
            return True  # an already-open descriptor, or no file at all
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return real == root or real.startswith(root + os.sep) or real == os.devnull

    def guard(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writes = bool((flags or 0) & _WRITE_FLAGS) or any(c in (mode or "") for c in "wax+")
            if writes and not inside(path):
                raise SandboxViolation(f"the sandbox blocks writing {os.fsdecode(path)!r} outside its workdir")
        elif event in _BLOCKED_EVENTS:
            raise SandboxViolation(f"the sandbox blocks {event}")
        elif event in _PATH_EVENTS and not all(inside(args[i]) for i in _PATH_EVENTS[event] if i < len(args)):
            raise SandboxViolation(f"the sandbox blocks {event} outside its workdir")

    sys.addaudithook(guard)


def _predict(workdir: Path, config: dict) -> dict:
    """Load the model copy with the loader its format allows and score the data; the parent re-validates."""
    import numpy as np
    import pandas as pd

    frame = pd.read_parquet(workdir / "data.parquet", columns=config.get("columns"))
    fmt, threshold = config["format"], float(config["threshold"])  # noqa: F841 - the parent thresholds scores
    from audits.sandbox_loaders import (
        as_labels_or_scores,
        predict_code,
        predict_lightgbm,
        predict_onnx,
        predict_skops,
        predict_xgboost,
    )

    if fmt == "skops":
        output: Any = predict_skops(workdir / "model" / config["model_file"], frame)
    elif fmt == "onnx":
        output = predict_onnx(workdir / "model" / config["model_file"], frame)
    elif fmt == "xgboost":
        output = predict_xgboost(workdir / "model" / config["model_file"], frame,
                                 sklearn_api=config.get("model_class") != "xgboost.core.Booster")
    elif fmt == "lightgbm":
        output = predict_lightgbm(workdir / "model" / config["model_file"], frame)
    elif fmt == "code" and config.get("allow_code"):
        output = predict_code(str(workdir / "model"), frame)
    else:
        raise RefusedFormat(f"format {fmt!r} is not executed")
    arrays = as_labels_or_scores(output)
    np.savez(workdir / "predictions.npz", **arrays)
    return {"rows": len(frame), "outputs": sorted(arrays)}


def _self_test(confined: dict | None, hidden: list[str]) -> dict:
    """Prove the confinement holds before any model relies on it (the probe runs this, unguarded)."""
    import numpy  # noqa: F401 - the site-packages must stay readable for the unprivileged uid
    import pandas  # noqa: F401

    visible = [path for path in hidden if os.path.exists(path)]
    if visible:
        raise RuntimeError("a hidden path is visible: " + ", ".join(visible))

    if confined:
        if os.getuid() != int(confined["uid"]):
            raise RuntimeError("still running as the original user")
        try:
            os.close(os.open("/.boas-sandbox-probe", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError:
            pass
        else:
            os.unlink("/.boas-sandbox-probe")
            raise RuntimeError("the host root directory is writable")
        with socket.socket() as sock:
            sock.settimeout(2)
            if sock.connect_ex(("127.0.0.1", 9)) not in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                raise RuntimeError("the loopback network is reachable")
    return {"uid": os.getuid(), "euid": os.geteuid()}


def _mount(libc: Any, source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    encode = lambda s: s.encode() if s is not None else None  # noqa: E731
    if libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _mounts() -> list[tuple[str, str]]:
    """(per-mount options, mount point) for every mount this namespace inherited."""
    unescape = lambda s: re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)  # noqa: E731
    with open("/proc/self/mountinfo", encoding="utf-8") as lines:
        return [(fields[5], unescape(fields[4])) for fields in (line.split() for line in lines)]


def _needed_paths() -> list[str]:
    """Directories the interpreter and its packages live in, outermost only."""
    real = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path) if p}
    found = sorted(p for p in real if os.path.isdir(p))
    return [p for p in found if not _under(p, [q for q in found if q != p])]


def _blocked_ancestor(path: str) -> str | None:
    """The outermost directory on the way to ``path`` that others may not traverse, if any."""
    parts = Path(path).parts
    for depth in range(2, len(parts) + 1):
        directory = os.path.join(*parts[:depth])
        if not os.stat(directory).st_mode & stat.S_IXOTH:
            return directory
    return None


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def collect(workdir: Path, done: ChildExit, rows: int, threshold: float, limits: SandboxLimits) -> tuple[Any, Any]:
    """Turn the child's files into validated (y_pred, y_score) arrays, or its failure into a fixed reason."""
    import numpy as np

    if done.timed_out:
        raise SandboxError("timeout", f"wall-clock limit of {limits.wall_seconds} s\n{done.log_tail}")
    if done.killed_for:
        raise SandboxError(done.killed_for, f"killed by the watchdog\n{done.log_tail}")
    if done.status != 0:
        error = None
        with contextlib.suppress(SandboxError):  # no (usable) error.json: the exit status alone explains
            error = read_json(workdir / "error.json")
        raise SandboxError(_failure_code(done, error, limits), _detail(done, error))
    data = read_capped(workdir / "predictions.npz", rows * 16 + 1024**2)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("y_pred", "y_score") if k in npz.files}
    except (OSError, ValueError) as exc:
        raise SandboxError("wrong_output_shape", f"unreadable predictions: {exc}") from None
    if not arrays:
        raise SandboxError("wrong_output_shape", "the model wrote no predictions")
    values = next(iter(arrays.values()))
    if values.ndim != 1 or len(values) != rows:
        raise SandboxError("wrong_output_shape", f"model produced {values.size} predictions for {rows} rows")
    if "y_score" in arrays:
        y_score = arrays["y_score"].astype(np.float64) + 0.0
        if not (np.isfinite(y_score).all() and ((y_score >= 0) & (y_score <= 1)).all()):
            raise SandboxError("wrong_output_shape", "model scores are not probabilities in [0, 1]")
        return (y_score >= threshold).astype(np.int64), y_score
    y_pred = arrays["y_pred"]
    if not (y_pred.dtype == bool or np.issubdtype(y_pred.dtype, np.integer)) or not np.isin(y_pred, (0, 1)).all():
        raise SandboxError("wrong_output_shape", "model labels are not 0/1")
    return y_pred.astype(np.int64), None


def _failure_code(done: ChildExit, error: dict | None, limits: SandboxLimits) -> str:
    kind = error.get("kind") if error else None
    if done.cpu_s >= limits.cpu_seconds or done.status == -signal.SIGXCPU:
        return "timeout"
    if kind in ("memory", "refused_format", "wrong_output_shape"):
        return kind
    return "crash"  # the model raised, a file grew past its cap, the setup failed, or a signal killed it


def _detail(done: ChildExit, error: dict | None) -> str:
    """What the child said about its failure: untrusted, for admins only."""
    parts = [f"exit status {done.status}, {done.cpu_s:.1f} s of CPU"]
    if error:
        parts.append(f"{error.get('kind')}: {error.get('detail') or error.get('reason', '')}")
    if done.log_tail:
        parts.append(done.log_tail[-2000:])
    return "\n".join(parts)


def read_capped(path: Path, cap: int) -> bytes:
    """Read a file the child wrote: no link following, no blocking on a FIFO, never more than ``cap``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise SandboxError("wrong_output_shape", f"the sandbox left no readable {path.name} ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise SandboxError("wrong_output_shape", f"{path.name} is not a plain file")
        data = handle.read(cap + 1)
    if len(data) > cap:
        raise SandboxError("wrong_output_shape", f"{path.name} is larger than {cap} bytes")
    return data


def read_json(path: Path) -> dict:
    """A small JSON object the child wrote, values as bounded strings: it is untrusted text."""
    try:
        value = json.loads(read_capped(path, _JSON_CAP))
    except ValueError as exc:
        raise SandboxError("wrong_output_shape", f"{path.name} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise SandboxError("wrong_output_shape", f"{path.name} is not a JSON object")
    return {k: str(v)[:2000] for k, v in value.items()}
