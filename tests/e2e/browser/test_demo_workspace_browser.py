"""The signed-in side of the demo on a phone: every workspace and administration page an author, the evaluator and
an administrator reach from the menu, in French and English, fits 390 px without scrolling sideways."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.e2e.browser.conftest import OVERFLOWING, screenshot, sign_in_as
from tests.e2e.browser.test_demo_browser import SMALLEST_LABEL

pytestmark = pytest.mark.slow

PRIVATE = r"^/{lang}/(workspace|admin|notifications)(/|$)"
# Not pages of ours to lay out: JSON (job status, dataset metadata) and Evidently's own HTML report, framed.
NOT_PAGES = re.compile(r"(\.jsonld|/status|/report)$")
MAX_PAGES = 120  # per role and language; the demo has far fewer shapes of page


def _shape(path: str) -> tuple[str, tuple[str, ...]]:
    """A page's path and the names of its query parameters: page 2 of a list is laid out like page 1."""
    parts = urlsplit(path)
    return parts.path, tuple(sorted({name for name, _value in parse_qsl(parts.query)}))


def crawl_private(page, url: str, lang: str, visit) -> list[str]:
    """Breadth-first from the workspace over the private pages linked from each page (menu first), in one language;
    ``visit(path)`` checks each page as it is loaded."""
    start, private = f"/{lang}/workspace", re.compile(PRIVATE.format(lang=lang))
    queue, seen, shapes = [start], [], {_shape(start)}
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        response = page.goto(url + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        seen.append(path)
        visit(path)
        for href in page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)"):
            parts = urlsplit(href)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if f"{parts.scheme}://{parts.netloc}" != url or not private.match(parts.path) \
                    or NOT_PAGES.search(parts.path) or _shape(target) in shapes:
                continue
            shapes.add(_shape(target))
            queue.append(target)
    return seen


def _name(role: str, lang: str, path: str) -> str:
    return f"demo-{role}-{lang}-mobile-" + (re.sub(r"[^a-z0-9]+", "-", path.lower().split("?")[0][4:]).strip("-")
                                            or "workspace")


@pytest.mark.parametrize("role", ["author", "evaluator", "admin"])
def test_no_signed_in_page_scrolls_sideways_on_a_phone(browser, demo_url, demo_accounts, role):
    url, _app = demo_url
    context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(20_000)
    wide, small, visited = {}, {}, {}
    started = time.monotonic()
    try:
        sign_in_as(page, url, demo_accounts[role], "fr")
        for lang in ("fr", "en"):
            def visit(path, lang=lang):
                sizes = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
                if sizes[0] > sizes[1]:
                    wide[path] = (*sizes, page.evaluate(OVERFLOWING))
                if page.locator("svg text").count():
                    smallest = page.evaluate(SMALLEST_LABEL)
                    if smallest < 12:
                        small[path] = smallest
                screenshot(page, _name(role, lang, path))

            visited[lang] = crawl_private(page, url, lang, visit)
    finally:
        context.close()
    print(f"{role}: {sum(map(len, visited.values()))} pages in {time.monotonic() - started:.1f} s")
    expected = {"author": ("/workspace/algorithms/new", "/versions/new", "/workspace/tokens", "/notifications",
                           "/workspace/algorithms/cartographie-insuffisance-renale/1.0.0-rc.1"),  # the draft editor
                "evaluator": ("/workspace/datasets", "/workspace/datasets/new", "/workspace/audits",
                              "/workspace/audits/new", "/workspace/jobs/", "/workspace/requests"),
                "admin": ("/admin/users", "/admin/audit-log", "/admin/reports")}[role]
    for lang, paths in visited.items():
        for part in expected:
            assert any(part in p for p in paths), (role, lang, part, paths)
    assert wide == {}
    assert small == {}
