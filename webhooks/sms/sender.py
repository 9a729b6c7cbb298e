"""Sends outbox messages as SMS: a Reply as a phone without buttons shows it (numbered
choices), in GSM-7 where possible and within two segments, through Twilio's Messages API."""

from __future__ import annotations

import logging
import re

from models.citizen import citizen_language
from models.messaging import Outbox
from services.channels import TemporaryFailure
from services.runtime import Runtime
from services.texts import N_, translate
from services.types import Reply
from webhooks.sms import gsm
from webhooks.sms.inbound import CHANNEL, STATUS_PATH
from webhooks.twilio.client import create_message, make_client

log = logging.getLogger(__name__)

# Every text the bot sends by SMS is kept within two segments (306 GSM-7 characters,
# 134 in UCS-2): longer is shortened in the middle of its longest lines (webhooks.sms.gsm).
MAX_SEGMENTS = 2
# Choice labels are shortened, never below this, before the message itself is.
MIN_LABEL = 12

# A phone has no location button: the location question gets this line.
LOCATION_HINT = N_("Reply with the address (number and street).")


def render(reply: Reply, language: str | None = None) -> str:
    """Writes a reply as one SMS: text, hint, numbered choices; GSM-7, two segments at most.

    Choices whose label the text already names in capitals ("reply PASSER") are not
    listed again; typing their number still works.
    """
    text = "\n".join(line.rstrip() for line in gsm.to_gsm7(reply.text.strip()).split("\n"))
    fixed = []
    if reply.request_location and language:
        fixed.append(gsm.to_gsm7(translate(language, LOCATION_HINT)))
    labels = [
        (number, gsm.to_gsm7(label))
        for number, (_, label) in enumerate(reply.choices, 1)
        if not _named_in(label, reply.text)
    ]
    tail = "\n".join([*fixed, *_numbered(labels, text, fixed)])
    return gsm.fit(text, MAX_SEGMENTS, fixed_tail=tail)


def _named_in(label: str, text: str) -> bool:
    """Tells whether the text asks for this choice by its word in capitals ("PASSER")."""
    word = label.upper()
    return word != label and re.search(rf"\b{re.escape(word)}\b", text) is not None


def _numbered(labels: list[tuple[int, str]], text: str, fixed: list[str]) -> list[str]:
    """The choices as "1 Label" lines, labels shortened if the message would not fit."""

    def lines(cap: int) -> list[str]:
        return [f"{n} {_short_label(label, cap)}" for n, label in labels]

    longest = max((len(label) for _, label in labels), default=0)
    for cap in range(longest, MIN_LABEL - 1, -1):
        if gsm.segments("\n".join([text, *fixed, *lines(cap)])) <= MAX_SEGMENTS:
            return lines(cap)
    return lines(MIN_LABEL)


def _short_label(label: str, cap: int) -> str:
    if len(label) <= cap:
        return label
    cut = label.rfind(" ", 0, cap - 2)
    head = label[: cut if cut >= cap // 2 else cap - 3].rstrip(" ,;:-")
    return head + gsm.ELLIPSIS


class SmsSender:
    """Sends outbox messages as SMS through Twilio's Messages API.

    The pace (SMS_RATE_PER_SECOND) is the outbox worker's: its limiter for this channel
    spaces the calls to `send` (bot.outbox.default_limiters).
    """

    channel = CHANNEL

    def __init__(self, rt: Runtime) -> None:
        settings = rt.settings
        self.rt = rt
        self.client = make_client(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_API_BASE_URL
        )
        self.status_callback = settings.PUBLIC_BASE_URL.rstrip("/") + STATUS_PATH
        # A Messaging Service, when set, picks the sender and applies its opt-out rules.
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            self.sender = {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
        elif settings.TWILIO_FROM_NUMBER:
            self.sender = {"from_": settings.TWILIO_FROM_NUMBER}
        else:
            self.sender = {}
            log.error("SMS: set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID to send")

    def compose(self, message: Outbox) -> str:
        """The SMS body of an outbox message."""
        reply = Reply.from_payload(message.payload)
        language = None
        if reply.request_location:
            with self.rt.db.reading() as session:
                language = citizen_language(session, message.citizen_id)
        return render(reply, language or self.rt.settings.DEFAULT_LANGUAGE)

    def send(self, message: Outbox) -> str | None:
        """Posts one SMS; returns Twilio's MessageSid."""
        if not self.sender:
            raise TemporaryFailure("no TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        body = self.compose(message)
        return create_message(
            self.client,
            to=message.address,
            body=body,
            status_callback=self.status_callback,
            **self.sender,
        )
