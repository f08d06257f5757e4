"""Resumable, chunked uploads (issue 14, item 1): over real HTTP against gunicorn, on SQLite and PostgreSQL.

Acceptance: a resumable upload interrupted halfway resumes, and a corrupted chunk is refused. Around it:
a wrong offset is a 409 carrying the current one, a whole file that does not match its digest is refused
with nothing left, another user cannot touch a session, a declared size past the cap is refused, and
expired sessions are swept.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select, update

from audits.synth import generate_cohort
from boas.app import create_app
from boas.client import BoasClient
from boas.registry import uploads
from boas.registry.uploads import chunk_digest_header
from registry_db.engine import make_engine
from registry_db.models import UploadSession, utcnow
from tests.conftest import BACKENDS, _session_on
from tests.e2e.gunicorn_deploy import Deployment, deploy, run_boas
from tests.e2e.test_audits_api import DATASHEET
from tests.e2e.test_object_storage_uploads import PREFIX
from tests.factories import algorithm_payload, example_card_json

pytestmark = pytest.mark.slow

CHUNK = 32 * 1024
META = {"name": "Cohorte en morceaux", "label_column": "outcome", "sensitive_columns": ["sex", "region"],
        "row_key": "row_id", "datasheet": DATASHEET}


@pytest.fixture(scope="module", params=BACKENDS)
def deployment(request, tmp_path_factory) -> Iterator[Deployment]:
    with deploy(request.param, tmp_path_factory.mktemp(f"resumable-{request.param}"), workers=2) as dep:
        yield dep


def _account(dep: Deployment, role: str) -> dict[str, str]:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    run_boas(dep.env, "users", "create", "--email", email, "--role", role)
    return {"Authorization": f"Bearer {run_boas(dep.env, 'tokens', 'create', '--email', email).strip()}"}


@pytest.fixture(scope="module")
def table() -> bytes:
    """About 200 KB of CSV: several chunks of CHUNK bytes."""
    data = generate_cohort(3000, seed=3).to_csv(index=False).encode()
    assert len(data) > 4 * CHUNK
    return data


def _open(dep: Deployment, headers, data: bytes, purpose: str = "dataset", **extra) -> requests.Response:
    body = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "filename": "cohort.csv",
            "purpose": purpose, **extra}
    return requests.post(dep.api("/uploads"), headers=headers, json=body, timeout=30)


def _patch(dep: Deployment, headers, upload_id: str, offset: int, chunk: bytes, checksum: str | None = None):
    return requests.patch(dep.api(f"/uploads/{upload_id}"), data=chunk, timeout=30, headers={
        **headers, "Upload-Offset": str(offset), "Upload-Checksum": checksum or chunk_digest_header(chunk),
        "Content-Type": "application/octet-stream"})


def _send(dep: Deployment, headers, upload_id: str, data: bytes, start: int, stop: int) -> requests.Response:
    response = None
    for offset in range(start, stop, CHUNK):
        chunk = data[offset:min(offset + CHUNK, stop)]
        response = _patch(dep, headers, upload_id, offset, chunk)
        assert response.status_code == 200, response.text
        assert int(response.headers["Upload-Offset"]) == offset + len(chunk)
    assert response is not None
    return response


def _cut_off_chunk(dep: Deployment, headers, upload_id: str, offset: int, chunk: bytes) -> None:
    """Send a chunk's headers and half its bytes, then drop the connection, as a client losing its network does."""
    url = urlsplit(dep.api(f"/uploads/{upload_id}"))
    head = (f"PATCH {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: {headers['Authorization']}\r\n"
            f"Upload-Offset: {offset}\r\nUpload-Checksum: {chunk_digest_header(chunk)}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(chunk)}\r\n\r\n").encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head + chunk[: len(chunk) // 2])
        time.sleep(0.3)
        sock.shutdown(socket.SHUT_RDWR)


def _offset(dep: Deployment, headers, upload_id: str) -> int:
    response = requests.head(dep.api(f"/uploads/{upload_id}"), headers=headers, timeout=30)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return int(response.headers["Upload-Offset"])


def _upload_files(dep: Deployment, token: str) -> list[str]:
    """The files of one upload in the staging area: its own, and any part of a chunk being received."""
    root = dep.data_dir / "tmp" / "uploads"
    return sorted(p.name for p in root.iterdir() if p.name.startswith(token)) if root.is_dir() else []


def _wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _create_dataset(dep: Deployment, headers, **fields) -> requests.Response:
    return requests.post(dep.api("/datasets"), headers=headers, timeout=60,
                         files={name: (None, value) for name, value in {**fields, "metadata": json.dumps(META)}.items()})


def test_an_upload_interrupted_halfway_resumes_and_makes_the_same_dataset_as_one_request(deployment, table):
    dep, evaluator = deployment, _account(deployment, "evaluator")
    opened = _open(dep, evaluator, table)
    assert opened.status_code == 201, opened.text
    upload = opened.json()
    assert upload["offset"] == 0 and upload["state"] == "open" and upload["size"] == len(table)
    assert opened.headers["Location"].endswith(f"/api/v1/uploads/{upload['id']}")
    half = (len(table) // 2) // CHUNK * CHUNK
    _send(dep, evaluator, upload["id"], table, 0, half)

    # The connection drops in the middle of the next chunk: nothing of it is kept, the offset stays.
    _cut_off_chunk(dep, evaluator, upload["id"], half, table[half:half + CHUNK])
    assert _wait_for(lambda: _upload_files(dep, upload["id"]) == [upload["id"]]), _upload_files(dep, upload["id"])
    resume = _offset(dep, evaluator, upload["id"])
    assert resume == half
    assert (dep.data_dir / "tmp" / "uploads" / upload["id"]).stat().st_size == half

    last = _send(dep, evaluator, upload["id"], table, resume, len(table))
    assert last.json()["state"] == "complete" and last.json()["offset"] == len(table)
    assert requests.get(dep.api(f"/uploads/{upload['id']}"), headers=evaluator, timeout=30).json()["state"] == \
        "complete"

    created = _create_dataset(dep, evaluator, upload_id=upload["id"])
    assert created.status_code == 201, created.text
    one_shot = requests.post(dep.api("/datasets"), headers=evaluator, timeout=60, files={
        "file": ("cohort.csv", table), "metadata": (None, json.dumps(META))})
    assert one_shot.status_code == 201, one_shot.text
    ignored = {"id", "created_at"}
    assert {k: v for k, v in created.json().items() if k not in ignored} == \
        {k: v for k, v in one_shot.json().items() if k not in ignored}
    # The upload's own digest is the one declared; what is stored is its Parquet conversion.
    assert created.json()["original_sha256"] == hashlib.sha256(table).hexdigest()
    assert created.json()["format"] == "parquet" and created.json()["original_format"] == "csv"

    # Used up: the session, its file and its id are gone.
    assert _upload_files(dep, upload["id"]) == []
    assert requests.get(dep.api(f"/uploads/{upload['id']}"), headers=evaluator, timeout=30).status_code == 404
    again = _create_dataset(dep, evaluator, upload_id=upload["id"])
    assert again.status_code == 422 and "upload_id" in again.json()["errors"]


def test_a_corrupted_chunk_is_refused_and_the_offset_stays(deployment, table):
    dep, evaluator = deployment, _account(deployment, "evaluator")
    upload = _open(dep, evaluator, table).json()
    _send(dep, evaluator, upload["id"], table, 0, CHUNK)
    chunk = table[CHUNK:2 * CHUNK]
    flipped = chunk[:100] + bytes([chunk[100] ^ 0x01]) + chunk[101:]
    refused = _patch(dep, evaluator, upload["id"], CHUNK, flipped, checksum=chunk_digest_header(chunk))
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "checksum_mismatch" and "Upload-Checksum" in refused.json()["errors"]
    assert _offset(dep, evaluator, upload["id"]) == CHUNK
    assert (dep.data_dir / "tmp" / "uploads" / upload["id"]).read_bytes() == table[:CHUNK]
    assert _upload_files(dep, upload["id"]) == [upload["id"]]  # no part left behind

    for value in ("md5 AAAA", "sha256 not-base64!", "sha256 " + base64.b64encode(b"short").decode(), "sha256"):
        response = _patch(dep, evaluator, upload["id"], CHUNK, chunk, checksum=value)
        assert response.status_code == 422 and "Upload-Checksum" in response.json()["errors"], value
    assert _offset(dep, evaluator, upload["id"]) == CHUNK
    assert _patch(dep, evaluator, upload["id"], CHUNK, chunk).status_code == 200
    assert requests.delete(dep.api(f"/uploads/{upload['id']}"), headers=evaluator, timeout=30).json() == {
        "id": upload["id"], "aborted": True, "received": 2 * CHUNK}
    assert _upload_files(dep, upload["id"]) == []


def test_a_chunk_for_another_offset_is_a_409_naming_the_current_one(deployment, table):
    dep, evaluator = deployment, _account(deployment, "evaluator")
    upload = _open(dep, evaluator, table).json()
    _send(dep, evaluator, upload["id"], table, 0, CHUNK)
    for wrong in (0, 2 * CHUNK):
        response = _patch(dep, evaluator, upload["id"], wrong, table[wrong:wrong + CHUNK])
        assert response.status_code == 409, response.text
        assert response.headers["Upload-Offset"] == str(CHUNK)
        assert response.json()["code"] == "offset_mismatch"
        assert response.json()["errors"] == {"Upload-Offset": [f"expected {CHUNK}"]}
    assert _offset(dep, evaluator, upload["id"]) == CHUNK
    past_end = _patch(dep, evaluator, upload["id"], CHUNK, table[CHUNK:] + b"extra")
    assert past_end.status_code == 422 and _offset(dep, evaluator, upload["id"]) == CHUNK
    requests.delete(dep.api(f"/uploads/{upload['id']}"), headers=evaluator, timeout=30)


def test_a_whole_file_that_does_not_match_its_digest_is_refused_and_nothing_is_left(deployment, table):
    dep, evaluator = deployment, _account(deployment, "evaluator")
    declared = hashlib.sha256(b"another file").hexdigest()
    upload = _open(dep, evaluator, table, sha256=declared).json()
    _send(dep, evaluator, upload["id"], table, 0, len(table) - CHUNK)
    last = _patch(dep, evaluator, upload["id"], len(table) - CHUNK, table[-CHUNK:])
    assert last.status_code == 422, last.text
    assert last.json()["code"] == "digest_mismatch" and "sha256" in last.json()["errors"]
    assert requests.get(dep.api(f"/uploads/{upload['id']}"), headers=evaluator, timeout=30).status_code == 404
    assert _upload_files(dep, upload["id"]) == []
    assert _create_dataset(dep, evaluator, upload_id=upload["id"]).status_code == 422


def test_only_the_owner_touches_a_session_and_only_allowed_roles_open_one(deployment, table):
    dep, evaluator, other = deployment, _account(deployment, "evaluator"), _account(deployment, "evaluator")
    upload = _open(dep, evaluator, table[:CHUNK]).json()
    url = dep.api(f"/uploads/{upload['id']}")
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, headers=other, timeout=30).status_code == 404
    assert _patch(dep, other, upload["id"], 0, table[:CHUNK]).status_code == 404
    assert requests.delete(url, headers=other, timeout=30).status_code == 404
    assert _offset(dep, evaluator, upload["id"]) == 0
    _send(dep, evaluator, upload["id"], table, 0, CHUNK)
    stolen = _create_dataset(dep, other, upload_id=upload["id"])
    assert stolen.status_code == 422 and "upload_id" in stolen.json()["errors"]
    assert requests.get(url, headers=evaluator, timeout=30).json()["state"] == "complete"

    # The roles of each kind of upload: authors send versions, not datasets; evaluators the reverse.
    author = dep.author
    assert _open(dep, author, table, purpose="dataset").status_code == 403
    assert _open(dep, author, table, purpose="predictions").status_code == 403
    assert _open(dep, author, table, purpose="version").status_code == 201
    assert _open(dep, evaluator, table, purpose="version").status_code == 403
    assert requests.post(dep.api("/uploads"), json={"size": 10, "sha256": "0" * 64, "purpose": "dataset"},
                         timeout=30).status_code == 401
    # A predictions upload is not a dataset.
    wrong_use = _create_dataset(dep, evaluator, upload_id=_open(dep, evaluator, table, purpose="predictions").json()["id"])
    assert wrong_use.status_code == 422 and "upload_id" in wrong_use.json()["errors"]


def test_a_declared_size_past_the_cap_and_a_malformed_digest_are_refused(deployment):
    dep, evaluator = deployment, _account(deployment, "evaluator")
    cap = 5120 * 1024 * 1024  # BOAS_MAX_RESUMABLE_MB's default
    too_big = requests.post(dep.api("/uploads"), headers=evaluator, timeout=30, json={
        "size": cap + 1, "sha256": "a" * 64, "purpose": "dataset"})
    assert too_big.status_code == 413 and "size" in too_big.json()["errors"]
    assert requests.post(dep.api("/uploads"), headers=evaluator, timeout=30, json={
        "size": cap, "sha256": "a" * 64, "purpose": "dataset"}).status_code == 201
    for digest in ("A" * 64, "a" * 63, "g" * 64, "a" * 64 + "\n"):
        response = requests.post(dep.api("/uploads"), headers=evaluator, timeout=30, json={
            "size": 10, "sha256": digest, "purpose": "dataset"})
        assert response.status_code == 422 and "sha256" in response.json()["errors"], digest
    for size in (0, -1, "10"):
        response = requests.post(dep.api("/uploads"), headers=evaluator, timeout=30, json={
            "size": size, "sha256": "a" * 64, "purpose": "dataset"})
        assert response.status_code == 422 and "size" in response.json()["errors"], size
    both = requests.post(dep.api("/datasets"), headers=evaluator, timeout=60, files={
        "file": ("cohort.csv", b"a,b\n1,2\n"), "upload_id": (None, "x" * 43), "metadata": (None, json.dumps(META))})
    assert both.status_code == 422 and "upload_id" in both.json()["errors"]


def test_a_model_archive_sent_in_chunks_makes_the_same_version_as_one_request(deployment, model_zip):
    dep, author = deployment, deployment.author
    algorithm = requests.post(dep.api("/algorithms"), headers=author, json=algorithm_payload(), timeout=30).json()
    upload = _open(dep, author, model_zip, purpose="version", filename="model.zip").json()
    _send(dep, author, upload["id"], model_zip, 0, len(model_zip))
    url = dep.api(f"/algorithms/{algorithm['slug']}/versions")
    card = example_card_json()
    both = requests.post(url, headers=author, timeout=60, files={
        "version": (None, "1.0.0"), "upload_id": (None, upload["id"]), "model": ("model.zip", model_zip)})
    assert both.status_code == 422 and "upload_id" in both.json()["errors"]
    chunked = requests.post(url, headers=author, timeout=60, files={
        "version": (None, "1.0.0"), "upload_id": (None, upload["id"]), "card": (None, card)})
    assert chunked.status_code == 201, chunked.text
    one_shot = requests.post(url, headers=author, timeout=60, files={
        "version": (None, "1.0.1"), "model": ("model.zip", model_zip), "card": (None, card)})
    assert one_shot.status_code == 201, one_shot.text
    assert chunked.json()["archive"] == one_shot.json()["archive"] == {
        "sha256": hashlib.sha256(model_zip).hexdigest(), "size": len(model_zip)}
    assert chunked.json()["manifest"] == one_shot.json()["manifest"] and chunked.json()["manifest"]
    assert chunked.json()["execution"] == one_shot.json()["execution"]
    assert requests.get(dep.api(f"/uploads/{upload['id']}"), headers=author, timeout=30).status_code == 404
    assert _upload_files(dep, upload["id"]) == []


def test_two_requests_using_one_upload_at_once_create_one_dataset(deployment, table):
    dep, evaluator = deployment, _account(deployment, "evaluator")
    upload = _open(dep, evaluator, table).json()
    _send(dep, evaluator, upload["id"], table, 0, len(table))
    before = len(requests.get(dep.api("/datasets"), headers=evaluator, timeout=30).json())
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: _create_dataset(dep, evaluator, upload_id=upload["id"]), range(2)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses[0] == 201 and statuses[1] in (409, 422), [a.text for a in answers]
    assert len(requests.get(dep.api("/datasets"), headers=evaluator, timeout=30).json()) == before + 1
    assert _upload_files(dep, upload["id"]) == []


def test_the_reaper_removes_an_expired_session_with_its_file(deployment, table):
    dep, evaluator = deployment, _account(deployment, "evaluator")
    upload = _open(dep, evaluator, table).json()
    _send(dep, evaluator, upload["id"], table, 0, CHUNK)
    run_boas(dep.env, "jobs", "reap")
    assert _upload_files(dep, upload["id"]) == [upload["id"]]  # not expired: kept
    engine = make_engine(dep.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(UploadSession).where(UploadSession.token == upload["id"])
                               .values(expires_at=utcnow() - timedelta(minutes=1)))
        run_boas(dep.env, "jobs", "reap")
        with engine.connect() as connection:
            left = connection.execute(select(UploadSession.id).where(UploadSession.token == upload["id"])).all()
    finally:
        engine.dispose()
    assert left == [] and _upload_files(dep, upload["id"]) == []


class _Flaky(requests.Session):
    """A network that drops the connection of the 2nd chunk and damages the bytes of the 4th, once each."""

    def __init__(self):
        super().__init__()
        self.patches = 0

    def request(self, method, url, *args, **kwargs):
        if method == "PATCH":
            self.patches += 1
            if self.patches == 2:
                raise requests.ConnectionError("connection reset by peer")
            if self.patches == 4:
                data = bytearray(kwargs["data"])
                data[10] ^= 0xFF
                kwargs["data"] = bytes(data)
        return super().request(method, url, *args, **kwargs)


def test_boas_client_pushes_a_model_in_chunks_and_resumes_after_failures(deployment, model_zip, tmp_path):
    dep = deployment
    algorithm = requests.post(dep.api("/algorithms"), headers=dep.author, json=algorithm_payload(), timeout=30).json()
    archive = tmp_path / "model.zip"
    archive.write_bytes(model_zip)
    network = _Flaky()
    client = BoasClient(dep.base_url, dep.token, session=network)
    seen: list[int] = []
    created = client.upload_version_resumable(algorithm["slug"], "1.0.0", archive, card=example_card_json(),
                                              chunk_bytes=256, progress=lambda done, _all: seen.append(done))
    assert created["archive"] == {"sha256": hashlib.sha256(model_zip).hexdigest(), "size": len(model_zip)}
    assert len(model_zip) > 5 * 256
    assert network.patches == -(-len(model_zip) // 256) + 2  # every chunk once, and the two that failed again
    assert seen[-1] == len(model_zip) and seen == sorted(seen)


def test_a_refused_dataset_leaves_its_upload_usable_for_a_corrected_retry(live_client, live_account, live, table):
    _, evaluator = live_account("evaluator")
    upload = live_client.post("/api/v1/uploads", headers=evaluator, json={
        "size": len(table), "sha256": hashlib.sha256(table).hexdigest(), "filename": "cohort.csv",
        "purpose": "dataset"}).get_json()
    response = live_client.patch(f"/api/v1/uploads/{upload['id']}", data=table, headers={
        **evaluator, "Upload-Offset": "0", "Upload-Checksum": chunk_digest_header(table)})
    assert response.get_json()["state"] == "complete"
    wrong = live_client.post("/api/v1/datasets", headers=evaluator, content_type="multipart/form-data", data={
        "upload_id": upload["id"], "metadata": json.dumps({**META, "label_column": "no_such_column"})})
    assert wrong.status_code == 422 and "metadata" in wrong.get_json()["errors"], wrong.get_json()
    assert live_client.get("/api/v1/datasets", headers=evaluator).get_json() == []
    staging = live.extensions["boas"].storage.blobs.tmp_root
    assert [p.name for p in staging.iterdir() if p.name.startswith("stage-")] == []  # nothing half-written
    assert live_client.get(f"/api/v1/uploads/{upload['id']}", headers=evaluator).get_json()["state"] == "complete"
    right = live_client.post("/api/v1/datasets", headers=evaluator, content_type="multipart/form-data", data={
        "upload_id": upload["id"], "metadata": json.dumps(META)})
    assert right.status_code == 201, right.get_json()
    assert live_client.get(f"/api/v1/uploads/{upload['id']}", headers=evaluator).status_code == 404


def test_an_account_holds_a_bounded_number_of_uploads_at_once(live_client, live_account):
    """Uploads in progress hold disk until used, aborted or expired: past the cap, a new one is refused (409)
    and nothing is opened; aborting one makes room again."""
    from boas.registry.uploads import MAX_LIVE_UPLOADS

    _, evaluator = live_account("evaluator")
    data = b"row_id,outcome\n" * 10
    body = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "purpose": "dataset"}
    opened = [live_client.post("/api/v1/uploads", headers=evaluator, json=body) for _ in range(MAX_LIVE_UPLOADS)]
    assert [r.status_code for r in opened] == [201] * MAX_LIVE_UPLOADS
    refused = live_client.post("/api/v1/uploads", headers=evaluator, json=body)
    assert refused.status_code == 409 and refused.get_json()["code"] == "too_many_uploads", refused.get_json()
    assert "size" in refused.get_json()["errors"]
    _, other = live_account("evaluator")  # the cap is per account
    assert live_client.post("/api/v1/uploads", headers=other, json=body).status_code == 201
    assert live_client.delete(f"/api/v1/uploads/{opened[0].get_json()['id']}", headers=evaluator).status_code == 200
    assert live_client.post("/api/v1/uploads", headers=evaluator, json=body).status_code == 201


# -- expiry: the reaper's sweep, on the live app's database of each backend ---------------------


def test_expired_sessions_and_orphaned_files_are_swept(live, live_client, live_account):
    _, evaluator = live_account("evaluator")
    runtime = live.extensions["boas"]
    data = b"row_id,outcome\n" * 100
    kept, expiring = (live_client.post("/api/v1/uploads", headers=evaluator, json={
        "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "purpose": "dataset"}).get_json()
        for _ in range(2))
    for upload in (kept, expiring):
        response = live_client.patch(f"/api/v1/uploads/{upload['id']}", data=data[:500], headers={
            **evaluator, "Upload-Offset": "0", "Upload-Checksum": chunk_digest_header(data[:500])})
        assert response.status_code == 200, response.get_json()
    blobs = runtime.storage.blobs
    orphan = blobs.resumable_root / ("o" * 43)
    orphan.write_bytes(b"left by a crash between the row's deletion and the file's")
    with runtime.session_factory() as s:
        row = s.query(UploadSession).filter_by(token=expiring["id"]).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        s.commit()
    assert live_client.get(f"/api/v1/uploads/{expiring['id']}", headers=evaluator).status_code == 404  # expired

    with runtime.session_factory() as s:
        swept = uploads.sweep_uploads(s, runtime.storage, now=utcnow(), grace_seconds=3600)
    assert swept == [expiring["id"]]
    assert orphan.exists()  # within the grace: a session opened meanwhile may own it
    with runtime.session_factory() as s:
        uploads.sweep_uploads(s, runtime.storage, now=utcnow(), grace_seconds=0)
        assert [r.token for r in s.query(UploadSession).all()] == [kept["id"]]
    assert sorted(p.name for p in blobs.resumable_root.iterdir()) == [kept["id"]]
    assert live_client.get(f"/api/v1/uploads/{kept['id']}", headers=evaluator).get_json()["offset"] == 500
    assert Path(blobs.resumable_path(kept["id"])).stat().st_size == 500


# -- object storage: the same flow stores the dataset in the bucket --------------------------------


@pytest.fixture
def on_object_storage(settings, s3_bucket, connection):
    """An app whose artifacts go to the test session's S3 server, as tests/e2e/test_object_storage_uploads builds it."""
    s3 = dataclasses.replace(settings, blob_backend="s3", s3_endpoint_url=s3_bucket.endpoint,
                             s3_bucket=s3_bucket.name, s3_prefix=PREFIX)
    application = create_app(s3, session_factory=lambda: _session_on(connection))
    application.config["TESTING"] = True
    return application.test_client(), s3


def test_a_chunked_dataset_lands_in_object_storage_and_leaves_no_local_file(on_object_storage, make_account,
                                                                           s3_bucket, table):
    s3_client, s3_settings = on_object_storage
    _, evaluator = make_account("evaluator")
    digest = hashlib.sha256(table).hexdigest()
    upload = s3_client.post("/api/v1/uploads", headers=evaluator, json={
        "size": len(table), "sha256": digest, "filename": "cohort.csv", "purpose": "dataset"}).get_json()
    for offset in range(0, len(table), CHUNK):
        chunk = table[offset:offset + CHUNK]
        response = s3_client.patch(f"/api/v1/uploads/{upload['id']}", data=chunk, headers={
            **evaluator, "Upload-Offset": str(offset), "Upload-Checksum": chunk_digest_header(chunk)})
        assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "complete"
    created = s3_client.post("/api/v1/datasets", headers=evaluator, content_type="multipart/form-data", data={
        "upload_id": upload["id"], "metadata": json.dumps(META)})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["original_sha256"] == digest
    stored = created.get_json()["sha256"]  # the Parquet conversion is what lands in the bucket
    assert f"{PREFIX}blobs/sha256/{stored[:2]}/{stored}" in s3_bucket.object_keys()
    uploads_dir = s3_settings.data_dir / "tmp" / "uploads"
    assert [p.name for p in uploads_dir.iterdir()] == []


@pytest.fixture
def two_machines(settings, s3_bucket, connection, tmp_path):
    """Two web apps on one database and one bucket, each with its own local data directory, as two machines are."""
    clients = []
    for name in ("web-1", "web-2"):
        local = dataclasses.replace(settings, data_dir=tmp_path / name, blob_backend="s3",
                                    s3_endpoint_url=s3_bucket.endpoint, s3_bucket=s3_bucket.name, s3_prefix=PREFIX)
        application = create_app(local, session_factory=lambda: _session_on(connection))
        application.config["TESTING"] = True
        clients.append((application.test_client(), application))
    return clients


def _chunk_keys(s3_bucket, token: str) -> list[str]:
    return [key for key in s3_bucket.object_keys() if key.startswith(f"{PREFIX}uploads/{token}/")]


def test_on_object_storage_an_upload_moves_between_web_machines_chunk_by_chunk(two_machines, make_account, s3_bucket,
                                                                             table):
    """No sticky routing: each chunk lands on the other machine, a corrupted one is refused on either, the
    second machine completes the file and the first creates the dataset from it; no chunk is left behind."""
    (one, app_one), (two, app_two) = two_machines
    _, evaluator = make_account("evaluator")
    digest = hashlib.sha256(table).hexdigest()
    upload = one.post("/api/v1/uploads", headers=evaluator, json={
        "size": len(table), "sha256": digest, "filename": "cohort.csv", "purpose": "dataset"}).get_json()
    offsets = list(range(0, len(table), CHUNK))
    for number, offset in enumerate(offsets):
        client = (one, two)[number % 2]
        chunk = table[offset:offset + CHUNK]
        damaged = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
        refused = client.patch(f"/api/v1/uploads/{upload['id']}", data=damaged, headers={
            **evaluator, "Upload-Offset": str(offset), "Upload-Checksum": chunk_digest_header(chunk)})
        assert refused.status_code == 422 and refused.get_json()["code"] == "checksum_mismatch"
        asked = (two, one)[number % 2].head(f"/api/v1/uploads/{upload['id']}", headers=evaluator)
        assert int(asked.headers["Upload-Offset"]) == offset  # the other machine sees the same offset
        response = client.patch(f"/api/v1/uploads/{upload['id']}", data=chunk, headers={
            **evaluator, "Upload-Offset": str(offset), "Upload-Checksum": chunk_digest_header(chunk)})
        assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "complete"
    assert len(_chunk_keys(s3_bucket, upload["id"])) == len(offsets)
    for application in (app_one, app_two):  # neither machine keeps a partial file of its own
        assert list(application.extensions["boas"].storage.blobs.resumable_root.glob(f"{upload['id']}*")) == []
    created = two.post("/api/v1/datasets", headers=evaluator, content_type="multipart/form-data", data={
        "upload_id": upload["id"], "metadata": json.dumps(META)})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["original_sha256"] == digest
    assert _chunk_keys(s3_bucket, upload["id"]) == []  # used up: its chunks go


def test_on_object_storage_a_mismatching_file_an_abort_and_the_reaper_leave_no_chunk(two_machines, make_account,
                                                                                    s3_bucket, table):
    (one, app_one), (two, _app_two) = two_machines
    _, evaluator = make_account("evaluator")

    def opened(declared: str) -> str:
        return one.post("/api/v1/uploads", headers=evaluator, json={
            "size": len(table), "sha256": declared, "filename": "cohort.csv", "purpose": "dataset"}).get_json()["id"]

    def send(token: str, stop: int) -> requests.Response:
        for offset in range(0, stop, CHUNK):
            chunk = table[offset:min(offset + CHUNK, stop)]
            answer = (one, two)[(offset // CHUNK) % 2].patch(f"/api/v1/uploads/{token}", data=chunk, headers={
                **evaluator, "Upload-Offset": str(offset), "Upload-Checksum": chunk_digest_header(chunk)})
        return answer

    wrong = opened(hashlib.sha256(table + b"x").hexdigest())
    refused = send(wrong, len(table))
    assert refused.status_code == 422 and refused.get_json()["code"] == "digest_mismatch"
    assert _chunk_keys(s3_bucket, wrong) == []
    aborted = opened(hashlib.sha256(table).hexdigest())
    send(aborted, 2 * CHUNK)
    assert len(_chunk_keys(s3_bucket, aborted)) == 2
    assert two.delete(f"/api/v1/uploads/{aborted}", headers=evaluator).get_json()["received"] == 2 * CHUNK
    assert _chunk_keys(s3_bucket, aborted) == []

    expiring, kept = opened(hashlib.sha256(table).hexdigest()), opened(hashlib.sha256(table).hexdigest())
    send(expiring, CHUNK), send(kept, CHUNK)
    orphan = f"{PREFIX}uploads/{'o' * 43}/{0:020d}"
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=orphan, Body=b"left by a crash after the row went")
    runtime = app_one.extensions["boas"]
    with runtime.session_factory() as s:
        s.query(UploadSession).filter_by(token=expiring).one().expires_at = utcnow() - timedelta(seconds=1)
        s.commit()
    with runtime.session_factory() as s:
        assert uploads.sweep_uploads(s, runtime.storage, now=utcnow(), grace_seconds=3600) == [expiring]
    assert _chunk_keys(s3_bucket, expiring) == [] and orphan in s3_bucket.object_keys()  # orphan: within grace
    with runtime.session_factory() as s:
        uploads.sweep_uploads(s, runtime.storage, now=utcnow(), grace_seconds=0)
    assert orphan not in s3_bucket.object_keys()
    assert len(_chunk_keys(s3_bucket, kept)) == 1  # a live session's chunks stay


def test_the_chunk_sweep_leaves_alone_another_store_whose_prefix_starts_with_uploads(s3_bucket, tmp_path):
    """Two stores in one bucket, ``boas/`` and ``boas/uploads/staging/``: the first one's sweep of orphaned
    chunks must not take the second one's blobs, however idle they are."""
    import hashlib as _hashlib

    from registry_db.blobs_s3 import S3BlobStore

    outer = S3BlobStore(tmp_path / "outer", s3_bucket.client, s3_bucket.name, "boas/")
    inner = S3BlobStore(tmp_path / "inner", s3_bucket.client, s3_bucket.name, "boas/uploads/staging/")
    stage = inner.staging_dir()
    (stage / "blob").write_bytes(b"a stored model archive")
    digest = _hashlib.sha256(b"a stored model archive").hexdigest()
    inner.adopt(stage / "blob", digest)
    orphan = f"boas/uploads/{'o' * 43}/{0:020d}"
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=orphan, Body=b"an orphaned chunk")
    outer.sweep_resumable(set(), grace_seconds=0)
    assert inner.key_for(digest) in s3_bucket.object_keys()
    assert orphan not in s3_bucket.object_keys()
