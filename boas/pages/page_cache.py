"""Published cards rendered once and served from memory, with validators for browsers and proxies.

A released card page depends only on its frozen snapshot, the algorithm's released versions, the
version's audits and users' reports, its owners (an audit's independence), the page language and the code that renders
it (templates, translations). The cache key is a digest of all of these, read fresh on every request
in a few indexed queries: a new audit, a frozen public view, a yank or a new translation makes a new
key, so nothing is ever invalidated by hand and a stale page cannot be served. The same digest is the
ETag. Only anonymous GETs without a query string or flashed message are served from here: a signed-in
reader may see full audit results and drafts, and keeps private, uncached pages.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from audits.incidents import report_stamp
from audits.outcomes import public_page_state

MAX_PAGES = 512  # rendered pages kept per process (a 200 KB card: about 100 MB at most)
MAX_AGE = 300  # seconds a browser or proxy may reuse a card without asking again
CODE_ROOTS = (Path(__file__).resolve().parent / "templates", Path(__file__).resolve().parents[1] / "translations")


@cache
def code_digest() -> str:
    """Templates and compiled translations as this process loaded them: a new deployment makes new ETags."""
    digest = hashlib.sha256()
    for root in CODE_ROOTS:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".html", ".xml", ".mo"):
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Stamp:
    """A released card page's version fingerprint (the ETag) and when it last changed."""

    etag: str
    last_modified: datetime


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def card_stamp(session: Session, slug: str, version: str, lang: str, extra: Any = None) -> Stamp | None:
    """The fingerprint of a released card page as the public sees it; None for a draft or an unknown version.

    ``extra`` is what the page shows that depends on the clock rather than on rows (its "to review" state):
    it is part of the key, so a card that lapses by the passing of time is never served from before.
    """
    state = public_page_state(session, slug)
    row = next((v for v in state["versions"] if v[1] == version), None) if state else None
    if row is None:
        return None
    version_id = row[0]
    audits = [job[1:] for job in state["jobs"] if job[0] == version_id]
    report_count, reports_changed = report_stamp(session, version_id)
    parts = {
        "code": code_digest(), "lang": lang, "slug": slug, "version": version,
        "versions": [(v[0], v[1], v[2].value, v[3], _iso(v[4])) for v in state["versions"]],
        "owners": state["owners"], "organisation": state["organisation_id"],
        "audits": [(a[0], a[1].value, a[2].value, a[3], a[4], _iso(a[5]), a[6]) for a in audits],
        "accounts": state["accounts"][0] if state["accounts"] else None,  # the last change to an account
        "clock": extra,
        # Users' reports: every change to one (filed, moderated, state, answer) moves its updated_at.
        "reports": (report_count, _iso(reports_changed)),
    }
    etag = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    moments = [_aware(m) for v in state["versions"] for m in (v[4], v[5], v[6])] + [_aware(a[5]) for a in audits]
    moments += [_aware(state["accounts"][1])] if state["accounts"] else []
    moments += _lapse_moments(extra)
    moments += [_aware(reports_changed)]
    return Stamp(etag=etag, last_modified=max(m for m in moments if m is not None).replace(microsecond=0))


def _lapse_moments(extra: Any) -> list[datetime]:
    """When the card became "to review": a page that changed then must not answer 304 to an older copy."""
    found = []
    for reason in (extra or {}).get("reasons") or []:
        if reason.get("since"):
            found.append(datetime.fromisoformat(reason["since"]))
        elif reason.get("date"):  # the day after the declared review date
            found.append(datetime.fromisoformat(reason["date"]).replace(tzinfo=UTC) + timedelta(days=1))
    return [_aware(m) for m in found if m is not None]  # type: ignore[misc]


class PageCache:
    """A bounded, thread-safe LRU of rendered pages, keyed by their fingerprint."""

    def __init__(self, size: int = MAX_PAGES):
        self.size = size
        self._pages: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._pages.get(key)
            if body is not None:
                self._pages.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        with self._lock:
            self._pages[key] = body
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
