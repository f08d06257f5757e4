"""``boas audit-log``: check that the audit log's history has not been rewritten."""

from __future__ import annotations

import sys

import click

from boas.cli.common import refuse, session_scope
from boas.registry import audit_log
from registry_db.chain import format_time
from registry_db.errors import BoasError

BROKEN_EXIT = 3  # 1 and 2 are taken: the environment is wrong, the input was refused


@click.group("audit-log")
def audit_log_group() -> None:
    """The append-only audit log."""


@audit_log_group.command("verify")
@click.option(
    "--expect-head",
    default=None,
    metavar="HASH",
    help="a head hash anchored earlier (GET /api/v1/audit-log/head): it must still be in the chain",
)
@click.option(
    "--expect-count",
    default=None,
    type=int,
    metavar="N",
    help="an event count anchored earlier: the chain must still hold at least N events "
    "(with --expect-head, event N must be that head)",
)
def verify(expect_head: str | None, expect_count: int | None) -> None:
    """Walk the hash chain: print OK with the count and head hash, or the first broken link (exit 3).

    Only an anchor reveals a log cut at its tail; without one, a shorter intact chain passes.
    """
    with session_scope() as session:
        try:
            report = audit_log.verify_audit_log(session, expect_head=expect_head, expect_count=expect_count)
        except BoasError as exc:
            refuse(exc)
    if report.ok:
        if report.head_hash is None:
            click.echo("OK: the audit log is empty (0 events)")
        else:
            at = format_time(report.head_at) if report.head_at else "?"
            click.echo(f"OK: {report.count} events, head {report.head_hash} at position {report.count} ({at})")
        return
    broken = report.broken
    assert broken is not None
    where = f"event {broken.event_id}" if broken.event_id is not None else "the tail"
    click.echo(f"BROKEN at {where}, position {broken.seq}: {broken.problem.value}: {broken.detail}")
    click.echo(
        f"{report.count} events verified before the break"
        + (f", last good hash {report.head_hash}" if report.head_hash else "")
    )
    sys.exit(BROKEN_EXIT)


COMMANDS = (audit_log_group,)
