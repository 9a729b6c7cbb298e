"""Turns Twilio's inbound SMS/MMS form into the engine's Inbound."""

from __future__ import annotations

from services.types import Inbound
from webhooks.twilio.media import MAX_MEDIA_MB, first_picture

CHANNEL = "sms"
INBOUND_PATH = "/webhooks/sms"
STATUS_PATH = "/webhooks/sms/status"


def parse_inbound(form, message_sid: str, phone: str) -> Inbound:
    """Builds the engine's Inbound from Twilio's form: the text, and the first picture.

    The picture is not downloaded here: the Inbound names it and the worker fetches it
    (webhooks/twilio/media.py), so the webhook answers Twilio at once.
    """
    body = (form.get("Body") or "").strip()
    media, photo_error = first_picture(form)
    has_media = media is not None or photo_error is not None
    return Inbound(
        CHANNEL,
        phone,
        external_id=message_sid,
        # An MMS without words is a picture, not an empty text.
        text=None if has_media and not body else body,
        media=media,
        photo_error=photo_error,
        meta={"limit_mb": MAX_MEDIA_MB},
    )
