"""Twilio's inbound form and its answer, the same for SMS and WhatsApp.

An inbound message is answered with empty TwiML: the replies go through the outbox.
"""

from __future__ import annotations

from flask import Response
from twilio.twiml.messaging_response import MessagingResponse


def message_sid_of(form) -> str:
    """The message's SID, or "" when it is not one Twilio could have sent.

    Twilio's SIDs are 34 ASCII letters and digits; anything else (NUL, 5,000 characters)
    is no message of Twilio's and is never stored.
    """
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    return sid if sid.isascii() and sid.isalnum() and len(sid) <= 64 else ""


def twiml() -> Response:
    """An empty TwiML answer.

    Replies never go inline in TwiML: the engine queued them in the outbox, so every
    reply is logged, counted, rate-limited and retried the same way as notifications,
    and its delivery status comes back to the same row.
    """
    return Response(str(MessagingResponse()), mimetype="text/xml")
