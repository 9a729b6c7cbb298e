"""Sending e-mail through the town's SMTP server (`SMTP_URL`, from `MAIL_FROM`).

One place builds and sends every e-mail the product writes: the e-mail channel's
answers to residents and the reports forwarded to other bodies. It is called from the
worker only (never inside a transaction): a send waits on another server.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from urllib.parse import unquote, urlsplit

SEND_TIMEOUT_SECONDS = 10


class MailConfigError(ValueError):
    """`SMTP_URL` or `MAIL_FROM` cannot be used; the message says why."""


class MailRefused(RuntimeError):
    """The server refused the message for good (a bad address): retrying will not help."""


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send, read from `SMTP_URL`."""

    host: str
    port: int
    security: str  # "plain", "tls" (smtps://) or "starttls"
    user: str = ""
    password: str = ""

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        security = {"smtp": "plain", "smtps": "tls", "smtp+starttls": "starttls"}.get(parts.scheme)
        if security is None or not parts.hostname:
            raise MailConfigError(
                "SMTP_URL must look like smtp://user:pass@host:port, smtps://… or smtp+starttls://…"
            )
        default_port = {"plain": 25, "tls": 465, "starttls": 587}[security]
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            security=security,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )


def mail_domain(sender: str) -> str:
    """The domain of `MAIL_FROM`, for Message-IDs (`localhost` when it has none)."""
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "localhost"


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    sender_name: str = "",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A plain-text e-mail (with an HTML alternative when given), ready to send."""
    message = EmailMessage()
    message["From"] = formataddr((sender_name, parseaddr(sender)[1])) if sender_name else sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id or make_msgid(domain=mail_domain(sender))
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    # Our own answers are automatic: other robots must not answer them (RFC 3834).
    message["Auto-Submitted"] = "auto-replied" if in_reply_to else "auto-generated"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send_message(smtp_url: str, message: EmailMessage) -> str:
    """Sends one message; returns its Message-ID.

    Raises MailRefused when the server refuses every recipient for good (5xx), and
    OSError / smtplib.SMTPException for what a retry may fix (the outbox retries them).
    """
    server = SmtpServer.from_url(smtp_url)
    if server.security == "tls":
        connection = smtplib.SMTP_SSL(
            server.host,
            server.port,
            timeout=SEND_TIMEOUT_SECONDS,
            context=ssl.create_default_context(),
        )
    else:
        connection = smtplib.SMTP(server.host, server.port, timeout=SEND_TIMEOUT_SECONDS)
    try:
        if server.security == "starttls":
            connection.starttls(context=ssl.create_default_context())
        if server.user:
            connection.login(server.user, server.password)
        connection.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailRefused(str(exc.recipients)) from exc
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            raise MailRefused(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        raise
    finally:
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()
    return str(message["Message-ID"])
