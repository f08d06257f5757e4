"""The public bias audits behind each algorithm's badge in the catalogue and on the home page.

A catalogue result states the outcome of the audits of one version, never a mix: the latest
published version when it has a bias audit, else the latest released version that has one. Only
frozen public views (small-cell suppression) are returned, whoever asks, because a result list is
public.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from audits.service import public_results
from model_cards import semver
from registry_db import store
from registry_db.models import Algorithm, VersionState

FROZEN_KEPT = 256
PASSED, FAILED, INSUFFICIENT, NOT_AUDITED = "passed", "failed", "insufficient", "not_audited"


def verdict_counts(result: dict[str, Any]) -> dict[str, int]:
    """How many disparities of a bias result pass, fail or lack evidence: its own totals when it carries
    them, else counted over its features (a public view may carry only the disparities)."""
    verdicts = result.get("verdicts")
    if isinstance(verdicts, dict) and all(isinstance(verdicts.get(k), int) for k in ("pass", "fail")):
        return {k: verdicts.get(k) or 0 for k in ("pass", "fail", "insufficient_evidence")}
    counts = {"pass": 0, "fail": 0, "insufficient_evidence": 0}
    for feature in result.get("features") or []:
        for disparity in feature.get("disparities") or []:
            if disparity.get("verdict") in counts:
                counts[disparity["verdict"]] += 1
    return counts


def result_outcome(result: dict[str, Any] | None) -> str:
    """The outcome of one bias result: "failed" if any disparity fails, "insufficient" if any is unsure, else
    "passed" ("not_audited" without a result). The same worst-verdict rule as the card's summary."""
    if not isinstance(result, dict):
        return NOT_AUDITED
    counts = verdict_counts(result)
    if counts["fail"]:
        return FAILED
    return INSUFFICIENT if counts["insufficient_evidence"] else PASSED


# Frozen public results kept in memory per process.
class _FrozenViews:
    """Frozen public results by job id. A frozen view never changes, so it may be kept as long as wanted."""

    def __init__(self) -> None:
        self._views: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_id: int) -> dict[str, Any] | None:
        with self._lock:
            return self._views.get(job_id)

    def put(self, job_id: int, view: dict[str, Any]) -> None:
        with self._lock:
            self._views[job_id] = view
            while len(self._views) > FROZEN_KEPT:
                self._views.popitem(last=False)


_FROZEN = _FrozenViews()


def _public_views(session: Session, jobs: list) -> dict[int, dict[str, Any] | None]:
    """Each job's frozen public result, read from the database only the first time (it is JSON, and large)."""
    views = {job.id: _FROZEN.get(job.id) for job in jobs}
    missing = [job for job in jobs if views[job.id] is None]
    if missing:
        for job_id, view in public_results(session, missing).items():
            if view is not None:
                _FROZEN.put(job_id, view)
            views[job_id] = view
    return views


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
    public = _public_views(session, [job for jobs in by_algorithm.values() for job in jobs])
    out = {}
    for algorithm in items:
        jobs = by_algorithm.get(algorithm.id)
        if not jobs:
            continue
        version = max((job.version for job in jobs), key=_version_rank)
        shown = (public.get(job.id) for job in jobs if job.version_id == version.id)
        results = [view for view in shown if view]
        out[algorithm.slug] = VersionAudits(version=version.version, results=results)
    return out


def public_page_state(session: Session, slug: str) -> dict[str, Any] | None:
    """What decides how an algorithm's released pages look, as comparable plain values (None: nothing released).

    A change in any of them (a version released or yanked, an audit launched, finished or reused, an owner
    added) changes the pages. The moment a public view is frozen is left out: the first page that shows an
    audit freezes its view, which never changes afterwards, so the page is the same before and after.
    """
    return store.public_page_state(session, slug)
