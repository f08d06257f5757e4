"""Due slots, lapses and verdict changes: pure functions of (schedule, last run, now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audits.schedules import Calendar, due_slot, latest_slot, next_slot, overdue_since, verdict_changes

START = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


def test_monthly_slots_keep_the_day_and_fall_back_to_the_last_day_of_short_months():
    cal = Calendar("monthly", START)
    assert latest_slot(cal, datetime(2026, 3, 1, tzinfo=UTC)) == datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    assert latest_slot(cal, datetime(2026, 3, 31, 9, 0, tzinfo=UTC)) == datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
    assert latest_slot(cal, datetime(2026, 3, 31, 8, 59, tzinfo=UTC)) == datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    assert next_slot(cal, datetime(2026, 4, 1, tzinfo=UTC)) == datetime(2026, 4, 30, 9, 0, tzinfo=UTC)


def test_quarterly_and_daily_slots():
    quarterly = Calendar("quarterly", START)
    assert latest_slot(quarterly, datetime(2026, 7, 1, tzinfo=UTC)) == datetime(2026, 4, 30, 9, 0, tzinfo=UTC)
    daily = Calendar("days", START, every_days=10)
    assert latest_slot(daily, START + timedelta(days=25)) == START + timedelta(days=20)
    assert next_slot(daily, START + timedelta(days=25)) == START + timedelta(days=30)


def test_nothing_is_due_before_the_start_or_after_the_end():
    cal = Calendar("days", START, every_days=7, ends_at=START + timedelta(days=15))
    assert due_slot(cal, None, START - timedelta(seconds=1)) is None
    assert due_slot(cal, None, START) == START
    assert due_slot(cal, None, START + timedelta(days=400)) == START + timedelta(days=14)
    assert next_slot(cal, START + timedelta(days=14)) is None


def test_a_slot_is_due_once_and_missed_slots_collapse_into_the_latest():
    cal = Calendar("monthly", START)
    now = datetime(2026, 6, 15, tzinfo=UTC)
    slot = due_slot(cal, datetime(2026, 2, 28, 9, 0, tzinfo=UTC), now)
    assert slot == datetime(2026, 5, 31, 9, 0, tzinfo=UTC)  # March and April are not replayed
    assert due_slot(cal, slot, now) is None
    assert due_slot(cal, slot, datetime(2026, 6, 30, 9, 0, tzinfo=UTC)) == datetime(2026, 6, 30, 9, 0, tzinfo=UTC)


def test_a_schedule_lapses_when_its_due_slot_has_no_success_within_the_grace():
    cal = Calendar("days", START, every_days=30, grace_days=5)
    slot = START + timedelta(days=30)
    assert overdue_since(cal, START, slot + timedelta(days=4)) is None  # still within grace
    assert overdue_since(cal, START, slot + timedelta(days=5)) == slot + timedelta(days=5)
    assert overdue_since(cal, slot, slot + timedelta(days=20)) is None  # that slot succeeded
    assert overdue_since(cal, None, START + timedelta(days=4)) is None


def test_invalid_calendars_are_refused():
    with pytest.raises(ValueError):
        Calendar("weekly", START)
    with pytest.raises(ValueError):
        Calendar("days", START, every_days=0)


def _bias(verdicts: dict[str, str]) -> dict:
    return {
        "features": [
            {
                "name": "sex",
                "disparities": [
                    {"group": group, "key": f'{{"sex":"{group}"}}', "metric": "selection_rate", "verdict": verdict}
                    for group, verdict in verdicts.items()
                ],
            }
        ]
    }


def test_verdict_changes_are_listed_per_feature_group_and_metric():
    before, after = _bias({"F": "pass", "X": "pass"}), _bias({"F": "fail", "X": "pass"})
    changes = verdict_changes("bias", before, after)
    assert changes == [
        {"feature": "sex", "group": "F", "key": '{"sex":"F"}', "metric": "selection_rate", "from": "pass", "to": "fail"}
    ]
    assert verdict_changes("bias", after, after) == []


def test_drift_changes_per_column_and_for_the_dataset():
    before = {"columns": [{"column": "age", "drifted": False}], "dataset_drifted": False}
    after = {"columns": [{"column": "age", "drifted": True}], "dataset_drifted": True}
    changes = verdict_changes("drift", before, after)
    assert {(c["group"], c["from"], c["to"]) for c in changes} == {
        ("age", "no_drift", "drift"),
        ("*", "no_drift", "drift"),
    }
