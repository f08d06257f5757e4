"""notify(): rows in the caller's transaction, e-mails only after its commit, rendering in FR/EN at read time."""

from __future__ import annotations

import pytest

from boas.registry import notifications
from boas.registry.mail import Mail, Mailer
from registry_db.models import Notification

NNBSP = "\u202f"
PARAMS = {"request": 1, "algorithm": "algo", "algorithm_name": "Algo", "version": "1.0.0"}


class Outbox(Mailer):
    """A mailer that keeps what it is handed (the SMTP path itself is tested against a real server)."""

    def __init__(self):
        super().__init__(None)
        self.sent: list[Mail] = []

    def send(self, mails: list[Mail]) -> int:
        self.sent.extend(mails)
        return len(mails)


def test_mail_is_handed_over_after_commit_and_dropped_on_rollback(session, make_account):
    user, _ = make_account("evaluator")
    outbox = Outbox()
    session.info[notifications.MAILER_KEY] = outbox
    session.info[notifications.BASE_URL_KEY] = "https://boas.example.org/"
    rows = notifications.notify(session, [user, user], "audit_requested", PARAMS)
    assert len(rows) == 1 and outbox.sent == []  # nothing leaves before the commit
    session.commit()
    assert [m.recipient_id for m in outbox.sent] == [user.id]
    mail = outbox.sent[0]
    assert mail.to == user.email and "https://boas.example.org/workspace/requests" in mail.body
    assert f"Audit demandé{NNBSP}: Algo 1.0.0" in mail.subject and "Audit requested: Algo 1.0.0" in mail.subject

    notifications.notify(session, [user], "audit_requested", PARAMS)
    session.rollback()
    session.commit()
    assert len(outbox.sent) == 1  # the rolled-back notification was never mailed
    assert session.query(Notification).filter_by(user_id=user.id).count() == 1


def test_inactive_users_are_not_notified(session, make_account):
    user, _ = make_account("evaluator")
    user.active = False
    assert notifications.notify(session, [user], "audit_requested", PARAMS) == []


def test_a_kind_must_be_declared_and_its_parameters_complete(session, make_account):
    user, _ = make_account("author")
    with pytest.raises(ValueError, match="unknown notification kind"):
        notifications.notify(session, [user], "no_such_kind", PARAMS)
    with pytest.raises(KeyError, match="evaluator"):
        notifications.notify(session, [user], "request_claimed", PARAMS)


def test_rendering_translates_the_vocabulary_of_the_parameters():
    params = {**PARAMS, "job": 7, "status": "succeeded", "outcome": "failed", "evaluator": "Dr B"}
    english = notifications.render("audit_finished", params, str)
    assert "has succeeded" in english.body and "disparity outside tolerance" in english.body
    assert english.path == "/workspace/jobs/7"
    french = notifications.render("audit_finished", params, notifications._translations("fr").gettext)
    assert "a réussi" in french.body and f"Résultat{NNBSP}: écart hors tolérance" in french.body
    assert notifications.render("gone", {}, str).title == "gone"  # a kind removed since still lists
