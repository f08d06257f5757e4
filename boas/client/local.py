"""What the client does on the author's machine: pack a model directory and check it as the server would.

``check_model_directory`` zips the directory exactly as ``boas push`` will send it, then runs the
registry's own ``check_archive`` on that zip: the archive rules, the MLmodel read as data (every path
inside the directory), the named input signature, the pickle scan and the execution decision. A model
the server would refuse is refused here first, with the server's words. Size caps are the server's to
enforce (they are its configuration); the local check only keeps the compression-ratio rule, which an
honest model directory never meets.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from boas.client.errors import ClientError
from boas.registry.artifacts.archive_scan import ArchiveLimits
from boas.registry.artifacts.checks import check_archive
from registry_db.errors import ValidationFailed

# The server's caps on counts, sizes and time come from its settings; locally only the rules matter.
LOCAL_LIMITS = ArchiveLimits(max_entries=1_000_000, max_total_bytes=2**50, max_file_bytes=2**50, max_seconds=3600)
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same directory packs to the same bytes
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class LocalCheck:
    """A model directory packed and checked: the zip to upload and what the server will record."""

    archive: Path
    files: int
    mlmodel: dict[str, Any] | None
    execution: dict[str, Any] | None


def pack_directory(directory: Path, archive: Path, *, field: str = "model") -> int:
    """Zip the regular files of ``directory`` (names relative to it) into ``archive``; returns the file count.

    A symbolic link or a special file is refused: following it could upload a file from outside the
    directory, and the server would refuse it inside an archive anyway.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValidationFailed(f"{directory} is not a directory", {field: [f"{directory} is not a directory"]})
    count = 0
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames.sort()
            for name in [*dirnames, *sorted(filenames)]:
                path = Path(dirpath, name)
                rel = path.relative_to(directory).as_posix()
                mode = path.lstat().st_mode
                if stat.S_ISLNK(mode):
                    raise ValidationFailed(
                        f"{rel!r} is a symbolic link",
                        {field: [f"{rel!r} is a symbolic link: copy the file it points to into the model directory"]},
                    )
                if stat.S_ISDIR(mode):
                    continue
                if not stat.S_ISREG(mode):
                    raise ValidationFailed(
                        f"{rel!r} is not a regular file",
                        {field: [f"{rel!r} is not a regular file (device, socket or pipe)"]},
                    )
                info = zipfile.ZipInfo(rel, date_time=_ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, 1024 * 1024)
                count += 1
    return count


def check_model_directory(directory: Path, archive: Path, *, mlflow: bool = True) -> LocalCheck:
    """Pack ``directory`` into ``archive`` and apply the server's upload rules to it.

    Raises ``ValidationFailed`` (or ``TooLarge``) with the fields and messages the server would answer.
    """
    field = "model" if mlflow else "code"
    count = pack_directory(directory, archive, field=field)
    with tempfile.TemporaryDirectory(prefix="boas-check-") as work:
        checked = check_archive(archive, Path(work) / "tree", LOCAL_LIMITS, field=field, mlflow=mlflow)
    return LocalCheck(archive, count, checked.mlmodel, checked.execution)


def manifest_parts(name: object) -> tuple[str, ...]:
    """A manifest path as components under the destination, refusing anything that could leave it.

    The manifest comes from the server, which is trusted to serve files, not to choose where they land.
    """
    if not isinstance(name, str) or not name:
        raise ClientError(f"the manifest names a file {name!r}: refused")
    bad = (
        "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or _DRIVE.match(name)
        or any(ord(c) < 32 or ord(c) == 127 for c in name)
    )
    parts = PurePosixPath(name).parts
    if bad or any(p in ("", "..", ".") for p in name.split("/")) or not parts:
        raise ClientError(f"the manifest names a file outside the destination ({name!r}): refused, nothing written")
    return tuple(parts)
