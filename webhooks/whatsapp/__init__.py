"""The WhatsApp channel (Twilio, the same account as SMS): the webhooks (routes.py), the
inbound parser (inbound.py), the sender (sender.py), the Content API shapes (content.py)
and the 24-hour window (window.py). What it shares with SMS is in webhooks/twilio/
(signature, client, receipts, media). WhatsApp shows buttons and lists, takes shared
locations and photos: no link page. Its `Channel` spec is registered below."""

from __future__ import annotations

from urllib.parse import quote

from services.channels import Channel, Invite, Limits, mask_phone, register
from services.config import Settings
from webhooks.twilio.media import fetch_picture
from webhooks.whatsapp import window
from webhooks.whatsapp.inbound import CHANNEL, PREFIX
from webhooks.whatsapp.routes import bp
from webhooks.whatsapp.settings import SETTINGS, enabled

GREETING = "Bonjour"


def _invite(settings: Settings, code: str | None) -> Invite | None:
    """wa.me/<number> with "Bonjour" typed, or the pilot's code while a pilot is on."""
    number = settings.TWILIO_WHATSAPP_FROM.removeprefix(PREFIX).strip()
    if not (enabled(settings) and number):
        return None
    digits = number.lstrip("+")
    text = code or GREETING
    return Invite(
        "WhatsApp",
        "Scannez, puis envoyez le message préparé.",
        f"https://wa.me/{digits}?text={quote(text)}",
    )


def _sender(rt):
    """The Twilio sender, imported (twilio, requests) when the worker first sends."""
    from webhooks.whatsapp.sender import WhatsAppSender

    return WhatsAppSender(rt)


def _preview(reply, language: str) -> dict:
    """The simulator's drawing of a reply as WhatsApp shows it (list, quick replies)."""
    from webhooks.whatsapp.content import shape  # twilio's client: only when drawn

    return shape(reply, language).as_dict()


CHANNEL_SPEC = register(
    Channel(
        name=CHANNEL,
        labels={"en": "WhatsApp"},
        can_show_buttons=True,
        can_share_location=True,
        can_receive_photos=True,
        enabled=enabled,
        settings=SETTINGS,
        blueprints=(bp,),
        sender=_sender,
        fetcher=lambda rt: lambda media: fetch_picture(media, rt.settings),
        limits=lambda settings: Limits(float(settings.WHATSAPP_RATE_PER_SECOND)),
        mask=mask_phone,
        # A WhatsApp number is a phone number: the pilot's allowlist entries for phones
        # admit it (an admin types a number once, for SMS and WhatsApp alike).
        allowlist_as="sms",
        invite=_invite,
        preview=_preview,
        on_inbound=window.opened,
    )
)
