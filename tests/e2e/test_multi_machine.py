"""A registry spread over machines, through real HTTP: two gunicorn instances and a `boas worker` on one
PostgreSQL database and one Redis queue, with the artifacts either in S3-compatible object storage (each
machine its own data directory, reading through its own verified cache) or on a filesystem they all mount.

A model version is uploaded to one web instance, downloaded from the other with its digest checked, and
audited by executing the model: the worker reads the model's files through its store.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
import requests

from audits.synth import generate_cohort
from tests.conftest import S3Bucket, fresh_database_url
from tests.e2e.gunicorn_deploy import HTTP_TIMEOUT, PROJECT_ROOT, gunicorn, run_boas, server_env
from tests.e2e.test_audits_api import DATASHEET, _csv
from tests.e2e.test_jobs import REDIS_URL
from tests.factories import algorithm_payload, example_card_json

pytestmark = pytest.mark.slow


def _token(env: dict[str, str], role: str) -> dict[str, str]:
    email = f"{role}@example.org"
    run_boas(env, "users", "create", "--email", email, "--role", role)
    return {"Authorization": f"Bearer {run_boas(env, 'tokens', 'create', '--email', email).strip()}"}


def _ok(response: requests.Response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:2000])
    return response.json()


def _upload_model(base: str, author: dict[str, str], model_zip: bytes) -> tuple[str, dict]:
    slug = _ok(requests.post(f"{base}/api/v1/algorithms", json=algorithm_payload(), headers=author,
                             timeout=HTTP_TIMEOUT), 201)["slug"]
    version = _ok(requests.post(f"{base}/api/v1/algorithms/{slug}/versions", headers=author,
                                data={"version": "1.0.0", "card": example_card_json()},
                                files={"model": ("model.zip", model_zip, "application/zip")},
                                timeout=HTTP_TIMEOUT), 201)
    return slug, version


def _download_verified(base: str, author: dict[str, str], slug: str, version: dict, model_zip: bytes) -> None:
    """The archive and every manifest file, read from ``base``, hash to the digests the upload recorded."""
    archive = requests.get(f"{base}/api/v1/algorithms/{slug}/versions/1.0.0/archive", headers=author,
                           timeout=HTTP_TIMEOUT)
    assert archive.status_code == 200 and archive.content == model_zip
    assert hashlib.sha256(archive.content).hexdigest() == version["archive"]["sha256"]
    for entry in version["manifest"]:
        got = requests.get(f"{base}/api/v1/algorithms/{slug}/versions/1.0.0/artifacts/{entry['path']}",
                           headers=author, timeout=HTTP_TIMEOUT)
        assert got.status_code == 200, (entry["path"], got.text[:500])
        assert hashlib.sha256(got.content).hexdigest() == entry["sha256"], entry["path"]


def _launch_audit(base: str, evaluator: dict[str, str], slug: str) -> int:
    frame = generate_cohort(400, seed=5)
    frame["deprivation"] = frame["deprivation_quintile"]  # the model's second input column
    metadata = {"name": "Cohorte synthétique", "label_column": "outcome", "sensitive_columns": ["sex"],
                "row_key": "row_id", "datasheet": DATASHEET}
    dataset = _ok(requests.post(f"{base}/api/v1/datasets", headers=evaluator,
                                data={"metadata": json.dumps(metadata)},
                                files={"file": ("cohort.csv", _csv(frame), "text/csv")}, timeout=HTTP_TIMEOUT), 201)
    launched = _ok(requests.post(f"{base}/api/v1/audits", headers=evaluator, timeout=HTTP_TIMEOUT, json={
        "kind": "bias", "algorithm": slug, "version": "1.0.0", "dataset": dataset["id"],
        "sensitive_features": ["sex"], "n_boot": 20}), 202)
    return launched["id"]


def _wait_for_job(base: str, evaluator: dict[str, str], job_id: int, log: Path, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = _ok(requests.get(f"{base}/api/v1/audits/{job_id}", headers=evaluator, timeout=HTTP_TIMEOUT))
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job.get('status')} after {timeout}s\n{log.read_text()[-3000:]}")


class Worker:
    """``boas worker`` in its own process group, stopped with it."""

    def __init__(self, env: dict[str, str], log: Path):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "boas.cli", "worker"], env=env, cwd=PROJECT_ROOT,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group this test started
            self.proc.wait(timeout=10)


def _cluster(tmp_path: Path, data_dirs: dict[str, Path], extra: dict[str, str], stack: ExitStack):
    """A PostgreSQL database, a Redis queue, two web instances and a worker, each on its own data directory."""
    database_url, drop = fresh_database_url("postgresql", tmp_path)
    stack.callback(drop)
    redis.Redis.from_url(REDIS_URL).flushdb()
    envs = {name: {**server_env(database_url, data_dir), "BOAS_QUEUE_URL": REDIS_URL, **extra}
            for name, data_dir in data_dirs.items()}
    run_boas(envs["web_a"], "db", "upgrade")
    author, evaluator = _token(envs["web_a"], "author"), _token(envs["web_a"], "evaluator")
    web_a = stack.enter_context(gunicorn(envs["web_a"], tmp_path / "web_a.log", workers=2))
    web_b = stack.enter_context(gunicorn(envs["web_b"], tmp_path / "web_b.log", workers=2))
    worker = Worker(envs["worker"], tmp_path / "worker.log")
    stack.callback(worker.stop)
    return web_a, web_b, worker, author, evaluator


def _logs_clean(tmp_path: Path) -> None:
    for name in ("web_a.log", "web_b.log", "worker.log"):
        text = (tmp_path / name).read_text(errors="replace")
        assert "Traceback" not in text, (name, text[-3000:])


def test_object_storage_upload_on_one_machine_download_and_audit_on_the_others(tmp_path, model_zip, s3_bucket):
    bucket: S3Bucket = s3_bucket
    dirs = {name: tmp_path / name for name in ("web_a", "web_b", "worker")}
    with ExitStack() as stack:
        web_a, web_b, worker, author, evaluator = _cluster(tmp_path, dirs, bucket.env("boas/prod"), stack)
        slug, version = _upload_model(web_a, author, model_zip)
        digests = {f["sha256"] for f in version["manifest"]} | {version["archive"]["sha256"]}
        assert {key.rsplit("/", 1)[1] for key in bucket.object_keys()} == digests
        assert all(key.startswith("boas/prod/blobs/sha256/") for key in bucket.object_keys())

        _download_verified(web_b, author, slug, version, model_zip)
        cached_b = {p.name for p in (dirs["web_b"] / "cache").rglob("*") if p.is_file()}
        assert cached_b == digests  # the other web machine read them from the bucket into its cache

        job = _wait_for_job(web_a, evaluator, _launch_audit(web_b, evaluator, slug), worker.log)
        assert job["status"] == "succeeded", (job.get("error"), worker.log.read_text()[-3000:])
        assert job["provenance"]["predictions"]["source"] == "model run in sandbox"
        cached_worker = {p.name for p in (dirs["worker"] / "cache").rglob("*") if p.is_file()}
        model_files = {f["sha256"] for f in version["manifest"]}
        assert model_files <= cached_worker  # the worker read the model through its own verified cache
        for data_dir in dirs.values():
            assert not (data_dir / "blobs").exists()  # no machine keeps a store of its own
    _logs_clean(tmp_path)


def test_a_shared_filesystem_upload_on_one_instance_download_and_audit_on_the_other(tmp_path, model_zip):
    shared = tmp_path / "shared"  # the mount every machine sees
    dirs = dict.fromkeys(("web_a", "web_b", "worker"), shared)
    with ExitStack() as stack:
        web_a, web_b, worker, author, evaluator = _cluster(tmp_path, dirs, {}, stack)
        slug, version = _upload_model(web_a, author, model_zip)
        _download_verified(web_b, author, slug, version, model_zip)
        job = _wait_for_job(web_a, evaluator, _launch_audit(web_b, evaluator, slug), worker.log)
        assert job["status"] == "succeeded", (job.get("error"), worker.log.read_text()[-3000:])
        assert job["provenance"]["predictions"]["source"] == "model run in sandbox"
        stored = {p.name for p in (shared / "blobs" / "sha256").rglob("*") if p.is_file()}
        assert {f["sha256"] for f in version["manifest"]} <= stored
        assert not (shared / "cache").exists()
        assert not any((shared / "tmp").glob("stage-*"))
    _logs_clean(tmp_path)
