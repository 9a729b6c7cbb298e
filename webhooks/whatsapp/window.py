"""WhatsApp's 24-hour window: free-form messages only within 24 hours of the citizen's
last message (Twilio error 63016 otherwise).

The webhook records each inbound message's time on the citizen (`citizen.last_inbound_at`)
and releases what waited for them; the sender asks `is_open` before each message. Outside
the window a report's news goes as the approved utility template (WHATSAPP_TEMPLATE_FR /
_EN: `{{1}}` = "#1042", `{{2}}` = the status), and the full personalised message waits
(`held`) until the citizen answers. The same when WhatsApp itself says the window closed
(error 63016, at the send or in the status callback, our clock and WhatsApp's may differ):
the template goes, the full message waits. Without a template, or when WhatsApp refuses
it, the message waits the same way, is listed in the console (undelivered messages, the
report's thread) and goes by SMS when SMS is set up and that number has not opted out of
SMS.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from models.citizen import Citizen, find_citizen, lock_citizen, update_citizen
from models.db import utcnow
from models.messaging import (
    FAILED,
    Outbox,
    cancel_queued_for,
    hold_copy,
    mark_held,
    mark_retry,
    outbox_by_provider_id,
    queue_messages,
    release_held,
    set_payload,
)
from models.report import Report
from services.runtime import Runtime
from services.texts import status_name
from webhooks.twilio.settings import account_set
from webhooks.whatsapp.settings import template_sid

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
# Sends close to the end are treated as outside: the message may take a moment to leave.
MARGIN = timedelta(minutes=5)
SMS = "sms"

HELD_NO_TEMPLATE = "WhatsApp: outside the 24-hour window, no approved template; waits for the citizen's next message"  # noqa: E501
HELD_AFTER_TEMPLATE = "WhatsApp: outside the 24-hour window; the template went, the full message waits for the citizen's answer"  # noqa: E501
HELD_REFUSED = "WhatsApp refused it (error {code}): waits for the citizen's next message"
HELD_REFUSED_TEMPLATE = "WhatsApp refused it (error {code}): the template went, the full message waits for the citizen's answer"  # noqa: E501
# A payload's mark: WhatsApp said the window is closed, whatever our clock says; the row
# goes as the template alone (its full message already waits).
TEMPLATE_ONLY = "template_only"
ALSO_BY_SMS = " (sent by SMS meanwhile)"

# Errors WhatsApp reports after the 201, in the status callback.
OUTSIDE_WINDOW = 63016
NOT_JOINED = 63015  # the sandbox: the number has not sent "join <word>" (or it expired)
RATE_LIMITED = 63018  # the sender's per-second rate: try again shortly
UNAPPROVED_CONTENT = 63005
INVALID_RECIPIENT = 63024
RETRY_AFTER_RATE = timedelta(seconds=30)


def opened(session, citizen: Citizen, inbound) -> None:
    """The citizen wrote (the engine calls this in the message's transaction, the citizen
    locked): their window opens now, and what waited for them goes first."""
    at = utcnow()
    update_citizen(session, citizen.id, last_inbound_at=at)
    citizen.last_inbound_at = at
    release_held(session, citizen.id)


def is_open(last_inbound_at: datetime | None, now: datetime | None = None) -> bool:
    """Tells whether a free-form message may go now."""
    if last_inbound_at is None:
        return False
    if last_inbound_at.tzinfo is None:  # SQLite hands naive UTC back
        last_inbound_at = last_inbound_at.replace(tzinfo=UTC)
    return (now or utcnow()) - last_inbound_at < WINDOW - MARGIN


def template_variables(session, message: Outbox, language: str) -> dict[str, str] | None:
    """{"1": "#1042", "2": "<status>"} for a report's news; None for anything else."""
    if message.report_id is None:
        return None
    report = session.get(Report, message.report_id)
    if report is None:
        return None
    return {"1": report.ref, "2": status_name(language, report.status)}


def hold_after_template(rt: Runtime, message: Outbox, template_sid: str, sent_sid: str) -> None:
    """The template went: marks the row as such and holds the full message for later."""
    with rt.db.transaction() as session:
        set_payload(session, message.id, {**message.payload, "template": template_sid})
        hold_copy(
            session, message, {**message.payload, "after_template": sent_sid}, HELD_AFTER_TEMPLATE
        )


def template_went(rt: Runtime, message: Outbox, template_sid: str) -> None:
    """A TEMPLATE_ONLY row went: marked as a template (a refusal of it goes by SMS)."""
    with rt.db.transaction() as session:
        set_payload(session, message.id, {**message.payload, "template": template_sid})


def fall_back_to_sms(session, rt: Runtime, message: Outbox, payload: dict) -> bool:
    """Queues the message by SMS to the same number, if the town has SMS and the number
    has not opted out of it there; returns whether it did."""
    settings = rt.settings
    sms_sender = settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID
    if not (account_set(settings) and sms_sender):
        return False
    whatsapp_citizen = session.get(Citizen, message.citizen_id)
    if whatsapp_citizen is None or not whatsapp_citizen.can_receive:
        return False
    sms_citizen = find_citizen(session, SMS, message.address)
    if sms_citizen is not None and not sms_citizen.can_receive:
        return False  # STOP by SMS (or the number is unreachable there)
    if sms_citizen is None:
        sms_citizen, _, _ = lock_citizen(
            session,
            SMS,
            message.address,
            display_name=whatsapp_citizen.display_name,
            language=whatsapp_citizen.language,
        )
    # Choices are left out: an answer by SMS goes to another conversation than this one.
    queue_messages(
        session,
        [
            {
                "citizen_id": sms_citizen.id,
                "channel": SMS,
                "address": message.address,
                "payload": {"text": payload.get("text", "")},
                "priority": message.priority,
                "report_id": message.report_id,
                "event_id": message.event_id,
            }
        ],
    )
    return True


def hold_without_template(rt: Runtime, message: Outbox) -> str:
    """No template to send: queues the SMS copy if it can; returns why the row waits."""
    with rt.db.transaction() as session:
        by_sms = fall_back_to_sms(session, rt, message, message.payload)
    rt.wake_worker()
    return HELD_NO_TEMPLATE + (ALSO_BY_SMS if by_sms else "")


def refused(rt: Runtime, message_sid: str, code: int) -> None:
    """WhatsApp refused a message after Twilio accepted it (the status callback's ErrorCode):
    it waits or goes again, as the error means; it is never dropped without a trace."""
    with rt.db.transaction() as session:
        message = outbox_by_provider_id(session, message_sid)
        if message is None or message.channel != "whatsapp" or message.status != FAILED:
            return
        if code == RATE_LIMITED:
            when = utcnow() + RETRY_AFTER_RATE
            mark_retry(session, message.id, when, f"WhatsApp error {code}: rate limit")
        elif code == OUTSIDE_WINDOW:
            _refused_for_now(session, rt, message, code)
        elif code == NOT_JOINED:
            # The sandbox: this number never joined, or its 3 days ran out. The message
            # stays failed (listed, with its retry button) and goes by SMS if it can.
            fall_back_to_sms(session, rt, message, message.payload)
        elif code == INVALID_RECIPIENT:
            update_citizen(session, message.citizen_id, unreachable=True)
            cancel_queued_for(session, message.citizen_id, f"WhatsApp error {code}")
        # Anything else (63005 content refused...) stays failed, listed in the console.
    rt.wake_worker()


def _refused_for_now(session, rt: Runtime, message: Outbox, code: int) -> None:
    template = message.payload.get("template")
    if template:
        # The template itself was refused: the full message already waits (held copy);
        # this row stays failed (listed), and the news goes by SMS if it can.
        full = {k: v for k, v in message.payload.items() if k not in ("template", TEMPLATE_ONLY)}
        fall_back_to_sms(session, rt, message, full)
        return
    if _template_instead(session, rt, message):
        mark_held(session, message.id, HELD_REFUSED_TEMPLATE.format(code=code))
        return
    by_sms = fall_back_to_sms(session, rt, message, message.payload)
    reason = HELD_REFUSED.format(code=code) + (ALSO_BY_SMS if by_sms else "")
    mark_held(session, message.id, reason)


def _template_instead(session, rt: Runtime, message: Outbox) -> bool:
    """Queues the approved template in place of a refused free-form message, when there
    is one for the citizen's language and the message is a report's news."""
    citizen = session.get(Citizen, message.citizen_id)
    if citizen is None or not citizen.can_receive:
        return False
    language = citizen.language or rt.settings.DEFAULT_LANGUAGE
    if not (template_sid(rt.settings, language) and
            template_variables(session, message, language)):  # fmt: skip
        return False
    queue_messages(
        session,
        [
            {
                "citizen_id": message.citizen_id,
                "channel": message.channel,
                "address": message.address,
                "payload": {**message.payload, TEMPLATE_ONLY: True},
                "priority": message.priority,
                "report_id": message.report_id,
                "event_id": message.event_id,
            }
        ],
    )
    return True
