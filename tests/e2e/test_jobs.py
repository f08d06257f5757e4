"""Audit jobs through the real queue: `boas worker` on the embedded SQLite queue and on Redis.

The jobs table is the source of truth: a worker killed with SIGKILL mid-job leaves the job
re-queued (then finished by another worker) or failed with a reason, never stuck running.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from audits.synth import generate_cohort
from boas.app import create_app
from registry_db.engine import make_engine
from registry_db.migrate import upgrade
from tests.conftest import fresh_database_url
from tests.e2e.test_audits_api import _rule_based_version, upload_dataset, upload_predictions

ROOT = Path(__file__).resolve().parents[2]
# One Redis database per parallel test worker (gw0 -> 11, gw1 -> 12, ...): each flushes only its own.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URL = os.environ.get("BOAS_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{11 + _WORKER}")
pytestmark = pytest.mark.slow


class Deployment:
    """A fresh database and data directory, an app that only enqueues, and worker processes."""

    def __init__(self, backend: str, queue_url: str, tmp_path: Path, settings):
        self.url, self._cleanup = fresh_database_url(backend, tmp_path)
        engine = make_engine(self.url)
        upgrade(engine)
        engine.dispose()
        self.settings = dataclasses.replace(settings, database_url=self.url, queue_url=queue_url,
                                            job_heartbeat_seconds=0.5, job_stale_seconds=3)
        self.app = create_app(self.settings)
        self.client = self.app.test_client()
        self.workers: list[subprocess.Popen] = []
        self.logs = tmp_path / "worker.log"

    def env(self) -> dict[str, str]:
        s = self.settings
        return {**os.environ, "BOAS_DATABASE_URL": self.url, "BOAS_DATA_DIR": str(s.data_dir),
                "BOAS_SECRET_KEY": "test", "BOAS_QUEUE_URL": s.queue_url, "BOAS_JOB_HEARTBEAT_SECONDS": "0.5",
                "BOAS_JOB_STALE_SECONDS": "3", "BOAS_SANDBOX_WALL_SECONDS": "120"}

    def start_worker(self, **env: str) -> subprocess.Popen:
        log = open(self.logs, "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "boas.cli", "worker"], env={**self.env(), **env}, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(proc)
        return proc

    def account(self, role: str):
        from boas.registry import accounts

        email = f"{role}-{uuid.uuid4().hex[:6]}@example.org"
        with self.app.extensions["boas"].session_factory() as session:
            accounts.create_user(session, None, email=email, role=role, name=role, bootstrap=True)
            secret = accounts.create_token(session, None, user_email=email, bootstrap=True).secret
        return {"Authorization": f"Bearer {secret}"}

    def wait(self, job_id: int, headers, until: set[str], timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.client.get(f"/api/v1/audits/{job_id}", headers=headers).get_json()
            if job["status"] in until:
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s\n{self.logs.read_text()[-3000:]}")

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.app.extensions["boas"].engine.dispose()
        self._cleanup()


@pytest.fixture
def deployment(request, tmp_path, settings):
    backend, queue = request.param
    if queue == "redis":
        redis.Redis.from_url(REDIS_URL).flushdb()
    dep = Deployment(backend, REDIS_URL if queue == "redis" else "sqlite", tmp_path, settings)
    yield dep
    dep.close()


def _audit_request(dep):
    evaluator, author = dep.account("evaluator"), dep.account("author")
    slug = _rule_based_version(dep.client, author)
    frame = generate_cohort(3000, seed=11)
    dataset = upload_dataset(dep.client, evaluator, frame).get_json()
    predictions = upload_predictions(dep.client, evaluator, dataset["id"], slug, frame).get_json()
    return evaluator, {"kind": "bias", "algorithm": slug, "version": "1.0.0", "dataset": dataset["id"],
                       "predictions": predictions["id"], "sensitive_features": ["sex"], "n_boot": 100}


@pytest.mark.parametrize("deployment", [("sqlite", "sqlite"), ("postgresql", "redis"), ("sqlite", "redis")],
                         indirect=True, ids=["embedded-queue", "redis-postgresql", "redis-sqlite"])
def test_jobs_run_end_to_end_through_the_real_queue(deployment):
    evaluator, request = _audit_request(deployment)
    launched = deployment.client.post("/api/v1/audits", json=request, headers=evaluator)
    assert launched.status_code == 202
    job_id = launched.get_json()["id"]
    # No worker runs yet: the job waits in the queue (a job run in the request would already be finished).
    assert deployment.client.get(f"/api/v1/audits/{job_id}", headers=evaluator).get_json()["status"] == "queued"
    deployment.start_worker()
    job = deployment.wait(job_id, evaluator, {"succeeded", "failed"})
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 100 and job["attempts"] == 1
    assert job["provenance"]["worker_host"] and job["result"]["features"][0]["name"] == "sex"


@pytest.mark.parametrize("deployment", [("sqlite", "sqlite"), ("postgresql", "redis")], indirect=True,
                         ids=["embedded-queue", "redis-postgresql"])
def test_a_worker_streams_a_parquet_audit_past_the_configured_size(deployment):
    from tests.e2e.test_streaming_audits import _upload_parquet

    evaluator, author = deployment.account("evaluator"), deployment.account("author")
    slug = _rule_based_version(deployment.client, author)
    frame = generate_cohort(3000, seed=11)
    dataset = _upload_parquet(deployment.client, evaluator, frame).get_json()
    predictions = upload_predictions(deployment.client, evaluator, dataset["id"], slug, frame).get_json()
    launched = deployment.client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "bias", "algorithm": slug, "version": "1.0.0", "dataset": dataset["id"],
        "predictions": predictions["id"], "sensitive_features": ["sex", "region"], "n_boot": 100})
    assert launched.status_code == 202, launched.get_json()
    deployment.start_worker(BOAS_STREAMING_MIN_ROWS="3000")  # 3,000 rows: streamed (the default is 2,000,000)
    job = deployment.wait(launched.get_json()["id"], evaluator, {"succeeded", "failed"})
    assert job["status"] == "succeeded", job["error"]
    assert job["provenance"]["engine"]["mode"] == "streaming" and job["provenance"]["engine"]["row_groups"] == 3
    assert job["provenance"]["engine"]["executor"] == "local"
    assert job["provenance"]["crosscheck"]["max_abs_difference"] == 0.0
    assert sum(g["count"] for g in job["result"]["features"][1]["groups"]) == 3000


@pytest.mark.parametrize("deployment", [("sqlite", "sqlite"), ("postgresql", "redis")], indirect=True,
                         ids=["embedded-queue", "redis-postgresql"])
def test_a_worker_counts_a_streamed_audit_s_partitions_on_a_dask_cluster(deployment, dask_scheduler):
    from audits.fairness import BiasAuditParams, run_bias_audit
    from tests.e2e.test_streaming_audits import _upload_parquet

    evaluator, author = deployment.account("evaluator"), deployment.account("author")
    slug = _rule_based_version(deployment.client, author)
    frame = generate_cohort(3000, seed=11)
    dataset = _upload_parquet(deployment.client, evaluator, frame).get_json()
    predictions = upload_predictions(deployment.client, evaluator, dataset["id"], slug, frame).get_json()
    launched = deployment.client.post("/api/v1/audits", headers=evaluator, json={
        "kind": "bias", "algorithm": slug, "version": "1.0.0", "dataset": dataset["id"],
        "predictions": predictions["id"], "sensitive_features": ["sex", "region"], "intersections": True,
        "n_boot": 100, "seed": 5})
    assert launched.status_code == 202, launched.get_json()
    # 3,000 rows streamed in partitions of 1,000 rows: three tasks for the cluster's two worker processes
    deployment.start_worker(BOAS_STREAMING_MIN_ROWS="3000", BOAS_STREAMING_PARTITION_ROWS="1000",
                            BOAS_DASK_SCHEDULER=dask_scheduler)
    job = deployment.wait(launched.get_json()["id"], evaluator, {"succeeded", "failed"})
    assert job["status"] == "succeeded", job["error"]
    engine = job["provenance"]["engine"]
    assert engine["mode"] == "streaming" and engine["executor"] == "dask" and engine["scheduler"] == dask_scheduler
    assert engine["workers"] == 2 and engine["partitions"] == 3 and engine["partition_rows"] == 1000
    assert job["provenance"]["crosscheck"]["max_abs_difference"] == 0.0
    expected = run_bias_audit(frame, label="outcome", sensitive=["sex", "region"],
                              y_pred=frame["prediction"].to_numpy(), y_score=None,
                              params=BiasAuditParams(sensitive_features=["sex", "region"], intersections=True,
                                                     n_boot=100, seed=5))
    assert job["result"]["features"] == json.loads(json.dumps(expected["features"]))
    # the scores were histogrammed on the cluster's workers: counts and sweep as the in-memory engine gives them
    from audits.scores import score_metrics

    in_memory = score_metrics(frame, expected, label="outcome", y_score=frame["risk_score"].to_numpy(),
                              params=BiasAuditParams(sensitive_features=["sex", "region"], n_boot=0))
    scores = job["result"]["scores"]
    assert scores["method"] == "histogram" and job["provenance"]["scores"]["resolution"] == 0.001
    assert [(g["count"], g["sweep"]) for f in scores["features"] for g in f["groups"]] == \
        [(g["count"], g["sweep"]) for f in in_memory["features"] for g in f["groups"]]
    assert not list((deployment.settings.data_dir / "tmp").glob("stage-*"))  # the shared partitions are removed


def _slow_model_request(dep, model_zip_bytes: bytes, rows: int):
    evaluator, author = dep.account("evaluator"), dep.account("author")
    from tests.factories import create_algorithm, upload_version

    algo = create_algorithm(dep.client, author)
    assert upload_version(dep.client, author, algo["slug"], "1.0.0", model_zip_bytes).status_code == 201
    frame = generate_cohort(rows, seed=3)
    frame["sex_f"] = (frame["sex"] == "F").astype(int)  # the model's encoding of sex, as in split_features
    dataset = upload_dataset(dep.client, evaluator, frame).get_json()
    return evaluator, {"kind": "bias", "algorithm": algo["slug"], "version": "1.0.0", "dataset": dataset["id"],
                       "sensitive_features": ["sex"], "n_boot": 50}


@pytest.fixture(scope="module")
def slow_model_zip(tmp_path_factory) -> bytes:
    """A brute-force k-NN: a real scikit-learn model whose predictions take several seconds."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.neighbors import KNeighborsClassifier

    from audits.synth import split_features
    from tests.conftest import zip_dir

    X, y = split_features(generate_cohort(30_000, seed=1))
    model = KNeighborsClassifier(n_neighbors=15, algorithm="brute").fit(X, y)
    path = tmp_path_factory.mktemp("knn") / "model"
    mlflow.sklearn.save_model(model, str(path), signature=infer_signature(X.head(50), model.predict(X.head(50))),
                              serialization_format="skops")
    return zip_dir(path)


@pytest.mark.parametrize("deployment", [("sqlite", "sqlite"), ("postgresql", "redis")], indirect=True,
                         ids=["embedded-queue", "redis-postgresql"])
def test_a_worker_killed_mid_job_leaves_it_requeued_then_finished_never_stuck(deployment, slow_model_zip):
    evaluator, request = _slow_model_request(deployment, slow_model_zip, rows=60_000)
    first = deployment.start_worker()
    job_id = deployment.client.post("/api/v1/audits", json=request, headers=evaluator).get_json()["id"]
    running = deployment.wait(job_id, evaluator, {"running", "succeeded", "failed"})
    assert running["status"] == "running", running
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its sandboxed child die at once
    first.wait(timeout=10)
    assert deployment.client.get(f"/api/v1/audits/{job_id}", headers=evaluator).get_json()["status"] == "running"
    deployment.start_worker()  # its reaper notices the silent heartbeat and re-queues the job
    job = deployment.wait(job_id, evaluator, {"succeeded", "failed"}, timeout=180)
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 2
    events = deployment.client.get("/api/v1/audit-log", query_string={"object_ref": str(job_id)},
                                   headers=deployment.account("admin")).get_json()["items"]
    assert "audit.reaped" in [e["action"] for e in events]


def test_reaper_fails_a_job_whose_attempts_are_exhausted(session, make_account):
    from datetime import timedelta

    from audits.jobs import reap_stale_jobs
    from registry_db.models import Job, JobStatus, ReferenceDataset, utcnow

    user, _ = make_account("evaluator")
    dataset = ReferenceDataset(name="d", sha256="0" * 64, size=1, format="csv", row_count=1, columns=[],
                               original_sha256="0" * 64, original_size=1, original_format="csv",
                               uploaded_by_id=user.id)
    session.add(dataset)
    session.flush()
    job = Job(kind="bias", status=JobStatus.RUNNING, dataset_id=dataset.id, cache_key="k", created_by_id=user.id,
              attempts=2, max_attempts=2, worker_host="w1", heartbeat_at=utcnow() - timedelta(minutes=5))
    session.add(job)
    session.commit()
    requeued: list[int] = []
    assert reap_stale_jobs(session, stale_after=60, requeue=requeued.append) == []
    session.refresh(job)
    assert job.status == JobStatus.FAILED and "worker lost" in job.error and "w1" in job.error
    assert requeued == []


def test_the_web_process_never_imports_evidently_or_model_libraries(tmp_path):
    """Serving pages and the API, enqueuing jobs included, loads neither Evidently nor model code."""
    code = f"""
import sys, json, io
from pathlib import Path
from boas.app import create_app
from boas.config import Settings
from registry_db.engine import make_engine
from registry_db.migrate import upgrade
url = "sqlite:///{tmp_path}/db.sqlite"
e = make_engine(url); upgrade(e); e.dispose()
app = create_app(Settings(data_dir=Path("{tmp_path}/data"), database_url=url, secret_key="k"))
c = app.test_client()
for path in ["/api/v1/health", "/api/v1/algorithms", "/api/v1/openapi.json", "/api/v1/schemas/model-card.json",
             "/fr/", "/fr/algorithms", "/en/login", "/sitemap.xml"]:
    assert c.get(path).status_code == 200, path
heavy = sorted(m for m in ("evidently", "mlflow", "sklearn", "fairlearn", "cloudpickle", "joblib") if m in sys.modules)
print(json.dumps(heavy))
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []




def _job_row(session, make_account, **fields):
    from registry_db.models import Job, JobStatus, ReferenceDataset

    user, _ = make_account("evaluator")
    dataset = ReferenceDataset(name="d", sha256="0" * 64, size=1, format="csv", row_count=1, columns=[],
                               original_sha256="0" * 64, original_size=1, original_format="csv",
                               uploaded_by_id=user.id)
    session.add(dataset)
    session.flush()
    job = Job(kind="bias", dataset_id=dataset.id, cache_key="k", created_by_id=user.id,
              **{"status": JobStatus.RUNNING, **fields})
    session.add(job)
    session.commit()
    return job


def test_a_late_finish_from_a_reaped_attempt_is_discarded(session, make_account):
    from audits.jobs import finish_job
    from registry_db.models import JobStatus

    job = _job_row(session, make_account, attempts=2, max_attempts=3)
    assert finish_job(session, job.id, 1, result={"from": "attempt 1"}) is False
    session.refresh(job)
    assert job.status == JobStatus.RUNNING and job.result is None
    assert finish_job(session, job.id, 2, result={"from": "attempt 2"}) is True
    session.refresh(job)
    assert job.status == JobStatus.SUCCEEDED and job.result == {"from": "attempt 2"}


def test_a_queued_job_whose_message_was_lost_is_sent_again(session, make_account):
    from datetime import timedelta

    from audits.jobs import reap_stale_jobs
    from registry_db.models import JobStatus, utcnow

    old = _job_row(session, make_account, status=JobStatus.QUEUED, created_at=utcnow() - timedelta(minutes=10))
    fresh = _job_row(session, make_account, status=JobStatus.QUEUED)
    sent: list[int] = []
    assert reap_stale_jobs(session, stale_after=60, requeue=sent.append) == [old.id]
    assert sent == [old.id] and fresh.id not in sent
    assert reap_stale_jobs(session, stale_after=60, requeue=sent.append) == []  # not re-sent every round


def test_launching_an_audit_while_the_queue_is_down_still_answers_202(tmp_path, settings):
    dep = Deployment("sqlite", "redis://127.0.0.1:1/0", tmp_path, settings)  # nothing listens on port 1
    try:
        evaluator, request = _audit_request(dep)
        launched = dep.client.post("/api/v1/audits", json=request, headers=evaluator)
        assert launched.status_code == 202
        assert dep.client.get(f"/api/v1/audits/{launched.get_json()['id']}", headers=evaluator).get_json()[
            "status"] == "queued"
    finally:
        dep.close()
