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


def test_score_tables_computed_from_histograms_say_so_with_their_resolution(site_app, tmp_path):
    """A streamed audit's score metrics come from histograms: the table says it, and at which resolution."""
    from flask import render_template

    from audits.fairness import BiasAuditParams
    from audits.score_histograms import histogram_score_metrics
    from audits.streaming import run_streaming_bias_audit
    from audits.synth import generate_cohort

    frame = generate_cohort(3_000, seed=2)
    frame.drop(columns=["prediction", "risk_score"]).to_parquet(tmp_path / "data.parquet", index=False)
    frame[["row_id", "prediction"]].assign(score=frame["risk_score"]).to_parquet(tmp_path / "pred.parquet")
    params = BiasAuditParams(sensitive_features=["sex"], n_boot=50, seed=1)
    result, streamed = run_streaming_bias_audit(tmp_path / "data.parquet", tmp_path / "pred.parquet",
                                                predictions_format="parquet", label="outcome", row_key="row_id",
                                                params=params, workdir=tmp_path, scores=True)
    scores = histogram_score_metrics(streamed.scores, streamed.coding.groupings, result, params)
    pages = {}
    for lang in ("fr", "en"):
        with site_app.test_request_context(f"/{lang}/workspace/jobs/1"):
            pages[lang] = html.unescape(render_template("pages/_scores.html", scores=scores, h=3))
    assert "Calculées à partir d’histogrammes des scores (pas de 0,001)\u202f:" in pages["fr"]
    assert "Computed from histograms of the scores (resolution 0.001): counts and the threshold sweep are exact" \
        in pages["en"]
    assert "Scores selon sex" in pages["fr"] and "Scores by sex" in pages["en"]
    in_memory = {**scores}
    del in_memory["method"]
    with site_app.test_request_context("/en/workspace/jobs/1"):
        assert "histograms" not in render_template("pages/_scores.html", scores=in_memory, h=3)
