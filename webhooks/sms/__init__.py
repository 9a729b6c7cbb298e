"""The SMS channel (Twilio): the webhooks (routes.py), the inbound parser (inbound.py),
the sender (sender.py, gsm.py); what it shares with WhatsApp is in webhooks/twilio/. A
phone shows no buttons, pins or (on French numbers) photos: the one-time link page
(webhooks/link/) adds the photo and the pin. Its `Channel` spec is registered below."""

from __future__ import annotations

from urllib.parse import quote

from services.channels import Channel, Invite, Limits, mask_phone, register
from services.config import Settings
from webhooks import link
from webhooks.sms.inbound import CHANNEL
from webhooks.sms.routes import bp
from webhooks.sms.settings import SETTINGS, enabled
from webhooks.twilio.media import fetch_picture
from webhooks.twilio.phone import national, phone_identity

GREETING = "Bonjour"


def _invite(settings: Settings, code: str | None) -> Invite | None:
    """The phone's messages opened to the town's number, with "Bonjour" typed."""
    number = settings.TWILIO_FROM_NUMBER
    if not number:
        return None
    shown = national(number, settings.DEFAULT_REGION)
    return Invite(
        "SMS", f"Envoyez « {GREETING} » au {shown}.", f"sms:{number}?body={quote(GREETING)}"
    )


def _sender(rt):
    """The Twilio sender, imported (twilio, requests) when the worker first sends."""
    from webhooks.sms.sender import SmsSender

    return SmsSender(rt)


CHANNEL_SPEC = register(
    Channel(
        name=CHANNEL,
        labels={"en": "SMS"},
        can_receive_photos=True,  # by MMS, where the number takes them
        needs_link_for_pin=True,
        enabled=enabled,
        settings=SETTINGS,
        blueprints=(bp, link.bp),
        sender=_sender,
        fetcher=lambda rt: lambda media: fetch_picture(media, rt.settings),
        limits=lambda settings: Limits(float(settings.SMS_RATE_PER_SECOND or 1)),
        mask=mask_phone,
        identity=phone_identity,
        invite=_invite,
        typed_by_agent="phone",
    )
)
