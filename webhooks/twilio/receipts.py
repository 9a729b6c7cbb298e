"""Twilio's inbound forms and delivery receipts, the same for SMS and WhatsApp.

An inbound message is answered with empty TwiML (the replies go through the outbox); a
status callback moves the outbox row Twilio names (by MessageSid) forward.
"""

from __future__ import annotations

import logging

import phonenumbers
from flask import Response
from twilio.twiml.messaging_response import MessagingResponse

from models.db import utcnow
from models.messaging import DELIVERED, FAILED, READ, SENT, record_delivery
from services.runtime import Runtime

log = logging.getLogger(__name__)

# MessageStatus of a callback -> the outbox's delivery status. Twilio's queue states
# (accepted, scheduled, queued, sending) mean "left our hands": the row is already sent.
STATUS_MAP = {
    "accepted": SENT,
    "scheduled": SENT,
    "queued": SENT,
    "sending": SENT,
    "sent": SENT,
    "delivered": DELIVERED,
    "read": READ,  # delivered, and seen (WhatsApp, RCS); delivered_at is kept
    "undelivered": FAILED,
    "failed": FAILED,
}
# receiving / received describe inbound messages, canceled a scheduled send: ignored.


def message_sid_of(form) -> str:
    """The message's SID, or "" when it is not one Twilio could have sent.

    Twilio's SIDs are 34 ASCII letters and digits; anything else (NUL, 5,000 characters)
    is no message of Twilio's and is never stored.
    """
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    return sid if sid.isascii() and sid.isalnum() and len(sid) <= 64 else ""


def normalise_phone(raw: str, region: str) -> str | None:
    """Writes a phone number in E.164 (+33612345678); None when it is not one."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def twiml() -> Response:
    """An empty TwiML answer.

    Replies never go inline in TwiML: the engine queued them in the outbox, so every
    reply is logged, counted, rate-limited and retried the same way as notifications,
    and its delivery status comes back to the same row.
    """
    return Response(str(MessagingResponse()), mimetype="text/xml")


def record_receipt(rt: Runtime, form) -> None:
    """Records a delivery receipt against the outbox message Twilio names."""
    message_sid = message_sid_of(form)
    twilio_status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    status = STATUS_MAP.get(twilio_status)
    if not message_sid or status is None:
        return
    error = form.get("ErrorCode")
    reason = f"Twilio {twilio_status}" + (f": error {error}" if error else "")
    with rt.db.transaction() as session:
        known = record_delivery(session, message_sid, status, error=reason, at=utcnow())
    if not known:
        # Not ours, or a receipt that beat the worker's own record of the send.
        log.info("delivery receipt for unknown message %s ignored", message_sid)
