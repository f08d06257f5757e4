"""A cross-check that finds a difference fails the job, with a fixed reason that carries no number."""

from __future__ import annotations

from audits import engine_adapter, jobs
from audits.crosscheck import CrossCheckFailed, fairlearn_crosscheck
from audits.fairness import BiasAuditParams
from audits.synth import generate_cohort
from registry_db.models import Job, JobStatus, ReferenceDataset


def test_a_disagreeing_engine_fails_the_job_with_the_fixed_reason(live, live_client, live_account):
    user, evaluator = live_account("evaluator")
    factory = live.extensions["boas"].session_factory
    with factory() as session:
        dataset = ReferenceDataset(name="d", sha256="0" * 64, size=1, format="csv", row_count=1, columns=[],
                                   original_sha256="0" * 64, original_size=1, original_format="csv",
                                   uploaded_by_id=user.id)
        session.add(dataset)
        session.flush()
        job = Job(kind="bias", status=JobStatus.QUEUED, dataset_id=dataset.id, cache_key="k", created_by_id=user.id,
                  params={})
        session.add(job)
        session.commit()
        job_id = job.id
    with factory() as session:
        attempt = jobs.claim_job(session, job_id)
    frame = generate_cohort(2_000, seed=3)

    def disagreeing(sample, **kwargs):
        result = engine_adapter.point_audit(sample, **kwargs)
        result["overall"]["metrics"]["accuracy"]["value"] += 2e-16
        return result

    def work(progress):
        params = BiasAuditParams(sensitive_features=["sex"])
        fairlearn_crosscheck(frame, label="outcome", sensitive=["sex"], y_pred=frame["prediction"].to_numpy(),
                             params=params, seed=0, engine=disagreeing)
        raise AssertionError("the cross-check let a difference through")

    jobs.run_claimed(factory, job_id, attempt, work, heartbeat_seconds=60)

    body = live_client.get(f"/api/v1/audits/{job_id}", headers=evaluator).get_json()
    assert body["status"] == JobStatus.FAILED.value
    assert body["error"] == CrossCheckFailed.reason
    assert not any(ch.isdigit() for ch in body["error"])
    assert "overall accuracy" in body["provenance"]["traceback_tail"]  # the detail, for evaluators and admins
