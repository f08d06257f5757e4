"""Sending notification e-mails: through an SMTP server when one is configured, to the log otherwise.

Mail is sent after the database commit that produced it (``boas.registry.notifications`` queues it on
the session and sends it from an ``after_commit`` hook), never inside the transaction: a slow or
unreachable SMTP server must not hold the write lock, and a rolled-back change must not have mailed
anyone. A failed send is logged, never raised: the notification itself is already stored in-app.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 10.0  # seconds: an unreachable server delays one response by this much, at most


@dataclass(frozen=True)
class MailSettings:
    """An SMTP server (``BOAS_SMTP_*``); ``starttls`` upgrades the connection before authenticating."""

    host: str
    port: int
    sender: str
    user: str = ""
    password: str = ""
    starttls: bool = True


@dataclass(frozen=True)
class Mail:
    """One e-mail to one user; ``recipient_id`` is what the log names (no address, no content)."""

    recipient_id: int
    to: str
    subject: str
    body: str
    kind: str


class Mailer:
    """Sends mails through ``settings``' SMTP server, or logs them when ``settings`` is None."""

    def __init__(self, settings: MailSettings | None):
        self.settings = settings

    def send(self, mails: list[Mail]) -> int:
        """Send these mails over one connection; returns how many were accepted. Never raises."""
        if not mails:
            return 0
        if self.settings is None:
            for mail in mails:
                log.info("notification e-mail not sent (no SMTP server configured): kind=%s recipient_id=%s",
                         mail.kind, mail.recipient_id)
            return 0
        sent = 0
        try:
            with smtplib.SMTP(self.settings.host, self.settings.port, timeout=SMTP_TIMEOUT) as smtp:
                if self.settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.settings.user:
                    smtp.login(self.settings.user, self.settings.password)
                for mail in mails:
                    try:
                        smtp.send_message(self._message(mail))
                        sent += 1
                        log.info("notification e-mail sent: kind=%s recipient_id=%s", mail.kind, mail.recipient_id)
                    except smtplib.SMTPException as exc:
                        log.warning("notification e-mail refused: kind=%s recipient_id=%s (%s)", mail.kind,
                                    mail.recipient_id, type(exc).__name__)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("SMTP server %s:%s unavailable, %s notification e-mail(s) not sent (%s)",
                        self.settings.host, self.settings.port, len(mails) - sent, type(exc).__name__)
        return sent

    def _message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.sender if self.settings else ""
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        return message
