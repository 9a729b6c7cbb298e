"""The SMS webhooks: `POST /webhooks/sms` (an inbound message, signed by Twilio, handed
to the engine) and `POST /webhooks/sms/status` (delivery receipts against the outbox)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, request

from bot import engine
from services.runtime import Runtime, current_runtime
from webhooks.sms.inbound import CHANNEL, INBOUND_PATH, STATUS_PATH, parse_inbound
from webhooks.sms.settings import enabled
from webhooks.twilio.form import message_sid_of, twiml
from webhooks.twilio.phone import normalise_phone
from webhooks.twilio.receipts import record_receipt
from webhooks.twilio.signature import signature_is_valid

log = logging.getLogger(__name__)

bp = Blueprint("sms", __name__)


@bp.post(INBOUND_PATH)
def inbound() -> Response:
    """Verifies a Twilio inbound message and hands it to the engine."""
    rt = _runtime_with_sms()
    if not signature_is_valid(rt.settings):
        abort(403)
    form = request.form
    message_sid = message_sid_of(form)
    phone = normalise_phone(form.get("From", ""), rt.settings.DEFAULT_REGION)
    if not message_sid or phone is None:
        log.warning("SMS without a usable MessageSid or From ignored: %r", form.get("From"))
        return twiml()
    # The engine dedupes on MessageSid: a redelivery has no second effect. Twilio does not
    # retry a 5xx unless the URL asks it to (#rc=): a message failing for good is logged
    # and answered like any, the database being away is a 503.
    with engine.acknowledged(rt, CHANNEL, message_sid):
        engine.handle(parse_inbound(form, message_sid, phone), rt)
    return twiml()


@bp.post(STATUS_PATH)
def status_callback() -> Response:
    """Records a delivery receipt against the outbox message Twilio names."""
    rt = _runtime_with_sms()
    if not signature_is_valid(rt.settings):
        abort(403)
    record_receipt(rt, request.form)
    return Response("", status=200)


def _runtime_with_sms() -> Runtime:
    rt = current_runtime()
    if not enabled(rt.settings):
        abort(404)  # no auth token: nothing could be verified
    return rt
