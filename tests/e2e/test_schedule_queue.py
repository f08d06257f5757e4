"""Scheduled re-audits through the real queue: `boas worker` on the embedded SQLite queue and on Redis.

The scheduler's tick travels through the queue "as of" a moment the test chooses, so the clock is
advanced, never slept; the worker that receives it enqueues the due run, which it then runs like any
audit job. (The worker also ticks every minute with the wall clock; that is before T0, so nothing is due.)
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta

import pytest

from audits.synth import BiasSpec, generate_cohort
from tests.e2e.test_audits_api import _rule_based_version, upload_dataset, upload_predictions
from tests.e2e.test_jobs import REDIS_URL, Deployment

pytestmark = pytest.mark.slow
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def deployment(request, tmp_path, settings):
    """A fresh database, its app (which only enqueues) and worker processes, on (backend, queue)."""
    import redis

    backend, queue = request.param
    if queue == "redis":
        redis.Redis.from_url(REDIS_URL).flushdb()
    dep = Deployment(backend, REDIS_URL if queue == "redis" else "sqlite", tmp_path, settings)
    yield dep
    dep.close()


def _runs(dep, headers, schedule_id: int, count: int, timeout: float = 120) -> list[dict]:
    """Wait (for the worker, not for the clock) until the schedule has ``count`` finished runs, comparisons done."""
    deadline = time.monotonic() + timeout
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = dep.client.get(f"/api/v1/schedules/{schedule_id}", headers=headers).get_json()["runs"]
        finished = [r for r in runs if r["status"] in ("succeeded", "failed")]
        if len(finished) >= count and (count < 2 or finished[-1]["verdict_change"] is not None):
            return runs
        time.sleep(0.2)
    raise AssertionError(f"runs {runs} after {timeout}s\n{dep.logs.read_text()[-3000:]}")


@pytest.mark.parametrize(
    "deployment",
    [("sqlite", "sqlite"), ("postgresql", "redis")],
    indirect=True,
    ids=["embedded-queue", "redis-postgresql"],
)
def test_a_schedule_runs_through_the_real_queue_and_a_verdict_change_reaches_the_trend(deployment):
    dep = deployment
    evaluator, author = dep.account("evaluator"), dep.account("author")
    slug = _rule_based_version(dep.client, author)
    frame = generate_cohort(4000, seed=4)
    dataset = upload_dataset(dep.client, evaluator, frame).get_json()
    predictions = upload_predictions(dep.client, evaluator, dataset["id"], slug, frame).get_json()
    assert dep.client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/publish", headers=author).status_code == 200
    created = dep.client.post(
        "/api/v1/schedules",
        headers=evaluator,
        json={
            "audit": {
                "kind": "bias",
                "algorithm": slug,
                "version": "1.0.0",
                "dataset": dataset["id"],
                "predictions": predictions["id"],
                "sensitive_features": ["sex"],
                "reference_group": {"sex": "M"},
                "n_boot": 50,
            },
            "period": "days",
            "every_days": 30,
            "starts_at": T0.isoformat(),
            "grace_days": 3,
        },
    )
    assert created.status_code == 201, created.get_json()
    schedule_id = created.get_json()["id"]
    runtime = dep.app.extensions["boas"]
    dep.start_worker()

    runtime.enqueue_tick(T0.isoformat())
    runtime.enqueue_tick((T0 + timedelta(minutes=5)).isoformat())  # a second tick for the same slot: no new run
    first = _runs(dep, evaluator, schedule_id, 1)
    assert [r["status"] for r in first] == ["succeeded"] and first[0]["slot"].startswith("2026-12-01T08:00")
    job = dep.client.get(f"/api/v1/audits/{first[0]['job']}", headers=evaluator).get_json()
    assert job["provenance"]["worker_host"] and job["provenance"]["dataset"]["sha256"] == dataset["sha256"]

    biased = generate_cohort(4000, seed=4, bias=BiasSpec("sex", "F", 0.5))
    refreshed = upload_dataset(dep.client, evaluator, biased).get_json()
    upload_predictions(dep.client, evaluator, refreshed["id"], slug, biased)
    runtime.enqueue_tick((T0 + timedelta(days=30)).isoformat())
    runs = _runs(dep, evaluator, schedule_id, 2)
    assert len(runs) == 2 and runs[1]["status"] == "succeeded"
    assert any(c["group"] == "F" and c["to"] == "fail" for c in runs[1]["verdict_change"]["changes"])

    trend = dep.client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/trend").get_json()
    female = [s for s in trend["series"] if s["feature"] == "sex" and s["group"] == "F"]
    assert female and [p["verdict_change"] for p in female[0]["points"]] == [False, True]
    html = dep.client.get(f"/en/algorithms/{slug}/1.0.0").get_data(as_text=True)
    assert 'id="trend"' in html and "Verdict changed" in html

    # No run succeeds for the next slot (no tick reaches the queue): past its grace, the card is to review.
    dep.app.extensions["boas"] = dataclasses.replace(runtime, clock=lambda: T0 + timedelta(days=64))
    staleness = dep.client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/staleness").get_json()
    assert staleness["to_review"] and staleness["reasons"][0]["code"] == "reaudit_overdue"


def test_both_queues_register_the_periodic_scheduler(settings, tmp_path):
    from huey import RedisHuey, SqliteHuey

    from boas.runtime import build_runtime

    for url in ("sqlite", REDIS_URL):
        runtime = build_runtime(
            dataclasses.replace(settings, queue_url=url, data_dir=tmp_path / url[:5]), session_factory=lambda: None
        )  # type: ignore[arg-type,return-value]
        assert isinstance(runtime.queue, SqliteHuey if url == "sqlite" else RedisHuey)
        periodic = runtime.queue._registry.periodic_tasks
        assert [t.name for t in periodic] == ["tick_audit_schedules_periodic"]
        assert periodic[0].validate_datetime(datetime(2026, 12, 1, 8, 0))  # every minute
