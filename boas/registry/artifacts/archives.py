"""Safe extraction of untrusted model archives (zip, tar, tar.gz).

Uploads are hostile by default: every entry is checked (names, types, declared sizes,
compression ratios) before anything touches the disk, then files are streamed out while
the real byte counts are enforced again, because headers can lie. Extraction is
all-or-nothing: on any failure the destination directory is removed.

Refusing must cost little: a tar header (pax records, GNU long names) is capped at a few KB
before tarfile allocates it, the compression ratio and the uncompressed total are checked at
every header and while the stream is skipped, not once all headers are read, and each archive
has a time budget. A tar bomb is refused within a fraction of a second and a few MB of memory
(``benchmarks/tar_bomb_bench.py`` measures it).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path
from typing import IO, cast

from boas.registry.artifacts.archive_scan import (
    _CHUNK,
    _GZIP_MAGIC,
    _READ_ERRORS,
    _ZIP_MAGIC,
    ArchiveLimits,
    ExtractedFile,
    _BoundedReader,
    _Entry,
    _invalid,
    _Scan,
)


def extract_archive(
    archive_path: Path, dest_dir: Path, limits: ArchiveLimits, field: str = "model"
) -> list[ExtractedFile]:
    """Validate every entry of an untrusted archive, then stream it into a new dest_dir.

    Returns the regular files written, sorted by path. A single top-level directory is
    stripped. On any error dest_dir is removed before the exception propagates.
    """
    archive_path, dest_dir = Path(archive_path), Path(dest_dir)
    if dest_dir.exists() or dest_dir.is_symlink():
        raise FileExistsError(f"extraction destination {dest_dir} already exists")
    size = archive_path.stat().st_size
    dest_dir.mkdir(parents=True, mode=0o755)
    try:
        os.chmod(dest_dir, 0o755)  # noqa: S103 - fixed mode, never the archive's
        kind = _detect_format(archive_path, field)
        scan = _Scan(limits, field, size)
        out = (
            _extract_zip(archive_path, dest_dir, scan)
            if kind == "zip"
            else _extract_tar(archive_path, dest_dir, scan, gz=kind == "tar.gz")
        )
        return sorted(out, key=lambda f: f.path)
    except BaseException:
        shutil.rmtree(dest_dir, ignore_errors=True)
        raise


def _detect_format(archive_path: Path, field: str) -> str:
    """Decide the format from magic bytes only; the upload's file name is never trusted."""
    with open(archive_path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(_GZIP_MAGIC):
        return "tar.gz"
    if head.startswith(_ZIP_MAGIC):
        if not zipfile.is_zipfile(archive_path):
            raise _invalid(field, "zip archive is corrupt or truncated (no central directory)")
        return "zip"
    try:
        with tarfile.open(archive_path, mode="r:") as tf:
            tf.next()
        return "tar"
    except (tarfile.TarError, EOFError, OSError):
        raise _invalid(
            field, "uploaded file is not a zip or tar archive (zip, tar and tar.gz are accepted)"
        ) from None


def _zip_scan(zf: zipfile.ZipFile, scan: _Scan) -> list[_Entry]:
    for info in zf.infolist():
        raw, kind = info.orig_filename, stat.S_IFMT(info.external_attr >> 16)
        is_dir = info.filename.endswith("/") or kind == stat.S_IFDIR
        if kind == stat.S_IFLNK:
            scan.refuse(raw, "is a symbolic link; links are not allowed")
        elif kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            scan.refuse(raw, "is not a regular file or directory")
        elif info.flag_bits & 0x1:
            scan.refuse(raw, "is encrypted; encrypted archives are not accepted")
        elif info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # bzip2/lzma decompress whole chunks without an output bound: a memory bomb vector.
            scan.refuse(
                raw, f"uses unsupported compression method {info.compress_type} (only stored and deflate)"
            )
        elif is_dir and info.file_size:
            scan.refuse(raw, "is a directory carrying data")
        scan.add(raw, is_dir, info.file_size, max(info.compress_size, 1), info)
    return scan.plan()


def _tar_scan(tf: tarfile.TarFile, scan: _Scan) -> list[_Entry]:
    while (m := tf.next()) is not None:
        if m.issym() or m.islnk():
            scan.refuse(m.name, f"is a {'symbolic' if m.issym() else 'hard'} link; links are not allowed")
        elif m.type == tarfile.GNUTYPE_SPARSE or m.sparse is not None:
            scan.refuse(m.name, "is a sparse file; sparse files are not allowed")
        elif not (m.isreg() or m.isdir()):
            scan.refuse(m.name, "is not a regular file or directory (device, FIFO or other)")
        scan.add(m.name, m.isdir(), m.size, 0, m)
    return scan.plan()


def _make_dirs(dest_dir: Path, entries: list[_Entry]) -> None:
    dirs = {e.parts for e in entries if e.is_dir} | {
        e.parts[:i] for e in entries for i in range(1, len(e.parts))
    }
    for parts in sorted(dirs, key=len):
        path = _target(dest_dir, parts)
        path.mkdir(mode=0o755, exist_ok=True)
        os.chmod(path, 0o755, follow_symlinks=False)  # noqa: S103 - fixed mode, never the archive's


def _target(dest_dir: Path, parts: tuple[str, ...]) -> Path:
    path = dest_dir.joinpath(*parts)
    if not path.resolve().is_relative_to(dest_dir.resolve()):  # defence in depth; names are already checked
        raise RuntimeError(f"refusing to write outside {dest_dir}: {'/'.join(parts)}")
    return path


def _copy(src: IO[bytes], dest: Path, e: _Entry, scan: _Scan) -> ExtractedFile:
    """Stream one entry to disk with a fixed mode, counting and hashing the real bytes."""
    digest, size = hashlib.sha256(), 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o644)
        while True:
            try:
                chunk = src.read(_CHUNK)
            except _READ_ERRORS as exc:
                raise _invalid(scan.field, f"archive entry {e.raw!r} is corrupt or truncated: {exc}") from exc
            if not chunk:
                break
            size += len(chunk)
            scan.count_real(e, size, len(chunk))
            scan.check_time()
            digest.update(chunk)
            out.write(chunk)
    return ExtractedFile("/".join(e.parts), digest.hexdigest(), size)


def _extract_zip(archive_path: Path, dest_dir: Path, scan: _Scan) -> list[ExtractedFile]:
    try:  # only reads here: an OSError means a corrupt archive, not a disk problem
        zf = zipfile.ZipFile(archive_path)
    except _READ_ERRORS as exc:
        raise _invalid(scan.field, f"zip archive is corrupt or truncated: {exc}") from exc
    with zf:
        entries = _zip_scan(zf, scan)
        _make_dirs(dest_dir, entries)
        out = []
        for e in (e for e in entries if not e.is_dir):
            try:
                src = zf.open(cast(zipfile.ZipInfo, e.handle))  # _zip_scan made every handle a ZipInfo
            except _READ_ERRORS as exc:
                raise _invalid(scan.field, f"archive entry {e.raw!r} is corrupt or truncated: {exc}") from exc
            with src:
                out.append(_copy(src, _target(dest_dir, e.parts), e, scan))
    return out


def _extract_tar(archive_path: Path, dest_dir: Path, scan: _Scan, gz: bool) -> list[ExtractedFile]:
    # Room for headers, pax records and padding around the file data itself.
    cap = scan.limits.max_total_bytes + (scan.limits.max_entries + 1) * 4096 + 1024 * 1024
    with open(archive_path, "rb") as fh, gzip.GzipFile(fileobj=fh, mode="rb") if gz else fh as raw:
        try:  # only reads here: an OSError means a corrupt archive, not a disk problem
            bounded = _BoundedReader(raw, cap, scan, compressed=fh if gz else None)
            tf = tarfile.open(fileobj=bounded, mode="r:")  # noqa: SIM115 - closed by the with below
            entries = _tar_scan(tf, scan)
            bounded.max_read = None  # from here on tarfile reads file data, in our own chunk size
        except _READ_ERRORS as exc:
            kind = "tar.gz" if gz else "tar"
            raise _invalid(scan.field, f"{kind} archive is corrupt or truncated: {exc}") from exc
        with tf:
            _make_dirs(dest_dir, entries)
            out = []
            for e in (e for e in entries if not e.is_dir):
                src = tf.extractfile(cast(tarfile.TarInfo, e.handle))  # _tar_scan made every handle a TarInfo
                assert src is not None  # regular files always have a reader
                with src:
                    out.append(_copy(src, _target(dest_dir, e.parts), e, scan))
    return out
