"""axe-core (bundled by axe-playwright-python) finds no serious or critical WCAG 2.1 AA violation on key pages."""

from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.browser.conftest import ROOT, sign_in

RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
         "resultTypes": ["violations"]}
REPORT = ROOT / "test-artifacts" / "a11y.json"


def _pages(server):
    content = server.content
    return {
        "home": (None, "/fr/"),
        "catalogue": (None, "/en/algorithms?clinical_domain=diabetes"),
        "card": (None, f"/fr/algorithms/{content.rule_slug}/1.0.0"),
        "card-en": (None, f"/en/algorithms/{content.ml_slug}/1.2.0"),
        "upload": ("author", f"/fr/workspace/algorithms/{content.ml_slug}/versions/new"),
        "draft-editor": ("author", f"/fr/workspace/algorithms/{content.ml_slug}/2.0.0-rc.1"),
        "dataset-upload": ("evaluator", "/en/workspace/datasets/new"),
    }


@pytest.mark.parametrize("name", ["home", "catalogue", "card", "card-en", "upload", "draft-editor", "dataset-upload"])
def test_no_serious_or_critical_violation(page, server, name):
    role, path = _pages(server)[name]
    if role:
        sign_in(page, server, role)
    page.goto(server.url + path)
    page.wait_for_load_state("load")
    results = Axe().run(page, options=RULES)
    violations = results.response["violations"]
    blocking = [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"][:3]]}
                for v in violations if v["impact"] in ("serious", "critical")]
    _record(name, path, violations)
    assert results.response["testEngine"]["name"] == "axe-core"
    assert blocking == [], blocking


def _record(name: str, path: str, violations: list[dict]) -> None:
    """Keep the findings (all impacts) in test-artifacts/a11y.json for the report."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    data[name] = {"path": path, "violations": [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
                                               for v in violations]}
    REPORT.write_text(json.dumps(data, indent=2, sort_keys=True))
