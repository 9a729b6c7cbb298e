"""The Twilio account's settings, declared by both channels that use it (SMS, WhatsApp)."""

from __future__ import annotations

from services.config import Setting, Settings

ACCOUNT = (
    Setting("TWILIO_ACCOUNT_SID", doc="Twilio: the account (AC...); with the token, enables SMS"),
    Setting("TWILIO_AUTH_TOKEN", secret=True, doc="Twilio: the auth token; signs its webhooks"),
    Setting(
        "TWILIO_API_BASE_URL",
        "https://api.twilio.com",
        doc="Twilio's REST API root; tests point it at a local stand-in",
    ),
)


def account_set(settings: Settings) -> bool:
    """The account's SID and token are both set."""
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN)
