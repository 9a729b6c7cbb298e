"""The WhatsApp channel's settings (the Twilio account's are in webhooks/twilio/settings.py)."""

from __future__ import annotations

from services.config import Setting, Settings
from webhooks.twilio.settings import ACCOUNT, account_set


def _rate_above_zero(value, settings: Settings) -> str | None:
    if value <= 0:
        return "WHATSAPP_RATE_PER_SECOND must be above 0 (the sandbox: 0.33)"
    return None


SETTINGS = (
    *ACCOUNT,
    Setting("TWILIO_WHATSAPP_FROM", doc="WhatsApp: the sender, whatsapp:+33..."),
    Setting(
        "TWILIO_WHATSAPP_MESSAGING_SERVICE_SID", doc="WhatsApp: or a Messaging Service (MG...)"
    ),
    Setting("WHATSAPP_TEMPLATE_FR", doc="WhatsApp: the approved template's Content SID (HX...)"),
    Setting("WHATSAPP_TEMPLATE_EN", doc="WhatsApp: the same template in English"),
    Setting(
        "WHATSAPP_RATE_PER_SECOND",
        10.0,
        doc="WhatsApp: messages per second one worker sends (the sandbox: 0.33)",
        check=_rate_above_zero,
    ),
)


def enabled(settings: Settings) -> bool:
    sender = settings.TWILIO_WHATSAPP_FROM or settings.TWILIO_WHATSAPP_MESSAGING_SERVICE_SID
    return bool(account_set(settings) and sender)


def template_sid(settings: Settings, language: str) -> str:
    """The approved template's Content SID for a language ("" when none is set)."""
    names = {"fr": "WHATSAPP_TEMPLATE_FR", "en": "WHATSAPP_TEMPLATE_EN"}
    return getattr(settings, names[language]) if language in names else ""
