"""Sends outbox messages on WhatsApp through Twilio's Messages API.

Inside the citizen's 24-hour window: the Reply as WhatsApp shows it (content.py: quick
replies, a list picker, or text). Outside it: a report's news as the approved template,
the full message held for the citizen's answer; anything else held, listed in the
console, and sent by SMS when it can (window.py). WhatsApp's own refusals mostly arrive
later, in the status callback (routes.py -> window.refused); a 63016 (window closed)
answered at once goes the outside-the-window way here.
"""

from __future__ import annotations

import json
import logging

import requests
from twilio.base.exceptions import TwilioRestException

from models.citizen import Citizen
from models.messaging import Outbox
from services.channels import Held, PermanentFailure, TemporaryFailure
from services.runtime import Runtime
from services.types import Reply
from webhooks.twilio.client import create_message, make_client, send_failure
from webhooks.whatsapp import window
from webhooks.whatsapp.content import TEXT, ContentCache, shape
from webhooks.whatsapp.inbound import CHANNEL, PREFIX, STATUS_PATH
from webhooks.whatsapp.settings import template_sid

log = logging.getLogger(__name__)

DAILY_LIMIT = 63038  # the account's messages per day: try again in an hour
DAILY_LIMIT_RETRY = 3600.0
# A refused content (over a limit Twilio knows and we did not): sent as plain text.
CONTENT_REFUSED_STATUS = 400


class OutsideWindow(Exception):
    """Twilio answered 63016 at once: the window is closed, whatever our clock says."""


class WhatsAppSender:
    """One outbox message -> one WhatsApp message (or a template, or a wait)."""

    channel = CHANNEL

    def __init__(self, rt: Runtime, contents: ContentCache | None = None) -> None:
        settings = rt.settings
        self.rt = rt
        self.client = make_client(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_API_BASE_URL
        )
        self.contents = contents or ContentCache()
        self.status_callback = settings.PUBLIC_BASE_URL.rstrip("/") + STATUS_PATH
        if settings.TWILIO_WHATSAPP_MESSAGING_SERVICE_SID:
            self.sender = {"messaging_service_sid": settings.TWILIO_WHATSAPP_MESSAGING_SERVICE_SID}
        elif settings.TWILIO_WHATSAPP_FROM:
            self.sender = {"from_": PREFIX + settings.TWILIO_WHATSAPP_FROM.removeprefix(PREFIX)}
        else:
            self.sender = {}
            log.error("WhatsApp: set TWILIO_WHATSAPP_FROM or TWILIO_WHATSAPP_MESSAGING_SERVICE_SID")

    def send(self, message: Outbox) -> str | None:
        """Sends one message; returns Twilio's MessageSid (None: nothing to send)."""
        if not self.sender:
            raise TemporaryFailure(
                "no TWILIO_WHATSAPP_FROM or TWILIO_WHATSAPP_MESSAGING_SERVICE_SID"
            )
        reply = Reply.from_payload(message.payload)
        if not reply.text.strip():
            return None  # a channel-level gesture of another channel (a button's spinner)
        with self.rt.db.reading() as session:
            citizen = session.get(Citizen, message.citizen_id)
            language = (citizen.language if citizen else None) or self.rt.settings.DEFAULT_LANGUAGE
            last = citizen.last_inbound_at if citizen else None
            variables = window.template_variables(session, message, language)
        template_only = bool(message.payload.get(window.TEMPLATE_ONLY))
        if window.is_open(last) and not template_only:
            try:
                return self._session_message(message, reply, language)
            except OutsideWindow:
                pass  # WhatsApp's clock says closed: as outside the window
        return self._outside_window(message, language, variables, template_only=template_only)

    def _outside_window(self, message: Outbox, language: str, variables: dict | None, *,
                        template_only: bool) -> str:  # fmt: skip
        """A report's news as the approved template, the full message held; else held (and
        by SMS if it can)."""
        if message.payload.get("after_template"):
            raise Held(window.HELD_AFTER_TEMPLATE)  # its template went already: it waits
        template = template_sid(self.rt.settings, language)
        if template and variables:
            try:
                sid = self._create(message, content_sid=template,
                                   content_variables=json.dumps(variables))  # fmt: skip
            except OutsideWindow:
                pass  # the template refused as well: as without one
            else:
                if template_only:  # its full message waits already (the refused row)
                    window.template_went(self.rt, message, template)
                else:
                    window.hold_after_template(self.rt, message, template, sid)
                return sid
        reason = window.hold_without_template(self.rt, message)
        if template_only:  # no template could go after all: the news goes by SMS
            raise PermanentFailure(reason)
        raise Held(reason)

    def _session_message(self, message: Outbox, reply: Reply, language: str) -> str:
        rendered = shape(reply, language)
        if rendered.kind == TEXT:
            return self._create(message, body=rendered.body)
        try:
            content_sid = self.contents.sid_for(self.client, rendered, language)
        except TwilioRestException as exc:
            if exc.status != CONTENT_REFUSED_STATUS:
                raise _failure(exc) from exc
            log.warning("WhatsApp content refused (%s): sent as text", exc.msg)
            return self._create(message, body=_as_text(reply))
        except (requests.RequestException, OSError) as exc:
            raise TemporaryFailure(f"Twilio unreachable: {type(exc).__name__}") from exc
        return self._create(message, content_sid=content_sid)

    def _create(self, message: Outbox, **fields) -> str:
        return create_message(
            self.client,
            _failure,
            to=PREFIX + message.address,
            status_callback=self.status_callback,
            **self.sender,
            **fields,
        )


def _failure(exc: TwilioRestException) -> Exception:
    if exc.code == window.OUTSIDE_WINDOW:
        return OutsideWindow(f"Twilio error {exc.code}: {exc.msg}")
    if exc.code == DAILY_LIMIT:
        reason = f"Twilio error {exc.code} (HTTP {exc.status}): {exc.msg}"
        return TemporaryFailure(reason, retry_after=DAILY_LIMIT_RETRY)
    return send_failure(exc)


def _as_text(reply: Reply) -> str:
    lines = [reply.text.strip()]
    lines += [f"{n}. {label}" for n, (_, label) in enumerate(reply.choices, 1)]
    return "\n".join(lines)[:1600]
