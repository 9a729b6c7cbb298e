"""The WhatsApp webhooks: `POST /webhooks/whatsapp` (an inbound message, signed by Twilio,
handed to the engine) and `POST /webhooks/whatsapp/status` (delivery statuses up to
`read`, and WhatsApp's refusals)."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, abort, request

from bot import engine
from models.db import read_number
from models.messaging import outbox_by_provider_id
from services.runtime import Runtime, current_runtime
from webhooks.twilio.form import message_sid_of, twiml
from webhooks.twilio.phone import normalise_phone
from webhooks.twilio.receipts import record_receipt
from webhooks.twilio.signature import signature_is_valid
from webhooks.whatsapp import window
from webhooks.whatsapp.inbound import CHANNEL, INBOUND_PATH, STATUS_PATH, bare, parse_inbound
from webhooks.whatsapp.settings import enabled

log = logging.getLogger(__name__)

bp = Blueprint("whatsapp", __name__)


@bp.post(INBOUND_PATH)
def inbound() -> Response:
    """Verifies a Twilio WhatsApp message and hands it on (the engine opens the window:
    `window.opened`, the spec's `on_inbound`)."""
    rt = _runtime_with_whatsapp()
    if not signature_is_valid(rt.settings):
        abort(403)
    form = request.form
    message_sid = message_sid_of(form)
    raw = form.get("From", "")
    phone = normalise_phone(bare(raw), rt.settings.DEFAULT_REGION) if raw else None
    if not message_sid or phone is None:
        log.warning("WhatsApp message without a usable MessageSid or From ignored: %r", raw)
        return twiml()
    # The engine dedupes on MessageSid: a redelivery has no second effect. A message failing
    # for good is logged and answered like any (as for SMS, webhooks/sms/routes.py).
    with engine.acknowledged(rt, CHANNEL, message_sid):
        replied_report = _replied_report(rt, message_sid_of({"MessageSid": form.get(
            "OriginalRepliedMessageSid", "")}))  # fmt: skip
        engine.handle(parse_inbound(form, message_sid, phone, replied_report=replied_report), rt)
    return twiml()


@bp.post(STATUS_PATH)
def status_callback() -> Response:
    """Records a delivery status; a refusal (ErrorCode) is handled as it means."""
    rt = _runtime_with_whatsapp()
    if not signature_is_valid(rt.settings):
        abort(403)
    form = request.form
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    code = form.get("ErrorCode") or ""
    sid = message_sid_of(form)
    number = read_number(code)
    refusal = status in ("failed", "undelivered") and number is not None and sid
    if refusal:
        _wait_for_the_send(rt, sid)
    record_receipt(rt, form)
    if refusal:
        window.refused(rt, sid, number)
    return Response("", status=200)


# WhatsApp's refusal may come a moment after Twilio's 201, possibly before the worker
# recorded the MessageSid: it is looked for a little while rather than ignored (Twilio
# does not post a status callback twice).
REFUSAL_LOOKUPS = (0.1, 0.3, 0.6, 1.0)


def _wait_for_the_send(rt: Runtime, sid: str) -> None:
    for delay in (0.0, *REFUSAL_LOOKUPS):
        time.sleep(delay)
        with rt.db.reading() as session:
            if outbox_by_provider_id(session, sid) is not None:
                return
    log.info("WhatsApp refusal for unknown message %s", sid)


def _replied_report(rt: Runtime, sid: str) -> int | None:
    """The report of our message the citizen replied to (WhatsApp's "reply"), if any."""
    if not sid:
        return None
    with rt.db.reading() as session:
        message = outbox_by_provider_id(session, sid)
        return message.report_id if message is not None else None


def _runtime_with_whatsapp() -> Runtime:
    rt = current_runtime()
    if not enabled(rt.settings):
        abort(404)  # no auth token or no sender: nothing could be verified or answered
    return rt
