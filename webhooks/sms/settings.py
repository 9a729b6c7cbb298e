"""The SMS channel's settings (the Twilio account's are in webhooks/twilio/settings.py)."""

from __future__ import annotations

from services.config import Setting, Settings
from webhooks.twilio.settings import ACCOUNT, account_set

SETTINGS = (
    *ACCOUNT,
    Setting("TWILIO_FROM_NUMBER", doc="SMS: the town's number in E.164 form (+33...)"),
    Setting("TWILIO_MESSAGING_SERVICE_SID", doc="SMS: or a Messaging Service (MG...) holding it"),
    Setting("SMS_RATE_PER_SECOND", 1, doc="SMS: messages per second one worker sends (whole)"),
)


def enabled(settings: Settings) -> bool:
    return account_set(settings)


def can_send(settings: Settings) -> bool:
    """Set up, with a sender (a number or a Messaging Service)."""
    sender = settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID
    return enabled(settings) and bool(sender)
