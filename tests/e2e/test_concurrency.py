"""Concurrent version uploads against 4 real gunicorn workers, on SQLite and on PostgreSQL.

Acceptance: 50 concurrent uploads across 5 algorithms give no 5xx and no "database is locked";
every accepted upload is stored exactly once and verifies; concurrent creation of the same
version gets exactly one 201 and 409 ``version_exists`` for the rest, with no extra rows or files.
"""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from registry_db.engine import make_engine
from tests.conftest import BACKENDS
from tests.e2e.gunicorn_deploy import HTTP_TIMEOUT, Deployment, deploy
from tests.factories import algorithm_payload

pytestmark = pytest.mark.slow

WORKERS = 4


# -- one deployment per backend, shared by the tests of this module ---------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def deployment(request, tmp_path_factory) -> Iterator[Deployment]:
    with deploy(request.param, tmp_path_factory.mktemp(f"concurrency-{request.param}"), WORKERS) as dep:
        yield dep


@pytest.fixture(params=BACKENDS)
def own_deployment(request, tmp_path_factory) -> Iterator[Deployment]:
    """A deployment of its own, for a test that leaves a worker blocked behind it."""
    with deploy(request.param, tmp_path_factory.mktemp(f"stalled-{request.param}"), WORKERS) as dep:
        yield dep


# -- helpers ---------------------------------------------------------------------------------


def _body(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _variant(archive: bytes, marker: str) -> bytes:
    """The same model zip plus ``model/extra/readme.txt``: a distinct archive sharing all other files."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("model/extra/readme.txt", f"variant {marker}\n")
    return out.getvalue()


def _create_algorithm(dep: Deployment) -> str:
    response = requests.post(dep.api("/algorithms"), json=algorithm_payload(), headers=dep.author,
                             timeout=HTTP_TIMEOUT)
    assert response.status_code == 201, _body(response)
    return response.json()["slug"]


def _upload(dep: Deployment, slug: str, version: str, archive: bytes) -> requests.Response:
    return requests.post(
        dep.api(f"/algorithms/{slug}/versions"), headers=dep.author, data={"version": version},
        files={"model": ("model.zip", archive, "application/zip")}, timeout=HTTP_TIMEOUT,
    )


def _concurrently(jobs: list[tuple], call) -> list[tuple[tuple, int, object]]:
    """Run ``call(*job)`` for every job at once (released together by a barrier)."""
    barrier = threading.Barrier(len(jobs))

    def run(job: tuple):
        barrier.wait(timeout=60)
        response = call(*job)
        return job, response.status_code, _body(response)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _blobs_on_disk(data_dir: Path) -> dict[str, Path]:
    root = data_dir / "blobs" / "sha256"
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    blobs = {p.name: p for p in files}
    assert len(blobs) == len(files), "the same digest is stored at two places"
    return blobs


def _check_blob_layout(blobs: dict[str, Path]) -> None:
    for digest, path in blobs.items():
        assert path.parent.name == digest[:2], f"{path} is not under its two-character prefix"
        assert _sha(path.read_bytes()) == digest, f"blob {path} does not hash to its name"


def _staging_leftovers(data_dir: Path) -> list[str]:
    tmp = data_dir / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def _get_json(dep: Deployment, path: str):
    response = requests.get(dep.api(path), headers=dep.author, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, (path, _body(response))
    return response.json()


def _referenced_digests(dep: Deployment) -> set[str]:
    """Every digest any version on the server refers to (manifest files and archives), via the API."""
    digests: set[str] = set()
    page = _get_json(dep, "/algorithms?per_page=100")
    assert page["total"] <= 100
    for algorithm in page["items"]:
        for summary in _get_json(dep, f"/algorithms/{algorithm['slug']}/versions"):
            version = _get_json(dep, f"/algorithms/{algorithm['slug']}/versions/{summary['version']}")
            digests |= {f["sha256"] for f in version["manifest"]}
            if version["archive"]:
                digests.add(version["archive"]["sha256"])
    return digests


def _download(dep: Deployment, slug: str, version: str, what: str) -> bytes:
    response = requests.get(dep.api(f"/algorithms/{slug}/versions/{version}/{what}"), headers=dep.author,
                            timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, (slug, version, what, _body(response))
    return response.content


def _assert_clean_log(dep: Deployment) -> None:
    log = dep.log()
    assert "database is locked" not in log, log
    assert "Traceback" not in log, log
    assert "WORKER TIMEOUT" not in log, log


def _db_scalar(dep: Deployment, sql: str, **params) -> int:
    engine = make_engine(dep.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()
    finally:
        engine.dispose()


# -- tests -----------------------------------------------------------------------------------


def test_fifty_concurrent_uploads_across_five_algorithms_are_all_stored_once_and_verified(
    deployment: Deployment, model_zip: bytes
):
    dep = deployment
    slugs = [_create_algorithm(dep) for _ in range(5)]
    # 10 versions per algorithm; one upload per algorithm carries a distinct archive (5 in all).
    archives: dict[tuple[str, str], bytes] = {}
    for a, slug in enumerate(slugs):
        for i in range(10):
            archives[(slug, f"1.0.{i}")] = _variant(model_zip, f"{a}-{i}") if i == 2 * a else model_zip
    assert len(archives) == 50
    assert len({_sha(b) for b in archives.values()}) == 6

    results = _concurrently([(dep, slug, version, archive) for (slug, version), archive in archives.items()],
                            _upload)

    server_errors = [(job[1:3], status, body) for job, status, body in results if status >= 500]
    assert not server_errors, server_errors
    refused = [(job[1:3], status, body) for job, status, body in results if status != 201]
    assert not refused, refused
    _assert_clean_log(dep)

    # every version exists exactly once, with the archive it was uploaded with
    digests: set[str] = set()
    for slug in slugs:
        listed = _get_json(dep, f"/algorithms/{slug}/versions")
        assert len(listed) == 10
        assert sorted(v["version"] for v in listed) == sorted(f"1.0.{i}" for i in range(10))
        for i in range(10):
            version = f"1.0.{i}"
            archive = archives[(slug, version)]
            body = _get_json(dep, f"/algorithms/{slug}/versions/{version}")
            assert body["state"] == "draft"
            assert body["archive"] == {"sha256": _sha(archive), "size": len(archive)}
            manifest = {f["path"]: f for f in body["manifest"]}
            assert len(manifest) == len(body["manifest"])
            with zipfile.ZipFile(io.BytesIO(archive)) as zf:
                expected = {n.removeprefix("model/"): zf.read(n) for n in zf.namelist() if not n.endswith("/")}
            assert {p: (f["sha256"], f["size"]) for p, f in manifest.items()} == {
                p: (_sha(data), len(data)) for p, data in expected.items()
            }
            mlmodel = _download(dep, slug, version, "artifacts/MLmodel")
            assert _sha(mlmodel) == manifest["MLmodel"]["sha256"]
            if archive is not model_zip:
                readme = _download(dep, slug, version, "artifacts/extra/readme.txt")
                assert _sha(readme) == manifest["extra/readme.txt"]["sha256"]
                assert _sha(_download(dep, slug, version, "archive")) == _sha(archive)
            digests |= {f["sha256"] for f in body["manifest"]} | {body["archive"]["sha256"]}

    # the database holds one row per accepted upload, and one creation event each
    for slug in slugs:
        rows = _db_scalar(dep, "SELECT count(*) FROM algorithm_version v JOIN algorithm a ON a.id = v.algorithm_id "
                               "WHERE a.slug = :slug", slug=slug)
        distinct = _db_scalar(dep, "SELECT count(DISTINCT v.version) FROM algorithm_version v "
                                   "JOIN algorithm a ON a.id = v.algorithm_id WHERE a.slug = :slug", slug=slug)
        assert rows == distinct == 10, (slug, rows, distinct)
    events = sum(_db_scalar(dep, "SELECT count(*) FROM audit_event WHERE action = 'version.created' "
                                 "AND object_ref LIKE :ref", ref=f"{slug}@%") for slug in slugs)
    assert events == 50

    # the store holds each distinct content exactly once, nothing else, and no staging leftovers
    model_files = {n for n in zipfile.ZipFile(io.BytesIO(model_zip)).namelist() if not n.endswith("/")}
    assert len(digests) <= len(model_files) + 1 + 5 + 5  # shared files + archive, 5 readmes + 5 archives
    blobs = _blobs_on_disk(dep.data_dir)
    assert digests <= set(blobs)
    assert set(blobs) == _referenced_digests(dep), "orphan or missing blobs in the store"
    _check_blob_layout(blobs)
    assert _staging_leftovers(dep.data_dir) == []


def test_concurrent_creation_of_the_same_version_accepts_exactly_one(deployment: Deployment, model_zip: bytes):
    dep = deployment
    slug = _create_algorithm(dep)
    # content nobody uploaded before, so the winner's new blobs are visible on disk
    archive = _variant(model_zip, f"same-version-race-{slug}")
    before = set(_blobs_on_disk(dep.data_dir))

    results = _concurrently([(dep, slug, "2.0.0", archive) for _ in range(20)], _upload)

    statuses = sorted(status for _, status, _ in results)
    assert statuses == [201] + [409] * 19, [(s, b) for _, s, b in results if s != 409]
    for _, status, body in results:
        if status == 409:
            assert isinstance(body, dict), body
            assert body["code"] == "version_exists", body
            assert "version" in body["errors"], body
    _assert_clean_log(dep)

    listed = _get_json(dep, f"/algorithms/{slug}/versions")
    assert [v["version"] for v in listed] == ["2.0.0"]
    winner = _get_json(dep, f"/algorithms/{slug}/versions/2.0.0")
    assert winner["archive"] == {"sha256": _sha(archive), "size": len(archive)}
    assert _sha(_download(dep, slug, "2.0.0", "archive")) == _sha(archive)
    readme = _download(dep, slug, "2.0.0", "artifacts/extra/readme.txt")
    assert readme == f"variant same-version-race-{slug}\n".encode()

    assert _db_scalar(dep, "SELECT count(*) FROM algorithm_version v JOIN algorithm a ON a.id = v.algorithm_id "
                           "WHERE a.slug = :slug", slug=slug) == 1
    assert _db_scalar(dep, "SELECT count(*) FROM artifact_file f JOIN algorithm_version v ON v.id = f.version_id "
                           "JOIN algorithm a ON a.id = v.algorithm_id WHERE a.slug = :slug",
                      slug=slug) == len(winner["manifest"])
    assert _db_scalar(dep, "SELECT count(*) FROM audit_event WHERE action = 'version.created' "
                           "AND object_ref = :ref", ref=f"{slug}@2.0.0") == 1

    winner_digests = {f["sha256"] for f in winner["manifest"]} | {winner["archive"]["sha256"]}
    new_digests = winner_digests - before
    # the archive and its readme are new; every other file was already stored (or is new, if first)
    assert {_sha(archive), _sha(readme)} <= new_digests
    blobs = _blobs_on_disk(dep.data_dir)
    assert set(blobs) == before | winner_digests, sorted(set(blobs) ^ (before | winner_digests))
    assert set(blobs) == _referenced_digests(dep), "orphan or missing blobs in the store"
    _check_blob_layout(blobs)
    assert _staging_leftovers(dep.data_dir) == []


def test_a_stalled_upload_does_not_block_other_requests(own_deployment: Deployment):
    """A client that stops sending in the middle of its upload must not freeze the other workers.

    On a deployment of its own: on SQLite it leaves a blocked request behind until the socket closes.
    """
    dep = own_deployment
    slug = _create_algorithm(dep)
    boundary = "boas-stalled-upload"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n1.0.0\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"; filename=\"model.zip\"\r\n"
        "Content-Type: application/zip\r\n\r\nPK\x03\x04"
    ).encode()
    port = int(dep.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as stalled:
        stalled.sendall(
            f"POST /api/v1/algorithms/{slug}/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {dep.author['Authorization']}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(head) + 10 * 1024 * 1024}\r\n\r\n".encode() + head
        )
        time.sleep(1)  # a worker has authenticated the request and now waits for the rest of the body
        started = time.monotonic()
        try:
            status = requests.get(dep.api("/health"), timeout=5).status_code
        except requests.Timeout:
            status = None
        elapsed = time.monotonic() - started
    assert status == 200, f"GET /health blocked by a stalled upload: status {status} after {elapsed:.1f}s"
