"""Turns Twilio's inbound WhatsApp form into the engine's Inbound.

Twilio posts WhatsApp like SMS (form-encoded, `From=whatsapp:+33…`), with WhatsApp's own
fields: `ProfileName` (the name the citizen shows), `ButtonPayload`/`ButtonText` (a quick
reply pressed), `ListId`/`ListTitle` (a list-picker row chosen), `Latitude`/`Longitude`/
`Address`/`Label` (a shared location), `MessageType`, `OriginalRepliedMessageSid` (the
citizen replied to one of our messages). The list-reply field names are read tolerantly:
a row's id, else its title as typed text (a label the conversation offered is matched).
"""

from __future__ import annotations

import math

from services.types import Inbound
from webhooks.twilio.media import MAX_MEDIA_MB, first_picture

CHANNEL = "whatsapp"
PREFIX = "whatsapp:"
INBOUND_PATH = "/webhooks/whatsapp"
STATUS_PATH = "/webhooks/whatsapp/status"

# MessageType -> what the bot cannot use (answered politely, the question asked again).
UNSUPPORTED = {
    "audio": "voice",
    "voice": "voice",
    "sticker": "sticker",
    "document": "document",
    "contacts": "contact",
    "video": "video",
    "reaction": "reaction",
    "unsupported": "unsupported",
}
# Where a pressed button's or a chosen row's id comes; the first one present wins.
CHOICE_FIELDS = ("ButtonPayload", "ListId", "ListItemId", "ListReplyId", "InteractiveId")
TITLE_FIELDS = ("ButtonText", "ListTitle", "ListItemTitle", "ListReplyTitle")
MAX_CHOICE = 200  # Twilio's limit on an action's or a row's id


def bare(address: str) -> str:
    """`whatsapp:+33612345678` -> `+33612345678`."""
    return address.strip().removeprefix(PREFIX)


def parse_inbound(form, message_sid: str, phone: str, *, replied_report: int | None = None):
    """Builds the engine's Inbound from Twilio's form; a picture is named, not fetched."""
    body = (form.get("Body") or "").strip()
    kind = (form.get("MessageType") or "").strip().lower()
    meta: dict = {"limit_mb": MAX_MEDIA_MB}
    if replied_report is not None:
        meta["replied_report"] = replied_report
    inbound = Inbound(
        CHANNEL,
        phone,
        external_id=message_sid,
        display_name=(form.get("ProfileName") or "").strip() or None,
        meta=meta,
    )
    if kind in UNSUPPORTED:
        # A sticker is an image/webp, a document may be a PDF called "photo.jpg": none
        # is a photo of the problem.
        inbound.unsupported = UNSUPPORTED[kind]
        inbound.text = body or None
        return inbound
    choice = next((form.get(f) for f in CHOICE_FIELDS if (form.get(f) or "").strip()), None)
    if choice is not None and len(choice) <= MAX_CHOICE:
        inbound.choice = choice.strip()
        return inbound
    location = _location(form)
    if location is not None:
        inbound.location = location
        inbound.text = None
        return inbound
    media, photo_error = first_picture(form)
    if media is not None or photo_error is not None:
        inbound.media, inbound.photo_error = media, photo_error
        inbound.text = body or None
        return inbound
    title = next((form.get(f) for f in TITLE_FIELDS if (form.get(f) or "").strip()), None)
    inbound.text = body or (title or "").strip()
    return inbound


def _location(form) -> tuple[float, float] | None:
    try:
        lat, lon = float(form.get("Latitude", "")), float(form.get("Longitude", ""))
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon
