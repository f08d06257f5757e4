"""The public bias audits behind each algorithm's badge in the catalogue and on the home page.

A catalogue result states the outcome of the audits of one version, never a mix: the latest
published version when it has a bias audit, else the latest released version that has one. Only
frozen public views (small-cell suppression) are returned, whoever asks, because a result list is
public.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from audits.service import public_results
from model_cards import semver
from registry_db import store
from registry_db.models import Algorithm, VersionState


@dataclass(frozen=True)
class VersionAudits:
    """The public results of the bias audits of one released version."""

    version: str
    results: list[dict[str, Any]]


def _version_rank(version) -> tuple:
    return (version.state == VersionState.PUBLISHED, semver.sort_key(version.version))


def public_bias_outcomes(session: Session, items: Sequence[Algorithm]) -> dict[str, VersionAudits]:
    """slug -> the public bias results of the version its badge speaks for (absent: no public bias audit)."""
    by_algorithm: dict[int, list] = defaultdict(list)
    for algorithm_id, job in store.public_bias_jobs(session, [a.id for a in items]):
        by_algorithm[algorithm_id].append(job)
    if not by_algorithm:
        return {}
    public = public_results(session, [job for jobs in by_algorithm.values() for job in jobs])
    out = {}
    for algorithm in items:
        jobs = by_algorithm.get(algorithm.id)
        if not jobs:
            continue
        version = max((job.version for job in jobs), key=_version_rank)
        results = [public[job.id] for job in jobs if job.version_id == version.id and public.get(job.id)]
        out[algorithm.slug] = VersionAudits(version=version.version, results=results)
    return out
