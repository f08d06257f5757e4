"""Datasets registered where they already are: a file under a mounted directory, or an object under an S3 prefix.

A cohort of tens of millions of rows should not have to travel through HTTP. The operator names the
places BOAS may read (``BOAS_DATASET_IMPORT_ROOTS``, ``BOAS_DATASET_IMPORT_S3``); an admin names one
file or object in them, and it is copied into the staging area, hashed on the way, then checked and
stored like any upload. Nothing else is ever read: there is no fetch of a URL.

The path is hostile even from an admin (a typo, a shared directory others write to): it is walked from
the root one component at a time, each opened relative to its parent with ``O_NOFOLLOW``, so no
symbolic link is followed (inside or outside the root) and a directory renamed or swapped for a link
while it is walked cannot redirect the walk, since the open descriptors are what is read. The last
component must be a regular file by ``fstat`` of the descriptor that is read (not of a name), with no
other hard link (the one way a file outside the root can appear inside it without a symbolic link); a
name seen to be anything else (a device, a pipe) is refused before it is even opened.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from registry_db.errors import StorageUnavailable, TooLarge, ValidationFailed

FIELD = "source"
GB = 1024**3
MAX_SOURCE_CHARS = 1024  # S3's own limit on a key; more than any path a cohort sits at
# A path or key component: printable, no separator of another system, nothing a shell or URL would reinterpret.
_COMPONENT = re.compile(r"[^\x00-\x1f\x7f/\\]{1,255}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True)
class S3Place:
    """A bucket and a key prefix (empty, or ending in ``/``) the instance may import from."""

    bucket: str
    prefix: str = ""

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class ImportSources:
    """Where datasets may be registered from, as the operator configured it; empty: the feature is off.

    ``s3_client`` builds the client of the instance's object storage (endpoint and ``AWS_*`` credentials),
    called only when an object is imported, so a process that never imports never imports boto3.
    """

    roots: tuple[Path, ...] = ()
    s3: tuple[S3Place, ...] = ()
    max_bytes: int = 200 * GB
    s3_client: Callable[[], Any] | None = field(default=None, compare=False)

    @property
    def enabled(self) -> bool:
        return bool(self.roots or self.s3)

    def root_named(self, name: str) -> Path | None:
        return next((root for root in self.roots if root.name == name), None)


@dataclass(frozen=True)
class FileSource:
    root: Path
    parts: tuple[str, ...]

    @property
    def filename(self) -> str:
        return self.parts[-1]

    def __str__(self) -> str:
        return f"file:{self.root.name}/{'/'.join(self.parts)}"


@dataclass(frozen=True)
class S3Source:
    bucket: str
    key: str

    @property
    def filename(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def refuse(message: str, problem: str) -> ValidationFailed:
    """A refusal of the ``source`` field: the sentence, and the field's own message."""
    return ValidationFailed(message, {FIELD: [problem]})


def _components(path: str) -> tuple[str, ...] | None:
    """The components of a relative path, or None if one is empty, ``.``, ``..`` or holds a forbidden character."""
    parts = tuple(path.split("/"))
    if not all(_COMPONENT.fullmatch(p) and p not in (".", "..") for p in parts):
        return None
    return parts


def parse_source(sources: ImportSources, raw: Any) -> FileSource | S3Source:
    """The place ``raw`` names, if it is inside one the instance may import from; a 422 on ``source`` otherwise."""
    if not sources.enabled:
        raise refuse("registering datasets in place is not enabled on this instance",
                     "not enabled: the operator sets BOAS_DATASET_IMPORT_ROOTS or BOAS_DATASET_IMPORT_S3")
    if not isinstance(raw, str) or not raw:
        raise refuse("name the file to register", "required: file:<root>/<path> or s3://<bucket>/<key>")
    if len(raw) > MAX_SOURCE_CHARS:
        raise refuse("the source is too long", f"at most {MAX_SOURCE_CHARS} characters")
    try:  # JSON can carry a lone surrogate, which no file name or S3 key can be encoded from
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise refuse("the source is not valid text", "not UTF-8 text: unpaired surrogates are refused") from None
    if raw.startswith("s3://"):
        return _s3_source(sources, raw.removeprefix("s3://"))
    if raw.startswith("file:/"):
        raise refuse("an absolute path cannot be registered: name a configured root and the path under it",
                     "not an absolute path or file:// URL: use file:<root>/<path> or s3://<bucket>/<key>")
    if raw.startswith("file:"):
        return _file_source(sources, raw.removeprefix("file:"))
    if _SCHEME.match(raw) is None:
        raise refuse("the source names no scheme", "no scheme: use file:<root>/<path> or s3://<bucket>/<key>")
    raise refuse("only files under a configured root and objects under a configured S3 prefix can be registered: "
                 "BOAS fetches no URL",
                 "unsupported scheme, BOAS fetches no URL: use file:<root>/<path> or s3://<bucket>/<key>")


def _file_source(sources: ImportSources, rest: str) -> FileSource:
    if not sources.roots:
        raise refuse("no directory is configured for registering datasets in place",
                     "no import root is configured: use s3://<bucket>/<key>")
    name, _, path = rest.partition("/")
    root = sources.root_named(name)
    if root is None:
        raise refuse("the source names no configured root", "not under a configured root (its first part names "
                     "the root, e.g. file:cohorts/2024/cohort.parquet)")
    parts = _components(path) if path else None
    if parts is None:
        raise refuse("the path is not a plain path under its root",
                     "empty parts, '.', '..', backslashes and control characters are refused")
    return FileSource(root, parts)


def _s3_source(sources: ImportSources, rest: str) -> S3Source:
    bucket, _, key = rest.partition("/")
    if not any(place.bucket == bucket and key.startswith(place.prefix) for place in sources.s3):
        raise refuse("the object is not under a configured S3 prefix", "not under a configured bucket and prefix")
    if _components(key) is None:
        raise refuse("the key is not a plain key under its prefix",
                     "empty parts, '.', '..', backslashes and control characters are refused")
    return S3Source(bucket, key)


# -- copying into the staging area -------------------------------------------------------------------

Stage = Callable[[IO[bytes], Path, int, str], tuple[str, int]]


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"the file is larger than the {limit}-byte limit of datasets registered in place",
                    {FIELD: [f"larger than {limit} bytes"]})


def copy_source(sources: ImportSources, source: FileSource | S3Source, dest: Path, stage: Stage) -> tuple[str, int]:
    """Copy the source into ``dest`` through ``stage`` (the store's hashing, capped copy); its digest and size."""
    if isinstance(source, FileSource):
        with _open_under_root(source, sources.max_bytes) as stream:
            return stage(stream, dest, sources.max_bytes, FIELD)
    return _copy_object(sources, source, dest, stage)


def _open_under_root(source: FileSource, limit: int) -> IO[bytes]:
    """The file, opened without following any link, checked regular, single-linked and within ``limit`` by fstat."""
    not_found = refuse("the file does not exist under its root", "no such file")
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(source.root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise StorageUnavailable(f"the import root {source.root.name!r} cannot be opened: {exc.strerror}") from exc
    try:
        for i, part in enumerate(source.parts):
            last = i == len(source.parts) - 1
            if last:
                _require_regular_name(part, fd, not_found)
            try:
                # O_NONBLOCK: a FIFO put there since the check above must not make the open wait for a writer;
                # whatever was opened, the fstat below decides.
                child = os.open(part, flags | (os.O_NONBLOCK if last else os.O_DIRECTORY), dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and _is_link(part, fd)):
                    raise refuse("the path goes through a symbolic link", "symbolic links are not followed") from exc
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    raise not_found from exc
                if exc.errno in (errno.EACCES, errno.EPERM):
                    raise refuse("the file cannot be read by BOAS", "permission denied") from exc
                raise refuse("the file cannot be opened", "cannot be opened") from exc
            os.close(fd)
            fd = child
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise refuse("only a regular file can be registered", "not a regular file (a directory, device or pipe)")
        if info.st_nlink != 1:
            raise refuse("the file has other hard links: copy it into the root first",
                         "has other hard links, which may be outside the root")
        if info.st_size > limit:
            raise _too_large(limit)
        os.set_blocking(fd, True)
        stream = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    return stream


def _require_regular_name(name: str, dir_fd: int, not_found: ValidationFailed) -> None:
    """Refuse a last component that is not a regular file before opening it: opening a device can act (a tape
    rewinds, a terminal becomes the controlling one), so a device is never opened when it is seen first."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError as exc:
        raise not_found from exc
    except OSError:
        return  # the open below meets the same problem and says which
    if stat.S_ISLNK(info.st_mode):
        raise refuse("the path goes through a symbolic link", "symbolic links are not followed")
    if not stat.S_ISREG(info.st_mode):
        raise refuse("only a regular file can be registered", "not a regular file (a directory, device or pipe)")


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _copy_object(sources: ImportSources, source: S3Source, dest: Path, stage: Stage) -> tuple[str, int]:
    """Stream the object into ``dest``; an object past the cap is refused from its announced length, unread."""
    from botocore.exceptions import BotoCoreError, ClientError

    if sources.s3_client is None:
        raise StorageUnavailable("no object storage client is configured for imports")
    client = sources.s3_client()
    try:
        obj = client.get_object(Bucket=source.bucket, Key=source.key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            raise refuse("no such object in the bucket", "no such object") from exc
        if code in ("403", "AccessDenied"):
            raise refuse("the object cannot be read with the instance's credentials", "access denied") from exc
        raise StorageUnavailable(f"object storage did not answer for {source}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"object storage did not answer for {source}: {exc}") from exc
    body = obj["Body"]
    try:
        if obj.get("ContentLength", 0) > sources.max_bytes:
            raise _too_large(sources.max_bytes)
        try:
            return stage(body, dest, sources.max_bytes, FIELD)
        except BotoCoreError as exc:  # the connection lost mid-body
            raise StorageUnavailable(f"the download of {source} was interrupted: {exc}") from exc
    finally:
        body.close()
