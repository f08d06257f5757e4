"""Checking an archive's entries before and while they are written: names, types, sizes, ratios, time.

Used by ``archives``: a ``_Scan`` judges each header as it is read, and a ``_BoundedReader`` enforces
the real byte counts of a compressed stream, because headers can lie.
"""

from __future__ import annotations

import os
import re
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass, replace
from typing import Protocol

from registry_db.errors import TooLarge, ValidationFailed

_CHUNK = 64 * 1024
_SKIP_CHUNK = 1024 * 1024  # how far a gzip stream is skipped between two checks
# A tar header extension (pax records, GNU long name or link) above this is refused before it is
# read: names are capped at 1024 characters anyway, and tarfile holds the whole record in memory.
MAX_HEADER_BYTES = 8 * 1024
_MAX_REPORTED = 20  # cap on listed problems, so a hostile archive cannot produce a huge error body
_MAX_NAME_CHARS = 1024
_MAX_COMPONENT_BYTES = 255
_DRIVE = re.compile(r"^[A-Za-z]:")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_GZIP_MAGIC = b"\x1f\x8b"
# What the stdlib readers raise on corrupt input (ValueError: negative seeks; RuntimeError covers
# zipfile's NotImplementedError for unknown versions and flags).
_READ_ERRORS = (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, ValueError, RuntimeError)


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what one upload may expand to; defaults suit MLflow model directories."""

    max_entries: int = 2000  # files + directories
    max_total_bytes: int = 2 * 1024**3  # total uncompressed
    max_file_bytes: int = 1024**3
    max_ratio: float = 200.0  # uncompressed total / compressed archive size; also per zip entry
    # Ratios only count once this many uncompressed bytes are involved: a small, very
    # compressible file (a JSON of zeros) cannot amplify into anything dangerous.
    ratio_floor_bytes: int = 1024 * 1024
    max_seconds: float = 60.0  # wall-clock budget for unpacking one archive


@dataclass(frozen=True)
class ExtractedFile:
    path: str  # POSIX relative path inside dest, e.g. "model.pkl" or "sub/x.json"
    sha256: str  # hex
    size: int


@dataclass
class _Entry:
    parts: tuple[str, ...]  # normalised path components
    is_dir: bool
    size: int  # declared uncompressed size
    compressed: int  # declared compressed size (zip only; 0 for tar)
    handle: zipfile.ZipInfo | tarfile.TarInfo
    raw: str  # name as it appears in the archive, for messages


def _invalid(field: str, message: str, problems: list[str] | None = None) -> ValidationFailed:
    return ValidationFailed(message, errors={field: problems or [message]})


def _too_large(field: str, message: str) -> TooLarge:
    return TooLarge(message, errors={field: [message]})


class _Scan:
    """One archive's entries and problems; size caps fail fast, content problems are all collected."""

    def __init__(self, limits: ArchiveLimits, field: str, archive_size: int):
        self.limits, self.field, self.archive_size = limits, field, max(archive_size, 1)
        self.entries: list[_Entry] = []
        self.problems: list[str] = []
        self.count = self.declared = self.written = 0
        self.deadline = time.monotonic() + limits.max_seconds

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _too_large(self.field, f"archive could not be unpacked within {self.limits.max_seconds:g} "
                                         "seconds")

    def refuse(self, raw: str, rule: str) -> None:
        self.problems.append(f"archive entry {raw!r} {rule}")

    def add(
        self, raw: str, is_dir: bool, size: int, compressed: int, handle: zipfile.ZipInfo | tarfile.TarInfo
    ) -> None:
        lim, self.count = self.limits, self.count + 1
        if self.count > lim.max_entries:
            raise _too_large(self.field, f"archive has more than {lim.max_entries} entries")
        parts = self._parts(raw)
        if is_dir or parts is None:
            if parts is not None:
                self.entries.append(_Entry(parts, True, 0, 0, handle, raw))
            return
        if size > lim.max_file_bytes:
            msg = f"declares {size} bytes, above the {lim.max_file_bytes} byte file limit"
            raise _too_large(self.field, f"archive entry {raw!r} {msg}")
        if compressed and size > lim.ratio_floor_bytes and size / compressed > lim.max_ratio:
            self.refuse(
                raw, f"exceeds the compression ratio limit of {lim.max_ratio:g} ({size} from {compressed})"
            )
        # Fail fast: for tar, reading on would decompress this entry's data to reach the next header,
        # so the total and the archive's ratio are checked at every header, not once all are read.
        # (A zip's central directory is already read; its ratios are reported per entry by plan().)
        self.declared += size
        if self.declared > lim.max_total_bytes:
            raise _too_large(
                self.field, f"archive declares more than {lim.max_total_bytes} uncompressed bytes"
            )
        if not compressed:
            self._check_ratio(self.declared, f" ({self.declared} bytes declared from {self.archive_size})")
        self.entries.append(_Entry(parts, False, size, compressed, handle, raw))

    def _parts(self, raw: str) -> tuple[str, ...] | None:
        """Normalised path components of an entry name, or None once the reason is recorded."""
        if raw == "":
            self.refuse(raw, "has an empty name")
            return None
        if "\x00" in raw:
            self.refuse(raw, "contains a NUL byte in its name")
            return None
        if any(ord(c) < 32 or ord(c) == 127 for c in raw):
            self.refuse(raw, "contains a control character in its name")
            return None
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            self.refuse(raw, "has a name that is not valid UTF-8")
            return None
        if "\\" in raw:
            self.refuse(raw, "contains a backslash; only '/' separators are allowed")
            return None
        if raw.startswith("/") or _DRIVE.match(raw):
            self.refuse(raw, "is an absolute path")
            return None
        if len(raw) > _MAX_NAME_CHARS:
            self.refuse(raw, f"has a name longer than {_MAX_NAME_CHARS} characters")
            return None
        parts = tuple(p for p in raw.split("/") if p not in ("", "."))
        if ".." in parts:
            self.refuse(raw, "escapes the model directory ('..' component)")
            return None
        if any(len(p.encode("utf-8")) > _MAX_COMPONENT_BYTES for p in parts):
            self.refuse(raw, f"has a path component longer than {_MAX_COMPONENT_BYTES} bytes")
            return None
        return parts

    def plan(self) -> list[_Entry]:
        """Whole-list checks (duplicates, file/dir clashes, archive ratio), then strip a lone root dir."""
        seen: dict[tuple[str, ...], str] = {}
        for e in self.entries:
            if not e.parts and not e.is_dir:
                self.refuse(e.raw, "has an empty name")
            elif e.parts in seen:
                self.refuse(e.raw, f"duplicates {seen[e.parts]!r} (same path after normalisation)")
            elif e.parts:
                seen[e.parts] = e.raw
        files = {e.parts: e.raw for e in self.entries if e.parts and not e.is_dir}
        for e in self.entries:
            clash = next((files[e.parts[:i]] for i in range(1, len(e.parts)) if e.parts[:i] in files), None)
            if clash is not None:
                self.refuse(e.raw, f"is inside {clash!r}, which is a file")
        if n := len(self.problems):
            more = f" (and {n - 1} more problems)" if n > 1 else ""
            raise _invalid(self.field, self.problems[0] + more, self.problems[:_MAX_REPORTED])
        self._check_ratio(self.declared, f" ({self.declared} bytes from {self.archive_size})")
        kept = [e for e in self.entries if e.parts]
        roots = {e.parts[0] for e in kept}
        if len(roots) == 1 and (next(iter(roots)),) not in files:
            kept = [replace(e, parts=e.parts[1:]) for e in kept if e.parts[1:]]
        if all(e.is_dir for e in kept):
            raise _invalid(self.field, "archive contains no files")
        return kept

    def _check_ratio(self, total: int, detail: str = "") -> None:
        lim = self.limits
        if total > lim.ratio_floor_bytes and total / self.archive_size > lim.max_ratio:
            raise _invalid(
                self.field, f"archive exceeds the compression ratio limit of {lim.max_ratio:g}{detail}"
            )

    def count_real(self, e: _Entry, file_bytes: int, chunk: int) -> None:
        """Enforce the caps on bytes actually produced, whatever the headers said."""
        lim, self.written = self.limits, self.written + chunk
        if file_bytes > lim.max_file_bytes:
            raise _too_large(
                self.field, f"archive entry {e.raw!r} expands beyond the {lim.max_file_bytes} byte file limit"
            )
        if self.written > lim.max_total_bytes:
            raise _too_large(self.field, f"archive expands beyond the {lim.max_total_bytes} byte total limit")
        if e.compressed and file_bytes > lim.ratio_floor_bytes and file_bytes / e.compressed > lim.max_ratio:
            raise _invalid(
                self.field,
                f"archive entry {e.raw!r} exceeds the compression ratio limit of {lim.max_ratio:g}",
            )
        self._check_ratio(self.written)


class _Stream(Protocol):
    """What the reader needs of the (possibly decompressing) stream beneath it."""

    def read(self, size: int = ..., /) -> bytes: ...
    def seek(self, offset: int, whence: int = ..., /) -> int: ...
    def tell(self) -> int: ...


class _BoundedReader:
    """File wrapper for tarfile that refuses to read or seek past what the archive may expand to.

    tarfile reads GNU long names and pax headers into memory whole, so a tiny tar.gz could
    otherwise make it allocate gigabytes before any member is seen: while headers are read, one
    read is capped at ``MAX_HEADER_BYTES``. The position in the uncompressed stream is bounded by
    the total cap and, past the ratio floor, by the compression ratio times the archive's size
    (with room for headers and padding). A gzip stream is skipped in chunks, so the caps and the
    time budget are checked while it decompresses, not after; and once ``LOCAL_RATIO_FLOOR`` bytes
    are out, output more than ``max_ratio`` times the compressed bytes read so far is refused too,
    so a small archive of zeros is not decompressed up to its whole allowance.
    """

    # Honest models do not expand 200-fold over tens of megabytes (pickled and native weights
    # compress a few times at most); refusing there costs a bomb about 0.1 s of decompression.
    LOCAL_RATIO_FLOOR = 32 * 1024 * 1024

    def __init__(self, raw: _Stream, cap: int, scan: _Scan, *, compressed: _Stream | None = None):
        self._raw, self._cap, self._scan, self._compressed = raw, cap, scan, compressed
        self.max_read: int | None = MAX_HEADER_BYTES  # lifted once every header is read

    def _check(self, end: int) -> None:
        scan, lim = self._scan, self._scan.limits
        if end > self._cap:
            raise _too_large(scan.field, f"archive stream expands beyond {self._cap} bytes")
        # Every entry adds at most a header block, an extension and padding to its declared size.
        room = (scan.count + 2) * (2 * tarfile.BLOCKSIZE + MAX_HEADER_BYTES)
        if end > max(lim.ratio_floor_bytes, lim.max_ratio * scan.archive_size) + room:
            raise _invalid(scan.field, f"archive exceeds the compression ratio limit of {lim.max_ratio:g} "
                                       f"(expands beyond {end - room} bytes from {scan.archive_size})")
        scan.check_time()

    def _check_progress(self) -> None:
        """After real decompression: the ratio so far, on the compressed bytes actually consumed."""
        self._scan.check_time()
        out = self._raw.tell()
        if self._compressed is None or out <= self.LOCAL_RATIO_FLOOR:
            return
        consumed, limit = max(self._compressed.tell(), 1), self._scan.limits.max_ratio
        if out / consumed > limit:
            raise _invalid(self._scan.field, f"archive exceeds the compression ratio limit of {limit:g} "
                                             f"({out} bytes from the first {consumed})")

    def read(self, size: int = -1) -> bytes:
        pos = self._raw.tell()
        if size is None or size < 0:
            size = self._cap - pos + 1
        if pos + size > self._cap:
            raise _too_large(self._scan.field, f"archive stream expands beyond {self._cap} bytes")
        if self.max_read is not None and size > self.max_read:  # before allocating anything
            raise _too_large(self._scan.field, f"archive has a header larger than {self.max_read} bytes "
                                               "(pax extended header or GNU long name)")
        self._check(pos + size)
        return self._raw.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:  # tarfile only seeks absolutely
        if whence != os.SEEK_SET:
            raise OSError("only absolute seeks are supported")
        self._check(offset)
        if self._compressed is None:
            return self._raw.seek(offset)
        if offset < self._raw.tell():
            self._raw.seek(0)  # gzip rewinds by decompressing again from the start
        while (gap := offset - self._raw.tell()) > 0:
            if not self._raw.read(min(gap, _SKIP_CHUNK)):
                break  # end of stream: tarfile reports the truncation
            self._check_progress()
        return self._raw.tell()

    def tell(self) -> int:
        return self._raw.tell()

    def write(self, data: bytes) -> int:  # tarfile's file-object protocol; this reader never writes
        raise OSError("the archive is read-only")

    def close(self) -> None:  # the stream beneath is closed by whoever opened it
        return None
