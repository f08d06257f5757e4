"""The drift table shows the missing-share test beside Evidently's, in French and English."""

from __future__ import annotations

import html
import re


def test_the_drift_table_shows_missing_shares_and_their_verdict(signed_in, content):
    evaluator = signed_in("evaluator")
    french = html.unescape(evaluator.get(f"/fr/workspace/jobs/{content.drift_job_id}").get_data(as_text=True))
    english = html.unescape(evaluator.get(f"/en/workspace/jobs/{content.drift_job_id}").get_data(as_text=True))

    assert "Valeurs manquantes (référence → actuel)" in french and "Dérive des valeurs manquantes" in french
    assert "test z de deux proportions" in french
    assert "Missing values (reference → current)" in english and "Missingness drift" in english
    assert "two-proportion z-test" in english
    # the cohort has no missing values; percentages in each locale's pattern (a no-break space in French)
    assert re.search(r"<td>0\s%\s→\s0\s%</td>", french) and "<td>0% → 0%</td>" in english
