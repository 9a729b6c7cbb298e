"""Twilio's delivery receipts, the same for SMS and WhatsApp: a status callback moves the
outbox row Twilio names (by MessageSid) forward."""

from __future__ import annotations

import logging

from models.db import utcnow
from models.messaging import DELIVERED, FAILED, READ, SENT, record_delivery
from services.runtime import Runtime
from webhooks.twilio.form import message_sid_of

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
