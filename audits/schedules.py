"""Re-audit calendars and verdict changes: pure functions of (schedule, last run, now), no DB, no clock.

The caller passes ``now``, so workers use the wall clock and tests advance a clock instead of sleeping.
A schedule's *slots* are the moments a run is due: ``starts_at`` plus whole periods (calendar months for
monthly and quarterly, the last day of a shorter month standing in for a missing day; N days otherwise),
never after ``ends_at``. Runs missed while no worker ticked are not replayed one by one: the latest due
slot stands for them, because an audit of today's data says more than several audits of it at once.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

PERIODS = ("monthly", "quarterly", "days")
MIN_EVERY_DAYS, MAX_EVERY_DAYS = 1, 366
MAX_GRACE_DAYS = 90
MAX_SPAN_DAYS = 10 * 366  # a schedule ends within ten years of its start
MAX_SLOTS_WALKED = 200_000  # bounds the walk for any valid schedule (ten years of daily slots is 3,660)


@dataclass(frozen=True)
class Calendar:
    """When a schedule is due: its period, start, optional end and grace (days a run may take)."""

    period: str
    starts_at: datetime
    every_days: int | None = None
    ends_at: datetime | None = None
    grace_days: int = 7

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"unknown period {self.period!r}")
        if self.period == "days" and not (self.every_days and MIN_EVERY_DAYS <= self.every_days <= MAX_EVERY_DAYS):
            raise ValueError("a period in days needs every_days between 1 and 366")


def _add_months(moment: datetime, months: int) -> datetime:
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def slot(cal: Calendar, index: int) -> datetime:
    """The ``index``-th slot (0 is the start)."""
    if cal.period == "days":
        return cal.starts_at + timedelta(days=(cal.every_days or 1) * index)
    return _add_months(cal.starts_at, index * (1 if cal.period == "monthly" else 3))


def period_length(cal: Calendar) -> timedelta:
    """The nominal length of a period (a quarter counts 92 days): how long a run's result stays current."""
    return (
        timedelta(days=cal.every_days or 1)
        if cal.period == "days"
        else timedelta(days=31 if cal.period == "monthly" else 92)
    )


def latest_slot(cal: Calendar, now: datetime) -> datetime | None:
    """The last slot at or before ``now`` (within the schedule's end); None before the start."""
    if now < cal.starts_at:
        return None
    last_allowed = min(now, cal.ends_at) if cal.ends_at is not None else now
    if cal.period == "days":
        index = int((last_allowed - cal.starts_at) // timedelta(days=cal.every_days or 1))
    else:
        step = 1 if cal.period == "monthly" else 3
        months = (last_allowed.year - cal.starts_at.year) * 12 + last_allowed.month - cal.starts_at.month
        index = max(0, months // step + 1)
        while index > 0 and slot(cal, index) > last_allowed:  # at most two steps back
            index -= 1
    found = slot(cal, index)
    return found if found <= last_allowed else None


def due_slot(cal: Calendar, last_slot: datetime | None, now: datetime) -> datetime | None:
    """The slot to run now, or None: the latest slot at or before ``now`` that has no run yet."""
    latest = latest_slot(cal, now)
    if latest is None or (last_slot is not None and latest <= last_slot):
        return None
    return latest


def next_slot(cal: Calendar, now: datetime) -> datetime | None:
    """The first slot after ``now`` (None once the schedule has ended)."""
    latest = latest_slot(cal, now)
    if latest is None:
        candidate = cal.starts_at
    else:
        index = 0
        while slot(cal, index) <= latest and index < MAX_SLOTS_WALKED:
            index += 1
        candidate = slot(cal, index)
    if cal.ends_at is not None and candidate > cal.ends_at:
        return None
    return candidate


def overdue_since(cal: Calendar, last_success_slot: datetime | None, now: datetime) -> datetime | None:
    """When the schedule lapsed, or None: a due slot has had no successful run within the grace period.

    The slot a success counts for is the slot of its run. A schedule whose end has passed is not lapsed
    as long as its last slot succeeded.
    """
    latest = latest_slot(cal, now)
    if latest is None or (last_success_slot is not None and last_success_slot >= latest):
        return None
    deadline = latest + timedelta(days=cal.grace_days)
    return deadline if now >= deadline else None


# -- verdict changes ------------------------------------------------------------------------------


def _verdicts(result: dict[str, Any] | None) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(feature, group key, metric) -> the judged comparison, as ``audits.verdicts`` wrote it."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for feature in (result or {}).get("features") or []:
        for disparity in feature.get("disparities") or []:
            key = (feature["name"], disparity.get("key") or disparity["group"], disparity["metric"])
            found[key] = {"group": disparity["group"], "verdict": disparity.get("verdict")}
    return found


def _drift_verdicts(result: dict[str, Any] | None) -> dict[tuple[str, str, str], dict[str, Any]]:
    """("drift", column, test) -> drifted or not; the dataset as a whole under the column "*"."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for column in (result or {}).get("columns") or []:
        if isinstance(column, dict) and "drifted" in column:
            name = str(column.get("column", ""))
            found[("drift", name, "drift")] = {"group": name, "verdict": "drift" if column["drifted"] else "no_drift"}
    if result and "dataset_drifted" in result:
        found[("drift", "*", "dataset_drift")] = {
            "group": "*",
            "verdict": "drift" if result["dataset_drifted"] else "no_drift",
        }
    return found


def verdict_changes(kind: str, previous: dict[str, Any] | None, current: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every comparison whose verdict differs between two runs (pass → fail, ...), in a stable order.

    Bias audits compare per feature, group and metric (``verdict`` of each disparity); drift reports
    per column (drifted or not) and for the dataset as a whole. A comparison present in only one run
    is a change from or to ``None``.
    """
    read = _verdicts if kind == "bias" else _drift_verdicts
    before, after = read(previous), read(current)
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = (before.get(key) or {}).get("verdict"), (after.get(key) or {}).get("verdict")
        if old != new:
            label = (after.get(key) or before.get(key) or {}).get("group")
            changes.append({"feature": key[0], "group": label, "key": key[1], "metric": key[2], "from": old, "to": new})
    return changes
