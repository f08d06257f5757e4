"""What the audit form starts from: the dataset's declared sensitive columns and earlier reference groups.

Nothing that matters is chosen for the evaluator: these prefills come from what others declared or
decided before, each with its source, so the page can say where it comes from and the evaluator can
change it. Reference groups are read from the succeeded bias audits of the same algorithm (any
version, newest first): auditing a new version against the same reference group keeps its ratios
comparable with the earlier ones.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from audits import datasets
from boas.registry import versions
from registry_db import store
from registry_db.models import AuditKind, JobStatus, User


def audit_prefill(session: Session, actor: User | None, *, algorithm: str | None, version: str | None,
                  dataset: int | None) -> dict[str, Any]:
    """Prefilled values and their sources: ``sensitive_features`` (from the dataset's declaration) and
    ``reference_group`` (per feature, from the latest earlier audit of the algorithm that judged it)."""
    datasets.require_evaluator(actor)
    out: dict[str, Any] = {"sensitive_features": [], "sensitive_source": None, "reference_group": {},
                           "reference_sources": {}}
    if dataset is not None:
        row = store.get_dataset(session, dataset)
        if row.sensitive_columns:
            out["sensitive_features"] = list(row.sensitive_columns)
            out["sensitive_source"] = {"dataset": row.id, "name": row.name}
    if algorithm and version:
        target = versions.get_version(session, actor, algorithm, version)
        jobs = [job for version_id in store.version_ids_of(session, target.algorithm_id)
                for job in store.list_jobs(session, version_id=version_id, status=JobStatus.SUCCEEDED)
                if job.kind == AuditKind.BIAS]
        for job in sorted(jobs, key=lambda j: j.id, reverse=True):
            for feature in (job.result or {}).get("features") or []:
                name, reference = feature.get("name"), feature.get("reference_group")
                if isinstance(name, str) and isinstance(reference, str) and name not in out["reference_group"]:
                    out["reference_group"][name] = reference
                    out["reference_sources"][name] = {"job": job.id, "version": job.version.version
                                                      if job.version else None}
        wanted = set(out["sensitive_features"])
        if wanted:  # only the features this audit will judge
            out["reference_group"] = {k: v for k, v in out["reference_group"].items() if k in wanted}
            out["reference_sources"] = {k: v for k, v in out["reference_sources"].items() if k in wanted}
    return out
