"""``BoasClient``: typed calls to the BOAS v1 API over ``requests``, with the API's errors as ``ApiError``."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypedDict, cast
from urllib.parse import quote

import requests

from boas.client.credentials import normalise_server
from boas.client.errors import ApiError, ClientError
from boas.client.local import manifest_parts

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
_CHUNK = 256 * 1024
RESUMABLE_CHUNK = 16 * 1024 * 1024  # one PATCH of a resumable upload
RESUMABLE_OVER = 256 * 1024 * 1024  # archives past this are pushed by resumable upload (the server's one-shot cap is 512 MB by default)
RESUMABLE_RETRIES = 5  # failed chunks in a row before giving up


class User(TypedDict):
    id: int
    email: str
    name: str
    role: str
    active: bool
    organisation: str | None


class ManifestEntry(TypedDict):
    path: str
    sha256: str
    size: int


class Version(TypedDict, total=False):
    algorithm: str
    version: str
    state: str
    card: dict[str, Any]
    archive: dict[str, Any] | None
    manifest: list[ManifestEntry]
    mlmodel: dict[str, Any] | None
    execution: dict[str, Any] | None


class MissingItem(TypedDict):
    id: str
    pillar: str
    path: str
    label: dict[str, str]
    message: dict[str, str] | None


class Baseline(TypedDict):
    kind: str
    require_bias_audit: bool
    publishable: bool
    score: float
    pillars: dict[str, Any]
    missing: list[MissingItem]


class BoasClient:
    """One server, one optional bearer token; every method is one documented API call.

    ``BoasClient("https://boas.example.org", token)``; errors are ``ApiError`` (the server refused, with its
    fields) or ``ClientError`` (unreachable server, a download that does not match its manifest).
    """

    def __init__(
        self, server: str, token: str | None = None, *, timeout: float = 300.0, session: requests.Session | None = None
    ):
        self.server = normalise_server(server)
        self.timeout = timeout
        self._http = session or requests.Session()
        self._http.headers["User-Agent"] = "boas-client"
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"

    # -- calls -------------------------------------------------------------------------------

    def whoami(self) -> User:
        """The account the token belongs to: how ``boas login`` checks a token."""
        return cast(User, self._json("GET", "/me"))

    def create_algorithm(self, **fields: Any) -> dict[str, Any]:
        """Register an algorithm (``slug``, ``name``, ``kind``, ...); the caller becomes its owner."""
        return cast(dict[str, Any], self._json("POST", "/algorithms", json=fields))

    def get_algorithm(self, slug: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._json("GET", f"/algorithms/{_seg(slug)}"))

    def get_version(self, slug: str, version: str) -> Version:
        """A version with its card and manifest (drafts only for their owners)."""
        return cast(Version, self._json("GET", f"/algorithms/{_seg(slug)}/versions/{_seg(version)}"))

    def upload_version(
        self,
        slug: str,
        version: str,
        archive: Path,
        *,
        field: str = "model",
        card: str | None = None,
        progress: Progress | None = None,
    ) -> Version:
        """Create a draft from an archive (zip or tar.gz), streamed from disk as multipart/form-data."""
        fields = {"version": version, **({"card": card} if card is not None else {})}
        body = _MultipartBody(fields, field, Path(archive), progress)
        try:
            return cast(
                Version,
                self._json(
                    "POST",
                    f"/algorithms/{_seg(slug)}/versions",
                    data=body,
                    headers={"Content-Type": body.content_type, "Content-Length": str(len(body))},
                ),
            )
        finally:
            body.close()

    def upload_version_resumable(
        self,
        slug: str,
        version: str,
        archive: Path,
        *,
        card: str | None = None,
        chunk_bytes: int = RESUMABLE_CHUNK,
        progress: Progress | None = None,
    ) -> Version:
        """Create a draft from an archive sent by resumable upload: chunks, each verified, resumed after a failure."""
        upload_id = self.upload_resumable(archive, "version", chunk_bytes=chunk_bytes, progress=progress)
        fields = {"version": version, "upload_id": upload_id, **({"card": card} if card is not None else {})}
        return cast(Version, self._json("POST", f"/algorithms/{_seg(slug)}/versions",
                                        files={name: (None, value) for name, value in fields.items()}))

    def upload_resumable(self, path: Path, purpose: str, *, chunk_bytes: int = RESUMABLE_CHUNK,
                         progress: Progress | None = None) -> str:
        """Send a file by resumable upload (``POST /uploads``, then ``PATCH`` chunk by chunk); returns its id.

        A chunk whose request fails (the network, a 5xx) is sent again from the offset the server gives
        (``HEAD``), up to ``RESUMABLE_RETRIES`` failures in a row; the server checks every chunk and the whole.
        """
        path = Path(path)
        size = path.stat().st_size
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(_CHUNK):
                digest.update(block)
        opened = self._json("POST", "/uploads", json={"size": size, "sha256": digest.hexdigest(),
                                                      "filename": path.name, "purpose": purpose})
        upload_id = str(opened["id"])
        offset, failures = 0, 0
        with open(path, "rb") as fh:
            while offset < size:
                fh.seek(offset)
                chunk = fh.read(chunk_bytes)
                checksum = "sha256 " + base64.b64encode(hashlib.sha256(chunk).digest()).decode("ascii")
                try:
                    answer = self._json("PATCH", f"/uploads/{_seg(upload_id)}", data=chunk, headers={
                        "Upload-Offset": str(offset), "Upload-Checksum": checksum,
                        "Content-Type": "application/offset+octet-stream"})
                    offset, failures = int(answer["offset"]), 0
                except (ClientError, ApiError) as exc:
                    # The network (a dropped connection, bytes damaged on the way) or a server restarting: resend.
                    retriable = (not isinstance(exc, ApiError) or exc.status >= 500
                                 or exc.code in ("offset_mismatch", "checksum_mismatch"))
                    failures += 1
                    if not retriable or failures > RESUMABLE_RETRIES:
                        raise
                    offset = self.upload_offset(upload_id)
                if progress:
                    progress(offset, size)
        return upload_id

    def upload_offset(self, upload_id: str) -> int:
        """Where an interrupted resumable upload resumes (``HEAD /uploads/{id}``)."""
        with self._request("HEAD", f"/uploads/{_seg(upload_id)}") as response:
            return int(response.headers["Upload-Offset"])

    def patch_card(self, slug: str, version: str, patch: dict[str, Any]) -> Version:
        """Apply a JSON merge patch (RFC 7396) to a draft's card: ``None`` removes a field."""
        return cast(Version, self._json("PATCH", f"/algorithms/{_seg(slug)}/versions/{_seg(version)}/card", json=patch))

    def baseline(self, slug: str, version: str) -> Baseline:
        """The quality-baseline checklist: score, publishable, and every missing item."""
        return cast(Baseline, self._json("GET", f"/algorithms/{_seg(slug)}/versions/{_seg(version)}/baseline"))

    def download_version(
        self, slug: str, version: str, dest: Path, *, progress: Progress | None = None
    ) -> list[ManifestEntry]:
        """Download every file of the manifest into the new directory ``dest``, verifying each digest.

        All or nothing: files land in a temporary sibling directory renamed to ``dest`` once every
        digest matched; on any mismatch, refusal or interruption nothing is left behind. Returns the manifest.
        """
        given, dest = dest, Path(dest).absolute()
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise ClientError(f"{given} already exists and is not an empty directory")
        manifest = self.get_version(slug, version).get("manifest") or []
        plan = _plan(manifest)
        total, done = sum(int(entry["size"]) for entry in manifest), 0
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
        try:
            for entry, parts in plan:
                target = work.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                url = f"/algorithms/{_seg(slug)}/versions/{_seg(version)}/artifacts/{quote(entry['path'], safe='/')}"
                with self._request("GET", url, stream=True) as response, open(target, "xb") as out:
                    digest, size = hashlib.sha256(), 0
                    for chunk in response.iter_content(_CHUNK):
                        size += len(chunk)
                        if size > entry["size"]:
                            break
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
                if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
                    raise ClientError(
                        f"{entry['path']} does not match the manifest (sha256 {entry['sha256']}, "
                        f"{entry['size']} bytes): download refused, nothing kept"
                    )
            os.chmod(work, 0o755)  # noqa: S103 - a model directory like any other, not a secret
            if dest.exists():
                dest.rmdir()
            work.rename(dest)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return manifest

    # -- plumbing ----------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._request(method, path, **kwargs) as response:
            try:
                return response.json()
            except ValueError as exc:
                raise ClientError(
                    f"{self.server} answered {response.status_code} with something that is not "
                    "JSON: is it a BOAS server?"
                ) from exc

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._http.request(
                method, f"{self.server}/api/v1{path}", timeout=self.timeout, allow_redirects=False, **kwargs
            )
        except requests.RequestException as exc:
            raise ClientError(f"cannot reach {self.server}: {_reason(exc)}") from exc
        if response.status_code >= 300:
            with response:
                raise _api_error(response, self.server)
        return response


def _seg(value: str) -> str:
    return quote(value, safe="")


def _plan(manifest: list[ManifestEntry]) -> list[tuple[ManifestEntry, tuple[str, ...]]]:
    """Every manifest path checked before anything is written: inside the destination, no clashes."""
    if not isinstance(manifest, list) or not all(isinstance(entry, dict) for entry in manifest):
        raise ClientError("the server's manifest is not a list of files: refused")
    plan, seen = [], set()
    for entry in manifest:
        parts = manifest_parts(entry.get("path"))
        sha, size = entry.get("sha256"), entry.get("size")
        if not isinstance(sha, str) or len(sha) != 64 or not isinstance(size, int) or size < 0:
            raise ClientError(f"the manifest entry for {entry.get('path')!r} has no valid sha256 and size: refused")
        if parts in seen:
            raise ClientError(f"the manifest names {entry['path']!r} twice: refused")
        seen.add(parts)
        plan.append((entry, parts))
    directories = {parts[:i] for parts in seen for i in range(1, len(parts))}
    if clash := seen & directories:
        raise ClientError(f"the manifest names {'/'.join(min(clash))!r} both as a file and a directory: refused")
    return plan


def _api_error(response: requests.Response, server: str) -> ClientError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
        return ApiError(response.status_code, str(body.get("code", "error")), body["message"], errors)
    if 300 <= response.status_code < 400:
        return ClientError(f"{server} redirects to {response.headers.get('Location', '?')}: use that address")
    return ApiError(response.status_code, "error", f"{server} answered {response.status_code} {response.reason}")


def _reason(exc: requests.RequestException) -> str:
    """What the socket said ("Connection refused", "Name or service not known"), not urllib3's wrapping."""
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.exceptions.SSLError):
        return "the TLS certificate could not be verified"
    errno_text = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    if errno_text:
        return errno_text.group(1).strip()
    return "the connection failed" if isinstance(exc, requests.ConnectionError) else type(exc).__name__


class _MultipartBody:
    """A multipart/form-data body that streams its file from disk, with a known length and progress.

    ``requests`` would build a multipart body in memory; a model can weigh gigabytes.
    """

    def __init__(self, fields: dict[str, str], file_field: str, path: Path, progress: Progress | None):
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
            for name, value in fields.items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{_quoted(path.name)}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        self._file: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed when read to the end
        size = os.fstat(self._file.fileno()).st_size
        self._parts: list[IO[bytes]] = [io.BytesIO(head), self._file, io.BytesIO(tail)]
        self._length, self._sent, self._progress = len(head) + size + len(tail), 0, progress

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        size = _CHUNK if size is None or size < 0 else size
        while self._parts:
            chunk = self._parts[0].read(size)
            if chunk:
                self._sent += len(chunk)
                if self._progress:
                    self._progress(self._sent, self._length)
                return chunk
            self._parts.pop(0).close()
        return b""

    def close(self) -> None:
        for part in self._parts:
            part.close()
        self._parts = []


def _quoted(name: str) -> str:
    return "".join(c if c.isprintable() and c not in '"\\' else "_" for c in name)
