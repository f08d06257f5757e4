"""Crawl the site from its home page, as the public and as an administrator: no 5xx, no broken internal link."""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

MAX_PAGES = 700
ORIGIN = "http://localhost"


class Links(HTMLParser):
    """Every URL a browser would follow or load from a page."""

    ATTRIBUTES = {"a": "href", "link": "href", "script": "src", "iframe": "src", "img": "src"}

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        wanted = self.ATTRIBUTES.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def crawl(client, start: str = "/") -> dict[str, tuple[int, str]]:
    """BFS over same-origin URLs; returns {url: (status, referrer)}."""
    seen: dict[str, tuple[int, str]] = {}
    queue: deque[tuple[str, str]] = deque([(start, "")])
    queued = {start}
    while queue and len(seen) < MAX_PAGES:
        url, referrer = queue.popleft()
        response = client.get(url)
        seen[url] = (response.status_code, referrer)
        targets: list[str] = []
        if 300 <= response.status_code < 400:
            targets.append(response.headers["Location"])
        elif response.mimetype == "text/html" and response.status_code == 200:
            parser = Links()
            parser.feed(response.get_data(as_text=True))
            targets.extend(parser.urls)
        for target in targets:
            absolute = urldefrag(urljoin(ORIGIN + url, target))[0]
            parts = urlsplit(absolute)
            if f"{parts.scheme}://{parts.netloc}" != ORIGIN:
                continue  # another origin: not ours to crawl
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if path not in queued:
                queued.add(path)
                queue.append((path, url))
    return seen


def _check(seen: dict[str, tuple[int, str]]) -> None:
    server_errors = {url: s for url, s in seen.items() if s[0] >= 500}
    broken = {url: s for url, s in seen.items() if s[0] == 404}
    assert server_errors == {}
    assert broken == {}, broken


def test_the_public_site_has_no_broken_link_in_either_language(site_app, content):
    seen = crawl(site_app.test_client())
    _check(seen)
    pages = set(seen)
    for lang in ("fr", "en"):
        assert f"/{lang}/algorithms/{content.ml_slug}/1.1.0" in pages  # the yanked card
        assert f"/{lang}/algorithms/{content.rule_slug}/1.0.0" in pages  # the audited card
        assert f"/{lang}/algorithms/{content.ml_slug}/1.2.0/diff" in pages
    assert f"/api/v1/algorithms/{content.ml_slug}/versions/1.2.0/exports/card.json?lang=fr" in pages
    # histograms can describe fewer than 11 people: the report is framed for evaluators and authors only
    assert not [url for url in pages if url.endswith("/report")]
    assert len(pages) > 60


def test_the_workspace_has_no_broken_link_for_an_administrator(signed_in, content):
    client = signed_in("admin")
    seen = crawl(client, "/fr/workspace")
    _check(seen)
    pages = set(seen)
    for lang in ("fr", "en"):
        assert f"/{lang}/admin/users" in pages and f"/{lang}/workspace/jobs/{content.job_id}" in pages
        assert f"/{lang}/workspace/algorithms/{content.ml_slug}/2.0.0-rc.1" in pages  # the draft editor


def test_the_drift_report_is_framed_for_evaluators_only(signed_in, site_app, content):
    evaluator = signed_in("evaluator")
    job_page = evaluator.get(f"/fr/workspace/jobs/{content.drift_job_id}").get_data(as_text=True)
    frame_src = f"/fr/workspace/jobs/{content.drift_job_id}/report"
    assert f'sandbox="allow-scripts" src="{frame_src}"' in job_page
    assert 'class="report-frame" lang="en"' in job_page  # Evidently's report is English, and says so
    assert "Le rapport technique d’Evidently ci-dessous est en anglais" in job_page
    methods = re.findall(r'<td>categorical</td><td>(.*?)</td>|<td>catégorielle</td><td>(.*?)</td>', job_page)
    assert methods and all("<span lang=\"en\">" not in m for pair in methods for m in pair)  # tests named in French
    report = evaluator.get(frame_src)
    assert report.status_code == 200 and report.mimetype == "text/html"
    assert "sandbox allow-scripts" in report.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in report.headers["Content-Security-Policy"]
    assert site_app.test_client().get(frame_src).status_code == 302  # anonymous: sign in first
    assert site_app.test_client().get(f"/api/v1/audits/{content.drift_job_id}/report").status_code == 404
