"""Mail the in-process backend sends (offline messages, transcripts): kept in the store's outbox
first, then sent over SMTP (aiosmtplib) when `SMTP_URL` is set.

The outbox row is committed before any SMTP is tried, so nothing a visitor sent is lost when no
mail server is configured, or when it refuses; the row records when the mail went, or why not.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from app.backends.ids import Clock, IdGenerator
from app.backends.inprocess.widget_store import OutboxMail, WidgetStore

log = logging.getLogger("app.mail")

SMTP_TIMEOUT = 10.0  # seconds for one mail, connection included


class Mailer:
    """Keeps each mail in the outbox, and sends it when an SMTP server is configured."""

    def __init__(
        self,
        store: WidgetStore,
        *,
        smtp_url: str | None,
        sender: str,
        clock: Clock,
        new_id: IdGenerator,
    ) -> None:
        self._store = store
        self._smtp = urlsplit(smtp_url) if smtp_url else None
        if self._smtp is not None and self._smtp.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must be smtp:// or smtps://, not {smtp_url!r}")
        self._sender = sender
        self._clock = clock
        self._new_id = new_id

    async def send(
        self,
        kind: str,
        recipient: str | None,
        subject: str,
        body: str,
        reply_to: str | None = None,
    ) -> OutboxMail:
        """Keep the mail, then send it if there is a server and a recipient. An SMTP failure
        is logged and recorded on the outbox row; it does not fail the caller."""
        mail = OutboxMail(
            id=self._new_id(),
            ts=self._clock(),
            kind=kind,
            recipient=recipient,
            subject=subject,
            body=body,
            reply_to=reply_to,
        )
        await self._store.keep_mail(mail)
        if self._smtp is None or not recipient:
            return mail
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = recipient
        message["Subject"] = subject
        if reply_to:
            message["Reply-To"] = reply_to
        message.set_content(body)
        smtp = self._smtp
        try:
            await aiosmtplib.send(
                message,
                hostname=smtp.hostname or "localhost",
                port=smtp.port or (465 if smtp.scheme == "smtps" else 25),
                username=unquote(smtp.username) if smtp.username else None,
                password=unquote(smtp.password) if smtp.password else None,
                use_tls=smtp.scheme == "smtps",
                start_tls=False if smtp.scheme == "smtp" and not smtp.username else None,
                timeout=SMTP_TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            log.warning("mail %s (%s) was not sent: %s", mail.id, kind, error)
            await self._store.mail_done(mail.id, None, str(error) or type(error).__name__)
            return mail
        await self._store.mail_done(mail.id, self._clock(), None)
        return mail
