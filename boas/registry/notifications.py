"""In-app notifications and their e-mails: ``notify(session, recipients, kind, params)`` for any service.

How to add a kind (a scheduled re-audit's "verdict changed", say):
1. add an entry to ``KINDS``: its title and body as ``_l("...")`` templates with ``%(name)s`` placeholders,
   and the path it links to (a template over the same parameters);
2. run the Babel extraction and translate the two templates in ``messages.po`` (French typography);
3. call ``notify(session, users, "your_kind", {...})`` inside the service's write transaction, before its
   commit. The parameters must be JSON values and must fill every placeholder (checked at once).

What is stored is the kind and its parameters, never a rendered sentence: users have no language
preference, so a notification is rendered when it is read, in the language of the page (``render``
with Flask-Babel's ``gettext``), and e-mails are written in French then English from the same
catalogue. Parameters that are themselves vocabulary (an outcome, a job status) are translated too
(``VOCABULARY``). E-mails are queued on the session and sent only after it commits
(``boas.registry.mail``); a rollback drops them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from boas.registry import permissions
from boas.registry.mail import Mail, Mailer
from registry_db import store
from registry_db.errors import NotFound
from registry_db.models import Notification, User

log = logging.getLogger(__name__)
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
MAILER_KEY = "boas.mailer"  # Session.info key of the process's Mailer (set by boas.runtime)
BASE_URL_KEY = "boas.base_url"  # Session.info key of the public base URL e-mails link to
_OUTBOX_KEY = "boas.mail_outbox"
_HOOKED_KEY = "boas.mail_hooked"
LIST_LIMIT = 100


def _l(message: str) -> str:
    """Marks a template for extraction (``pybabel -k _l``); it is translated when rendered."""
    return message


@dataclass(frozen=True)
class Kind:
    """A notification kind: title and body templates, and the site path it links to."""

    title: str
    body: str
    path: str


KINDS: dict[str, Kind] = {
    "audit_requested": Kind(
        _l("Audit requested: %(algorithm_name)s %(version)s"),
        _l("The owners of %(algorithm_name)s ask for an independent audit of version %(version)s. "
           "It is in the queue of audit requests."),
        "/workspace/requests"),
    "request_claimed": Kind(
        _l("Audit request taken: %(algorithm_name)s %(version)s"),
        _l("%(evaluator)s took your audit request for version %(version)s of %(algorithm_name)s."),
        "/workspace/algorithms/%(algorithm)s/%(version)s"),
    "audit_finished": Kind(
        _l("Audit finished: %(algorithm_name)s %(version)s"),
        _l("The audit no. %(job)s of version %(version)s of %(algorithm_name)s by %(evaluator)s has %(status)s. "
           "Outcome: %(outcome)s."),
        "/workspace/jobs/%(job)s"),
    "request_declined": Kind(
        _l("Audit request declined: %(algorithm_name)s %(version)s"),
        _l("%(evaluator)s declined your audit request for version %(version)s of %(algorithm_name)s. "
           "Reason: %(reason)s"),
        "/workspace/algorithms/%(algorithm)s/%(version)s"),
    "verdict_changed": Kind(
        _l("Verdict changed: %(algorithm_name)s %(version)s"),
        _l("The scheduled re-audit no. %(job)s of version %(version)s of %(algorithm_name)s changed "
           "%(changes)s verdicts since the previous run, %(to_fail)s of them to a failure. "
           "The card shows the trend."),
        "/algorithms/%(algorithm)s/%(version)s"),
}
# Parameter values that are words of the interface, by parameter, translated when rendered.
VOCABULARY: dict[str, dict[str, str]] = {
    "status": {"succeeded": _l("succeeded"), "failed": _l("failed")},
    "outcome": {"passed": _l("within tolerance"), "failed": _l("disparity outside tolerance"),
                "insufficient": _l("insufficient evidence"), "not_audited": _l("no result")},
}


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    path: str


def _fill(template: str, params: dict[str, Any]) -> str:
    return template % params


def render(kind: str, params: dict[str, Any], gettext: Callable[[str], str]) -> Rendered:
    """A notification in the language of ``gettext`` (a plain msgid -> msgstr function)."""
    spec = KINDS.get(kind)
    if spec is None:  # a kind removed since: still listed, never an error page
        return Rendered(kind, "", "/notifications")
    shown = {key: gettext(VOCABULARY[key][value]) if key in VOCABULARY and value in VOCABULARY[key] else value
             for key, value in params.items()}
    return Rendered(_fill(gettext(spec.title), shown), _fill(gettext(spec.body), shown), _fill(spec.path, params))


@cache
def _translations(lang: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS), [lang]) if lang != "en" else NullTranslations()


def _check_params(kind: str, params: dict[str, Any]) -> None:
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown notification kind {kind!r}: add it to KINDS")
    _fill(spec.title + spec.body + spec.path, params)  # KeyError names a missing parameter


def notify(session: Session, recipients: Iterable[User], kind: str, params: dict[str, Any]) -> list[Notification]:
    """Store one notification per active recipient and queue its e-mail for after the commit; no commit here.

    Call it inside the caller's write transaction: the notifications are written, and mailed, only if
    the change they announce is committed.
    """
    _check_params(kind, params)
    users = list({user.id: user for user in recipients if user.active}.values())
    rows = [Notification(user_id=user.id, kind=kind, params=dict(params)) for user in users]
    store.add_notifications(session, rows)
    _queue_mails(session, [_mail(session, user, kind, params) for user in users])
    return rows


def _mail(session: Session, user: User, kind: str, params: dict[str, Any]) -> Mail:
    french = render(kind, params, _translations("fr").gettext)
    english = render(kind, params, _translations("en").gettext)
    url = str(session.info.get(BASE_URL_KEY, "")).rstrip("/") + english.path
    body = f"{french.body}\n{url}\n\n—\n\n{english.body}\n{url}\n"
    return Mail(recipient_id=user.id, to=user.email, subject=f"[BOAS] {french.title} / {english.title}", body=body,
                kind=kind)


def _queue_mails(session: Session, mails: list[Mail]) -> None:
    session.info.setdefault(_OUTBOX_KEY, []).extend(mails)
    if not session.info.get(_HOOKED_KEY):
        event.listen(session, "after_commit", _send_outbox)
        event.listen(session, "after_soft_rollback", _drop_outbox)
        session.info[_HOOKED_KEY] = True


def _send_outbox(session: Session) -> None:
    """After the commit: hand the queued mails to the mailer; a failure is logged (by the mailer), never raised."""
    mails = session.info.pop(_OUTBOX_KEY, [])
    if not mails:
        return
    mailer = session.info.get(MAILER_KEY) or Mailer(None)
    try:
        mailer.send(mails)
    except Exception:
        log.warning("sending %s notification e-mail(s) failed", len(mails), exc_info=True)


def _drop_outbox(session: Session, previous_transaction: SessionTransaction) -> None:
    if not previous_transaction.nested:  # a savepoint's rollback leaves the transaction (and its mails) alive
        session.info.pop(_OUTBOX_KEY, None)


# -- reading ---------------------------------------------------------------------------------


def list_notifications(session: Session, actor: User | None, *, unread_only: bool = False) -> list[Notification]:
    """The actor's latest notifications, newest first."""
    user = permissions.require_user(actor)
    return list(store.list_notifications(session, user.id, limit=LIST_LIMIT, unread_only=unread_only))


def unread_count(session: Session, actor: User | None) -> int:
    """How many notifications the actor has not read (0 for visitors: the header shows nothing)."""
    if actor is None or not actor.active:
        return 0
    return store.count_unread(session, actor.id)


def mark_read(session: Session, actor: User | None, notification_id: int | None) -> int:
    """Mark one notification (or all, with None) of the actor read; another user's is a 404, not a 403."""
    user = permissions.require_user(actor)
    store.begin_write(session)
    if notification_id is not None and store.get_notification(session, notification_id).user_id != user.id:
        raise NotFound(f"notification {notification_id} not found")
    changed = store.mark_read(session, user.id, notification_id)
    session.commit()
    return changed
