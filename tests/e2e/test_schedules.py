"""Scheduled re-audits through the API and the in-process queue, with a clock the tests advance (never sleep)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest

from audits.synth import BiasSpec, generate_cohort
from tests.e2e.test_audits_api import _rule_based_version, upload_dataset, upload_predictions
from tests.e2e.test_versions_api import assert_error

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class Clock:
    """The runtime's clock in these tests: moved by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(live) -> Clock:
    found = Clock(T0)
    live.extensions["boas"] = dataclasses.replace(live.extensions["boas"], clock=found)
    return found


def tick(live, at: datetime) -> None:
    """One scheduler tick "as of" ``at``, through the app's queue (in-process here: immediate jobs)."""
    live.extensions["boas"].enqueue_tick(at.isoformat())


def run_ids(client, headers, schedule_id: int) -> list[int]:
    return [r["job"] for r in client.get(f"/api/v1/schedules/{schedule_id}", headers=headers).get_json()["runs"]]


def _published_with_data(client, live_account, rows=4000, seed=4):
    _, evaluator = live_account("evaluator")
    _, author = live_account("author")
    slug = _rule_based_version(client, author)
    frame = generate_cohort(rows, seed=seed)
    dataset = upload_dataset(client, evaluator, frame).get_json()
    predictions = upload_predictions(client, evaluator, dataset["id"], slug, frame).get_json()
    published = client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/publish", headers=author)
    assert published.status_code == 200, published.get_json()
    audit = {
        "kind": "bias",
        "algorithm": slug,
        "version": "1.0.0",
        "dataset": dataset["id"],
        "predictions": predictions["id"],
        "sensitive_features": ["sex"],
        "reference_group": {"sex": "M"},
        "n_boot": 50,
        "seed": 3,
    }
    return slug, evaluator, author, audit


def test_schedules_are_validated_field_by_field_with_the_launch_rules(live_client, live_account, clock):
    _slug, evaluator, author, audit = _published_with_data(live_client, live_account, rows=600)
    body = assert_error(
        live_client.post("/api/v1/schedules", headers=evaluator, json={"audit": audit, "period": "days"}), 422
    )
    assert "every_days" in body["errors"]
    body = assert_error(
        live_client.post(
            "/api/v1/schedules",
            headers=evaluator,
            json={"audit": audit, "period": "days", "every_days": 400, "grace_days": -1},
        ),
        422,
    )
    assert {"every_days", "grace_days"} <= set(body["errors"])
    body = assert_error(
        live_client.post(
            "/api/v1/schedules",
            headers=evaluator,
            json={"audit": {**audit, "sensitive_features": ["ethnicity"]}, "period": "monthly"},
        ),
        422,
    )
    assert "audit.sensitive_features" in body["errors"]
    body = assert_error(
        live_client.post(
            "/api/v1/schedules",
            headers=evaluator,
            json={
                "audit": audit,
                "period": "monthly",
                "starts_at": "2027-01-01T00:00:00+00:00",
                "ends_at": "2026-01-01T00:00:00+00:00",
            },
        ),
        422,
    )
    assert "ends_at" in body["errors"]
    # separation of duties: the algorithm's author may not schedule its audit
    assert_error(live_client.post("/api/v1/schedules", headers=author, json={"audit": audit, "period": "monthly"}), 403)
    assert_error(live_client.post("/api/v1/schedules", json={"audit": audit, "period": "monthly"}), 401)
    assert live_client.get("/api/v1/schedules", headers=evaluator).get_json() == []


def test_an_owner_organisation_member_cannot_schedule_its_audit(live, live_client, live_account, clock):
    from boas.registry import accounts

    with live.extensions["boas"].session_factory() as s:
        accounts.create_organisation(s, None, slug="labo-x", name="Labo X", kind="research_body", bootstrap=True)
    _, author = live_account("author", organisation="labo-x")
    _, colleague = live_account("evaluator", organisation="labo-x")
    _, evaluator = live_account("evaluator")
    slug = _rule_based_version(live_client, author)
    frame = generate_cohort(600, seed=2)
    dataset = upload_dataset(live_client, evaluator, frame).get_json()
    predictions = upload_predictions(live_client, evaluator, dataset["id"], slug, frame).get_json()
    assert live_client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/publish", headers=author).status_code == 200
    audit = {
        "kind": "bias",
        "algorithm": slug,
        "version": "1.0.0",
        "dataset": dataset["id"],
        "predictions": predictions["id"],
        "sensitive_features": ["sex"],
        "n_boot": 0,
    }
    assert_error(
        live_client.post("/api/v1/schedules", headers=colleague, json={"audit": audit, "period": "monthly"}), 403
    )
    assert (
        live_client.post("/api/v1/schedules", headers=evaluator, json={"audit": audit, "period": "monthly"}).status_code
        == 201
    )


def test_a_draft_version_cannot_be_scheduled(live_client, live_account, clock):
    _, evaluator = live_account("evaluator")
    _, author = live_account("author")
    slug = _rule_based_version(live_client, author)
    frame = generate_cohort(600, seed=2)
    dataset = upload_dataset(live_client, evaluator, frame).get_json()
    predictions = upload_predictions(live_client, evaluator, dataset["id"], slug, frame).get_json()
    body = assert_error(
        live_client.post(
            "/api/v1/schedules",
            headers=evaluator,
            json={
                "period": "monthly",
                "audit": {
                    "kind": "bias",
                    "algorithm": slug,
                    "version": "1.0.0",
                    "dataset": dataset["id"],
                    "predictions": predictions["id"],
                    "sensitive_features": ["sex"],
                },
            },
        ),
        422,
    )
    assert "audit.version" in body["errors"]


def test_a_verdict_change_between_scheduled_runs_is_recorded_and_shown_on_the_trend(
    live, live_client, live_account, clock
):
    slug, evaluator, author, audit = _published_with_data(live_client, live_account)
    created = live_client.post(
        "/api/v1/schedules",
        headers=evaluator,
        json={"audit": audit, "period": "days", "every_days": 30, "starts_at": T0.isoformat(), "grace_days": 3},
    )
    assert created.status_code == 201, created.get_json()
    schedule = created.get_json()
    assert schedule["next_slot"].startswith("2026-12-01T08:00")

    tick(live, T0 - timedelta(minutes=1))
    assert run_ids(live_client, evaluator, schedule["id"]) == []  # not due yet
    tick(live, T0)
    first = run_ids(live_client, evaluator, schedule["id"])
    tick(live, T0 + timedelta(hours=1))
    assert len(first) == 1 and run_ids(live_client, evaluator, schedule["id"]) == first  # a slot runs once
    run1 = live_client.get(f"/api/v1/audits/{first[0]}", headers=evaluator).get_json()
    assert run1["status"] == "succeeded" and run1["provenance"]["dataset"]["id"] == audit["dataset"]

    # A refreshed extraction, uploaded under the same name, in which women are now under-selected
    frame = generate_cohort(4000, seed=4, bias=BiasSpec("sex", "F", 0.5))
    refreshed = upload_dataset(live_client, evaluator, frame).get_json()
    upload_predictions(live_client, evaluator, refreshed["id"], slug, frame)
    tick(live, clock.advance(days=30))
    second = run_ids(live_client, evaluator, schedule["id"])[1:]
    assert len(second) == 1
    run2 = live_client.get(f"/api/v1/audits/{second[0]}", headers=evaluator).get_json()
    assert run2["status"] == "succeeded" and run2["provenance"]["dataset"]["id"] == refreshed["id"]

    detail = live_client.get(f"/api/v1/schedules/{schedule['id']}", headers=evaluator).get_json()
    assert [r["job"] for r in detail["runs"]] == [first[0], second[0]]
    change = detail["runs"][1]["verdict_change"]
    assert change["previous_job"] == first[0]
    assert any(c["feature"] == "sex" and c["group"] == "F" and c["to"] == "fail" for c in change["changes"])
    events = live_client.get(
        "/api/v1/audit-log", query_string={"object_ref": str(second[0])}, headers=live_account("admin")[1]
    ).get_json()["items"]
    assert "schedule.verdict_changed" in [e["action"] for e in events]
    for reader in (author, evaluator):  # the owner and the schedule's evaluator are told, once
        told = [n for n in live_client.get("/api/v1/notifications", headers=reader).get_json()["items"]
                if n["kind"] == "verdict_changed"]
        assert len(told) == 1 and told[0]["params"]["job"] == second[0], told
        assert told[0]["params"]["to_fail"] >= 1 and told[0]["path"] == f"/algorithms/{slug}/1.0.0"

    trend = live_client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/trend").get_json()  # the public's view
    series = [s for s in trend["series"] if s["feature"] == "sex"]
    assert series and all(len(s["points"]) == 2 for s in series)
    female = [s for s in series if s["group"] == "F"]
    assert female and any(p["verdict_change"] for p in female[0]["points"])
    point = female[0]["points"][1]
    assert point["verdict"] == "fail" and point["ci_low"] < point["value"] < point["ci_high"]

    page = live_client.get(f"/en/algorithms/{slug}/1.0.0")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="trend"' in html and "Verdict changed" in html
    assert "<svg" in html.split('id="trend"', 1)[1]


def test_two_schedulers_ticking_at_once_enqueue_a_slot_once(live, live_client, live_account, clock):
    from audits.scheduling import enqueue_due_runs

    _slug, evaluator, _author, audit = _published_with_data(live_client, live_account, rows=600)
    live_client.post(
        "/api/v1/schedules",
        headers=evaluator,
        json={"audit": {**audit, "n_boot": 0}, "period": "monthly", "starts_at": T0.isoformat()},
    )
    factory, queued = live.extensions["boas"].session_factory, []
    barrier, results = threading.Barrier(4), []

    def worker():
        with factory() as session:
            barrier.wait()
            results.append(enqueue_due_runs(session, queued.append, now=T0 + timedelta(days=1)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    launched = [job for found in results for job in found]
    assert len(results) == 4 and len(launched) == 1, results
    assert len(queued) <= 1


def test_a_lapsed_schedule_makes_the_card_to_review_in_the_api_the_pages_and_the_feed(
    live, live_client, live_account, clock
):
    slug, evaluator, _author, audit = _published_with_data(live_client, live_account, rows=600)
    api = f"/api/v1/algorithms/{slug}/versions/1.0.0/staleness"
    assert live_client.get(api).get_json() == {"to_review": False, "next_review": "2027-03-31", "reasons": []}
    fresh_page = live_client.get(f"/en/algorithms/{slug}/1.0.0").get_data(as_text=True)
    assert "To review" not in fresh_page
    # The schedule's evaluator leaves (account deactivated): its first run is refused at launch, so the
    # schedule never succeeds within its period and grace.
    created = live_client.post(
        "/api/v1/schedules",
        headers=evaluator,
        json={"audit": {**audit, "n_boot": 0}, "period": "monthly", "starts_at": T0.isoformat(), "grace_days": 2},
    )
    assert created.status_code == 201
    _deactivate_latest_evaluator(live)
    tick(live, clock.advance(hours=1))
    admin = live_account("admin")[1]
    runs = live_client.get(f"/api/v1/schedules/{created.get_json()['id']}", headers=admin).get_json()["runs"]
    assert [r["status"] for r in runs] == ["failed"]  # refused at launch, recorded for its slot
    assert live_client.get(api).get_json()["to_review"] is False  # within the grace period
    clock.advance(days=2)
    staleness = live_client.get(api).get_json()
    assert staleness["to_review"] is True and staleness["reasons"][0]["code"] == "reaudit_overdue"

    page = live_client.get(f"/en/algorithms/{slug}/1.0.0")
    html = page.get_data(as_text=True)
    assert "To review" in html and 'class="badge to-review"' in html
    french = live_client.get(f"/fr/algorithms/{slug}/1.0.0").get_data(as_text=True)
    assert "À revoir" in french and "Un réaudit programmé n’a pas abouti à temps" in french
    listed = live_client.get("/api/v1/algorithms", query_string={"to_review": "true"}).get_json()
    assert [a["slug"] for a in listed["items"]] == [slug] and listed["to_review"] == [slug]
    others = live_client.get("/api/v1/algorithms", query_string={"to_review": "false"}).get_json()
    assert slug not in [a["slug"] for a in others["items"]]
    catalogue = live_client.get("/en/algorithms", query_string={"to_review": "yes"}).get_data(as_text=True)
    assert f"/en/algorithms/{slug}" in catalogue and "To review" in catalogue
    feed = live_client.get("/en/to-review.atom")
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    assert f"/algorithms/{slug}/1.0.0" in feed.get_data(as_text=True)


def test_a_lapsed_review_date_is_never_served_fresh_from_the_page_cache(live, live_client, live_account, clock):
    slug, *_ = _published_with_data(live_client, live_account, rows=600)
    url = f"/en/algorithms/{slug}/1.0.0"
    assert "To review" not in live_client.get(url).get_data(as_text=True)  # cached as current
    clock.now = datetime(2027, 4, 1, tzinfo=UTC)  # the declared review date, 2027-03-31, has passed
    html = live_client.get(url).get_data(as_text=True)
    assert "To review" in html
    staleness = live_client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0/staleness").get_json()
    assert staleness["reasons"] == [{"code": "review_date_passed", "date": "2027-03-31"}]
    feed = live_client.get("/en/to-review.atom").get_data(as_text=True)
    assert f"/algorithms/{slug}/1.0.0" in feed


def _deactivate_latest_evaluator(live):
    from sqlalchemy import select, update

    from registry_db.models import Role, User

    with live.extensions["boas"].session_factory() as s:
        last = s.execute(select(User.id).where(User.role == Role.EVALUATOR).order_by(User.id.desc())).scalar()
        s.execute(update(User).where(User.id == last).values(active=False))
        s.commit()


def test_only_its_creator_or_an_admin_stops_a_schedule_and_a_stopped_schedule_never_runs(
    live, live_client, live_account, clock
):
    _slug, evaluator, author, audit = _published_with_data(live_client, live_account, rows=600)
    created = live_client.post(
        "/api/v1/schedules",
        headers=evaluator,
        json={"audit": {**audit, "n_boot": 0}, "period": "quarterly", "starts_at": T0.isoformat()},
    ).get_json()
    assert_error(live_client.get("/api/v1/schedules", headers=author), 403)
    _, other = live_account("evaluator")
    assert_error(live_client.post(f"/api/v1/schedules/{created['id']}/stop", headers=other), 403)
    stopped = live_client.post(f"/api/v1/schedules/{created['id']}/stop", headers=evaluator).get_json()
    assert stopped["active"] is False and stopped["next_slot"] is None
    tick(live, T0 + timedelta(days=1))
    assert run_ids(live_client, evaluator, created["id"]) == []
