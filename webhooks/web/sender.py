"""The web channel's side of the outbox: replies are shown on the page; notices go by e-mail.

A reply in the conversation is "delivered" by being rendered on the citizen's next page
(routes.py marks it sent there), so when the worker meets one first it has nothing to do.
A notice (a status change, an agent's words: the usual notify path, personalised through
the audience rule) leaves by e-mail to the address the citizen confirmed, in their
language, plain text and simple HTML, `[#1042]` in the subject. Without a confirmed
address it waits (Held, listed in the console) and goes out once the address is
confirmed. The one e-mail sent to an address not yet confirmed is its confirmation link.
"""

from __future__ import annotations

import smtplib

from markupsafe import escape

from bot.outbox import Held, PermanentFailure, TemporaryFailure
from models.citizen import citizens_by_id
from models.messaging import PRIORITY_REPLY, Outbox
from models.report import get_report
from models.web_contact import confirmed_email
from services.mail import MailConfigError, MailRefused, build_message, send_message
from services.runtime import Runtime
from services.texts import N_, translate
from services.types import Reply

# The payload key of the confirmation e-mail (routes.py queues it): its address.
MAIL_TO = "mail_to"
ON_PAGE = "web-page"
NO_ADDRESS = "no confirmed e-mail address: sent once the citizen confirms one"

SUBJECT = N_("News of report {ref}")
SUBJECT_CONFIRM = N_("Confirm your e-mail address")
FOOTER = N_("This message was sent because you reported a problem on {site}.")


def is_on_page(message: Outbox) -> bool:
    """A reply of the conversation, shown on the citizen's page (not e-mailed)."""
    return message.priority == PRIORITY_REPLY and MAIL_TO not in message.payload


class WebSender:
    channel = "web"

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def send(self, message: Outbox) -> str | None:
        if is_on_page(message):
            return ON_PAGE
        to, language, ref = self._recipient(message)
        if to is None:
            raise Held(NO_ADDRESS)
        reply = Reply.from_payload(message.payload)
        subject = message.payload.get("subject") or (
            f"[{ref}] " + translate(language, SUBJECT, ref=ref) if ref else ""
        )
        return self._mail(to, subject or translate(language, SUBJECT_CONFIRM), reply, language)

    def _recipient(self, message: Outbox) -> tuple[str | None, str, str | None]:
        with self.rt.db.reading() as session:
            citizen = citizens_by_id(session, [message.citizen_id]).get(message.citizen_id)
            language = citizen.language if citizen else self.rt.settings.DEFAULT_LANGUAGE
            report = get_report(session, message.report_id) if message.report_id else None
            to = message.payload.get(MAIL_TO) or confirmed_email(session, message.citizen_id)
        return to, language, report.ref if report else None

    def _mail(self, to: str, subject: str, reply: Reply, language: str) -> str:
        settings = self.rt.settings
        if not settings.mail_enabled:
            raise Held("SMTP_URL and MAIL_FROM are not set")
        footer = translate(language, FOOTER, site=settings.PUBLIC_BASE_URL)
        text = f"{reply.text}\n\n-- \n{footer}\n"
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in reply.text.split("\n") if p.strip())
        html = (
            f'<!doctype html><html lang="{language}"><body>{paragraphs}'
            f'<hr><p style="color:#555">{escape(footer)}</p></body></html>'
        )
        mail = build_message(
            sender=settings.MAIL_FROM, to=to, subject=subject, text=text, html=html
        )
        try:
            return send_message(settings.SMTP_URL, mail)
        except MailRefused as exc:
            raise PermanentFailure(f"the mail server refused {to}: {exc}") from exc
        except MailConfigError as exc:
            raise Held(str(exc)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
