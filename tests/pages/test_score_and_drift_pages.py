"""The drift table shows the missing-share test; evaluators read score tables. In French and English."""

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


def test_evaluators_read_score_tables_that_the_public_card_does_not_show(signed_in, site_app, content):
    evaluator = signed_in("evaluator")
    french = html.unescape(evaluator.get(f"/fr/workspace/jobs/{content.job_id}").get_data(as_text=True))
    english = html.unescape(evaluator.get(f"/en/workspace/jobs/{content.job_id}").get_data(as_text=True))
    card = html.unescape(site_app.test_client().get(f"/en/algorithms/{content.rule_slug}/1.0.0").get_data(as_text=True))

    assert "Calibration et discrimination par groupe" in french and "Scores selon sex" in french
    assert "Pente de calibration" in french and re.search(r"<td>0,\d{3} \[0,\d{3} – \d,\d{3}\]</td>", french)
    assert "Calibration and discrimination by group" in english and "Scores by region" in english
    assert "Calibration and discrimination by group" not in card  # the public view withholds result.scores
    assert "Disparities within tolerance" in card  # while the audit itself is on the card
