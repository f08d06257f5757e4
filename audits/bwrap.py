"""The OS-level sandbox: bubblewrap around the sandbox child, and a watchdog on the whole process tree.

No part of it relies on the child's cooperation (the in-process audit hook is only a further layer):

- ``--unshare-all``: no network (a fresh network namespace with no interface up), new pid, ipc, uts,
  cgroup and user namespaces; ``--die-with-parent``, ``--new-session``, every capability dropped;
- a read-only minimal root: ``/usr`` and the library directories, the interpreter, the virtualenv and
  the two project packages the child imports, nothing else of the host (no ``/etc``, no ``/home``,
  never the data directory, which is covered by an empty tmpfs should a mounted path contain it);
- the run's own directory, holding copies of the model (read-only) and of the data file (read-only),
  and a size-capped tmpfs as ``/tmp`` and ``$HOME``;
- inside, the tree is ``nobody`` in its own user namespace, with no capability on the host; CPU,
  address space, file size and descriptors are capped by rlimits on every process, and
  ``RLIMIT_NPROC`` caps its processes when BOAS does not run as root (root's own count is exempt);
- a watchdog, from outside, on the summed resident memory, CPU time and process count of the tree and
  on the size of the run's directory, which kills the whole tree past any limit (killing bubblewrap
  kills the pid namespace, and with it every process the model started).

Where bubblewrap is missing or its self-test fails, callers get a reason and refuse: a model that
needs this isolation never runs with less.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import sys
from pathlib import Path

from audits.sandbox_child import SandboxLimits

SANDBOX_ROOT = "/sandbox"  # where the run's directory appears inside
TMPFS_BYTES = 64 * 1024**2
MAX_PROCESSES = 16
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")


@functools.cache
def bwrap_binary() -> str | None:
    return shutil.which("bwrap", path="/usr/bin:/bin")


def bwrap_command(workdir: Path, project_root: str, hidden: list[str]) -> list[str]:
    """The bubblewrap command line that runs the child with ``workdir`` as ``SANDBOX_ROOT``."""
    binary = bwrap_binary()
    if binary is None:
        raise OSError("bubblewrap (bwrap) is not installed")
    command = [binary, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534", "--die-with-parent",
               "--new-session", "--cap-drop", "ALL", "--proc", "/proc", "--dev", "/dev", "--dir", "/etc"]
    for top in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(top):
            command += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            command += ["--ro-bind", top, top]
    command += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    # The sandbox's own /tmp comes before the interpreter's paths, which may lie under the host's /tmp
    # (a checkout or a virtualenv there): a later mount covers an earlier one, never the reverse.
    command += ["--size", str(TMPFS_BYTES), "--tmpfs", "/tmp"]  # noqa: S108 - the sandbox's own tmpfs
    mounted = ["/usr"]
    for path in _python_paths(project_root):
        command += ["--ro-bind", path, path]
        mounted.append(path)
    command += ["--bind", str(workdir), SANDBOX_ROOT,
                "--ro-bind", str(workdir / "model"), f"{SANDBOX_ROOT}/model",
                "--ro-bind", str(workdir / "data.parquet"), f"{SANDBOX_ROOT}/data.parquet"]
    for path in hidden:  # never mounted; covered if a mounted directory happens to contain it
        if any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounted):
            command += ["--tmpfs", path]
    return [*command, "--chdir", SANDBOX_ROOT, "--"]


def _python_paths(project_root: str) -> list[str]:
    """The interpreter's prefixes and the packages the child imports, outermost only."""
    found = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix) if p}
    found |= {os.path.realpath(p) for p in sys.path if p and "site-packages" in p}
    found |= {os.path.join(project_root, package) for package in ("audits", "boas")}
    found = {p for p in found if os.path.isdir(p) and not p.startswith("/usr/")}
    return sorted(p for p in found if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in found))


class Watchdog:
    """Measures a process tree from outside and says which limit, if any, it passed."""

    def __init__(self, root_pid: int, workdir: Path, limits: SandboxLimits):
        self.root_pid, self.workdir, self.limits = root_pid, workdir, limits
        self.disk_bytes = min(limits.max_file_bytes, 2 * 1024**3)
        self.baseline = _du(workdir)  # the model and data copies

    def check(self) -> str | None:
        """A FAILURES code when a limit is passed (the caller kills the tree), else None."""
        pids = self.tree()
        rss, cpu = 0, 0.0
        for pid in pids:
            rss += _rss(pid)
            cpu += _cpu(pid)
        if rss > self.limits.memory_bytes:
            return "memory"
        if cpu > self.limits.cpu_seconds:
            return "timeout"
        if len(pids) > MAX_PROCESSES + 3:  # setpriv/bwrap, bwrap's init, the child
            return "crash"
        if _du(self.workdir) - self.baseline > self.disk_bytes:
            return "crash"
        return None

    def tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                ppid = _ppid(int(entry))
                if ppid is not None:
                    children.setdefault(ppid, []).append(int(entry))
        found, stack = [], [self.root_pid]
        while stack:
            pid = stack.pop()
            found.append(pid)
            stack.extend(children.get(pid, []))
        return found

    def kill(self) -> None:
        for pid in reversed(self.tree()):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            data = fh.read()
    except OSError:
        return None
    return data[data.rfind(")") + 2:].split()


def _ppid(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def _cpu(pid: int) -> float:
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _TICKS if fields else 0.0


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _du(root: Path) -> int:
    total = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue
    return total
