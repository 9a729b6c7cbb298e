"""Sends outbox messages as e-mail through services/mail.py, from MAIL_FROM: plain text
and a simple HTML part, choices as numbered lines, in the citizen's language, each in
its report's thread (`[#1042]` in the subject, In-Reply-To and References)."""

from __future__ import annotations

import html
import smtplib
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import quote

from models.citizen import citizen_language
from models.mail_thread import (
    latest_received,
    queued_with,
    remember_mail,
    report_filed_in_thread,
    report_thread,
    set_thread_report,
    thread_messages,
    thread_started,
)
from models.messaging import Outbox, mark_sent
from services.channels import PermanentFailure, TemporaryFailure
from services.mail import MailConfigError, MailRefused, build_message, mail_domain, send_message
from services.runtime import Runtime
from services.texts import N_, translate
from services.types import Reply
from webhooks.email.inbound import CHANNEL
from webhooks.email.routes import unsubscribe_link

PICK_HINT = N_("Reply with the number of your choice.")
LOCATION_HINT = N_("Reply with the address (number and street).")
FOOTER = N_("Reply to this e-mail to answer. Write STOP to receive no more messages.")
YOUR_REPORT = N_("Your report")
YOUR_MESSAGE = N_("Your message to the town")


@dataclass(frozen=True)
class Thread:
    root: str
    report_id: int | None
    subject: str  # the thread's own subject, without "Re:" or "[#1042]"
    references: list[str]


def render_text(replies: list[Reply], language: str) -> str:
    """The plain-text body: each reply's words, numbered choices and what to reply."""
    lines: list[str] = []
    for reply in replies:
        lines += [reply.text.strip(), ""]
        if reply.choices:
            lines += [f"{n}. {label}" for n, (_, label) in enumerate(reply.choices, 1)]
            lines += ["", translate(language, PICK_HINT), ""]
        if reply.request_location:
            lines += [translate(language, LOCATION_HINT), ""]
    lines += ["-- ", translate(language, FOOTER)]
    return "\n".join(lines) + "\n"


def render_html(replies: list[Reply], language: str) -> str:
    """The same, as a simple HTML part (paragraphs, numbered lists)."""
    parts = []
    for reply in replies:
        paragraphs = [p for p in reply.text.strip().split("\n\n") if p.strip()]
        parts += [f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs]
        if reply.choices:
            items = "".join(f"<li>{html.escape(label)}</li>" for _, label in reply.choices)
            hint = html.escape(translate(language, PICK_HINT))
            parts += [f"<ol>{items}</ol>", f"<p>{hint}</p>"]
        if reply.request_location:
            parts.append(f"<p>{html.escape(translate(language, LOCATION_HINT))}</p>")
    footer = html.escape(translate(language, FOOTER))
    parts.append(f'<p style="color:#555;font-size:small">{footer}</p>')
    body = "\n".join(parts)
    return f'<!doctype html>\n<html lang="{language}"><body>\n{body}\n</body></html>\n'


class MailSender:
    """Sends outbox messages by e-mail through the town's SMTP server (SMTP_URL)."""

    channel = CHANNEL

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.smtp_url = rt.settings.SMTP_URL
        self.sender = rt.settings.MAIL_FROM
        self.address = parseaddr(self.sender)[1]
        self.domain = mail_domain(self.sender)

    def send(self, message: Outbox) -> str | None:
        """Sends one message in its thread; returns its Message-ID."""
        reply = Reply.from_payload(message.payload)
        if not reply.text.strip():
            return None  # a chat app's gesture (a button's spinner): nothing to write
        message_id = f"<webleads.{message.id}.{message.created_at:%Y%m%d%H%M%S%f}@{self.domain}>"
        with self.rt.db.transaction() as session:
            language = citizen_language(session, message.citizen_id) or "fr"
            thread = self._thread(session, message, message_id)
            # A step's replies, queued together, go in one e-mail.
            along = queued_with(session, message)
            replies = [reply, *(Reply.from_payload(m.payload) for m in along)]
            replies = [r for r in replies if r.text.strip()]
            # Recorded before sending: a reply quicker than our commit still finds it.
            remember_mail(
                session,
                message_id=message_id,
                citizen_id=message.citizen_id,
                root=thread.root,
                report_id=thread.report_id,
                subject=thread.subject,
                outbound=True,
            )
        email = build_message(
            sender=self.sender,
            to=message.address,
            subject=self._subject(thread, language),
            text=render_text(replies, language),
            html=render_html(replies, language),
            message_id=message_id,
            in_reply_to=thread.references[-1] if thread.references else None,
            references=thread.references or None,
            headers={
                "Content-Language": language,
                # The client's "unsubscribe": one click (RFC 8058), or it writes STOP to us.
                "List-Unsubscribe": f"<{self._unsubscribe(message.address)}>, "
                f"<mailto:{self.address}?subject={quote('STOP')}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        try:
            send_message(self.smtp_url, email)
        except MailRefused as exc:
            raise PermanentFailure(f"address refused: {exc}", citizen_flag="unreachable") from exc
        except MailConfigError as exc:
            raise TemporaryFailure(str(exc)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
        if along:
            with self.rt.db.transaction() as session:
                for companion in along:
                    mark_sent(session, companion.id, message_id[:64])
        return message_id[:64]

    def _unsubscribe(self, address: str) -> str:
        settings = self.rt.settings
        return unsubscribe_link(settings.PUBLIC_BASE_URL, settings.SECRET_KEY, address)

    def _thread(self, session, message: Outbox, message_id: str) -> Thread:
        """The thread this message goes in: its report's, else the conversation's (the
        citizen's latest e-mail), which is tied to the report it led to once filed."""
        citizen_id = message.citizen_id
        report_id = message.report_id
        anchor = report_thread(session, citizen_id, report_id) if report_id else None
        if report_id is None:
            anchor = latest_received(session, citizen_id)
            if anchor is not None:
                report_id = anchor.report_id
                if report_id is None:
                    since = thread_started(session, anchor.root)
                    report_id = since and report_filed_in_thread(session, citizen_id, since)
                    if report_id:
                        set_thread_report(session, anchor.root, report_id)
        if anchor is None:
            return Thread(message_id, report_id, "", [])
        return Thread(anchor.root, report_id, anchor.subject, thread_messages(session, anchor.root))

    def _subject(self, thread: Thread, language: str) -> str:
        if thread.report_id:
            base = thread.subject or translate(language, YOUR_REPORT)
            subject = f"[#{thread.report_id}] {base}"
        else:
            subject = thread.subject or translate(language, YOUR_MESSAGE)
        return f"Re: {subject}" if thread.references else subject
