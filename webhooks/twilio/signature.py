"""Twilio signs every webhook: X-Twilio-Signature over the URL it called and the form."""

from __future__ import annotations

from flask import request
from twilio.request_validator import RequestValidator

from services.config import Settings

SIGNATURE_HEADER = "X-Twilio-Signature"
# Present when a Webhook Rule signs with a Shared Key instead of the Auth Token: the
# bot knows no such key, so those requests are refused (docs/sms.md says so).
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


def signature_is_valid(settings: Settings) -> bool:
    """Checks X-Twilio-Signature over the URL Twilio called: PUBLIC_BASE_URL + path.

    Behind a reverse proxy `request.url` is the proxy's view (http, another host, a
    port): Twilio signed the public URL, so that is the one rebuilt here.
    """
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature or request.headers.get(SIGNATURE_SETTINGS_HEADER):
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    return validator.validate(public_url(settings), request.form, signature)


def public_url(settings: Settings) -> str:
    """The URL of this request as the outside world calls it."""
    url = settings.PUBLIC_BASE_URL.rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return url
