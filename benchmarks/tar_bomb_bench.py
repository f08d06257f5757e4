"""Tar bombs against the archive reader: time and peak memory to refuse them, each in a fresh process.

    .venv/bin/python benchmarks/tar_bomb_bench.py              # BOAS's reader, default limits
    .venv/bin/python benchmarks/tar_bomb_bench.py --baseline   # also the stdlib's tarfile (slow, ~3 GB)
    .venv/bin/python benchmarks/tar_bomb_bench.py --json       # one JSON object per line (the tests read it)

The archives are built as concatenated gzip members (a valid gzip file, RFC 1952 §2.2): one
compressed mebibyte repeated, so a gigabyte of payload costs a millisecond to build.
- ``pax-header``: 0.95 MB tar.gz whose first member is a pax extended header of 1 GiB.
- ``zeros``: 1.8 MB tar.gz holding 1.8 GB of zeros in two 900 MiB files (under the 1 GiB file cap).
- ``many-zeros``: 1.8 MB tar.gz of 1,800 files of 1 MiB of zeros each (each below the ratio floor).
Each case runs in its own subprocess; time is ``perf_counter`` around ``extract_archive`` in the
child. Peak memory is the child's own high-water mark (``VmHWM``, which ``exec`` resets); the
parent also reads the child's ``ru_maxrss`` with ``os.wait4``, which on Linux keeps the high-water
mark of the forked parent from before ``exec`` (about 100 MB when the parent is pytest).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from pathlib import Path

MIB = 1024 * 1024
BLOCK = tarfile.BLOCKSIZE


def _header(name: str, size: int, type_: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode = size, type_, 0o644
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _padding(size: int) -> bytes:
    return bytes(-size % BLOCK)


class _Members:
    """A gzip file written as members; repeated payload reuses one compressed member."""

    def __init__(self, path: Path):
        self.out = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.cache: dict[bytes, bytes] = {}

    def add(self, data: bytes, repeat: int = 1) -> None:
        member = self.cache.get(data) if repeat > 1 else None
        if member is None:
            member = gzip.compress(data, compresslevel=9, mtime=0)
            if repeat > 1:
                self.cache[data] = member
        for _ in range(repeat):
            self.out.write(member)

    def close(self) -> None:
        self.out.close()


def build_pax_header_bomb(path: Path) -> Path:
    size = 1024 * MIB
    record_head = f"{size} comment=".encode()
    gz = _Members(path)
    gz.add(_header("././@PaxHeader", size, tarfile.XHDTYPE) + record_head)
    gz.add(b"a" * MIB, repeat=1023)
    mlmodel = b"flavors: {}\n"
    gz.add(b"a" * (MIB - len(record_head) - 1) + b"\n" + _header("MLmodel", len(mlmodel)) + mlmodel
           + _padding(len(mlmodel)) + bytes(2 * BLOCK))
    gz.close()
    return path


def _zero_files(path: Path, count: int, size: int) -> Path:
    gz = _Members(path)
    mlmodel = b"flavors: {}\n"
    gz.add(_header("MLmodel", len(mlmodel)) + mlmodel + _padding(len(mlmodel)))
    for i in range(count):
        gz.add(_header(f"zeros-{i}.bin", size))
        gz.add(bytes(MIB), repeat=size // MIB)
    gz.add(bytes(2 * BLOCK))
    gz.close()
    return path


def build_zeros_bomb(path: Path) -> Path:
    return _zero_files(path, 2, 900 * MIB)


def build_many_zeros_bomb(path: Path) -> Path:
    return _zero_files(path, 1800, MIB)


CASES = {"pax-header": build_pax_header_bomb, "zeros": build_zeros_bomb, "many-zeros": build_many_zeros_bomb}

_BOAS_CHILD = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from boas.config import Settings
    from boas.registry.artifacts.archives import extract_archive
    from registry_db.errors import BoasError
    archive, dest = Path(sys.argv[1]), Path(sys.argv[2])
    start = time.perf_counter()
    try:
        extract_archive(archive, dest, Settings().archive_limits)
        outcome, status = "accepted", 201
    except BoasError as exc:
        outcome, status = exc.message, exc.status
    seconds = time.perf_counter() - start
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": seconds, "status": status, "outcome": outcome, "left_on_disk": dest.exists(),
                      "vm_hwm_mb": hwm / 1024}))
""")

_STDLIB_CHILD = textwrap.dedent("""
    import json, sys, tarfile, time
    start = time.perf_counter()
    try:
        with tarfile.open(sys.argv[1], "r:gz") as tf:
            outcome, status = f"{len(tf.getmembers())} members listed", 200
    except Exception as exc:
        outcome, status = f"{type(exc).__name__}: {exc}", 0
    hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": time.perf_counter() - start, "status": status, "outcome": outcome[:200],
                      "left_on_disk": False, "vm_hwm_mb": hwm / 1024}))
""")


def measure(archive: Path, reader: str = "boas") -> dict:
    """Run one extraction in a fresh interpreter; its own time, and its peak RSS as the kernel saw it."""
    with tempfile.TemporaryDirectory() as tmp:
        code = _BOAS_CHILD if reader == "boas" else _STDLIB_CHILD
        proc = subprocess.Popen([sys.executable, "-c", code, str(archive), str(Path(tmp) / "out")],
                                stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[1])
        out = proc.stdout.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    result = json.loads(out)
    result.update(reader=reader, archive_bytes=archive.stat().st_size, peak_rss_mb=result.pop("vm_hwm_mb"),
                  ru_maxrss_mb=usage.ru_maxrss / 1024)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="store_true", help="also time the stdlib's tarfile (needs ~3 GB)")
    parser.add_argument("--json", action="store_true", help="one JSON object per case")
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="only these cases")
    args = parser.parse_args()
    readers = ["boas", "stdlib"] if args.baseline else ["boas"]
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for name in args.case or CASES:
            archive = CASES[name](Path(tmp) / f"{name}.tar.gz")
            for reader in readers:
                row = {"case": name, **measure(archive, reader)}
                rows.append(row)
                if args.json:
                    print(json.dumps(row), flush=True)
    if not args.json:
        print(f"{'case':<11} {'reader':<7} {'archive':>9} {'time':>8} {'peak RSS':>9}  status  outcome")
        for r in rows:
            print(f"{r['case']:<11} {r['reader']:<7} {r['archive_bytes'] / 1e6:>7.2f}MB {r['seconds']:>7.3f}s "
                  f"{r['peak_rss_mb']:>7.1f}MB  {r['status']:<6}  {r['outcome'][:90]}")


if __name__ == "__main__":
    main()
