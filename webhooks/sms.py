"""SMS channel through Twilio: the inbound webhook, delivery receipts, and the sender.

Receive: `POST /webhooks/sms` checks Twilio's signature over the public URL, turns the
form into an `Inbound` (phone in E.164, text, first MMS picture) and hands it to the
engine. Send: `SmsSender` renders a `Reply` as a phone without buttons shows it
(numbered choices), in GSM-7 where possible and within two segments, and posts it to
Twilio's Messages API. Status: `POST /webhooks/sms/status` records Twilio's delivery
receipts against the outbox. The one-time page SMS citizens open to add a photo and a
pin is `webhooks/link_page.py`, registered under this blueprint.
"""

from __future__ import annotations

import logging
import re

import phonenumbers
import requests
from flask import Blueprint, Response, abort, request
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.config import Settings
from bot.engine import handle
from bot.outbox import PermanentFailure, TemporaryFailure
from bot.runtime import Runtime, current_runtime
from bot.texts import N_, translate
from bot.types import Inbound, Reply, StoredPhoto
from models.db import utcnow
from models.messaging import DELIVERED, FAILED, SENT, Outbox
from models.sms_queries import citizen_language, record_delivery
from webhooks import gsm, link_page
from webhooks.media import PhotoError, store_photo
from webhooks.twilio_http import MediaTooBig, fetch_media, make_client

log = logging.getLogger(__name__)

CHANNEL = "sms"
INBOUND_PATH = "/webhooks/sms"
STATUS_PATH = "/webhooks/sms/status"

# --- Twilio's vocabulary ----------------------------------------------------------------

SIGNATURE_HEADER = "X-Twilio-Signature"
# Present when a Webhook Rule signs with a Shared Key instead of the Auth Token: the
# bot knows no such key, so those requests are refused (docs/sms.md says so).
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"

# MessageStatus of a callback -> the outbox's delivery status. Twilio's queue states
# (accepted, scheduled, queued, sending) mean "left our hands": the row is already sent.
STATUS_MAP = {
    "accepted": SENT,
    "scheduled": SENT,
    "queued": SENT,
    "sending": SENT,
    "sent": SENT,
    "delivered": DELIVERED,
    "read": DELIVERED,  # read implies delivered (WhatsApp, RCS)
    "undelivered": FAILED,
    "failed": FAILED,
}
# receiving / received describe inbound messages, canceled a scheduled send: ignored.

# Send errors (TwilioRestException.code) -> what they say about the citizen.
OPTED_OUT_CODES = frozenset({21610})  # the number texted STOP to this sender
UNREACHABLE_CODES = frozenset({21211, 21614})  # invalid number; not a mobile (landline)
# Account or sender set up wrong: every message would fail the same way until someone
# fixes the settings, so the messages wait (retried, then dead and visible) instead of
# being dropped at once.
CONFIGURATION_CODES = frozenset({20003, 20404, 21212, 21603, 21606})
RATE_LIMIT_CODE = 20429

# Twilio refuses an MMS over 5 MB; a bigger file cannot be a genuine inbound picture.
MAX_MMS_BYTES = 5 * 1024 * 1024
MAX_MMS_MB = MAX_MMS_BYTES // (1024 * 1024)
MAX_MEDIA = 10  # media per message, at most, on Twilio

# Every text the bot sends by SMS is kept within two segments (306 GSM-7 characters,
# 134 in UCS-2): longer is shortened in the middle of its longest lines (webhooks.gsm).
MAX_SEGMENTS = 2
# Choice labels are shortened, never below this, before the message itself is.
MIN_LABEL = 12

# A phone has no location button: the location question gets this line.
LOCATION_HINT = N_("Reply with the address (number and street).")

bp = Blueprint("sms", __name__)
bp.register_blueprint(link_page.bp)


# --- receive ------------------------------------------------------------------------------


@bp.post(INBOUND_PATH)
def inbound() -> Response:
    """Verifies a Twilio inbound message and hands it to the engine."""
    rt = _runtime_with_sms()
    if not signature_is_valid(rt.settings):
        abort(403)
    form = request.form
    message_sid = message_sid_of(form)
    phone = normalise_phone(form.get("From", ""), rt.settings.DEFAULT_REGION)
    if not message_sid or phone is None:
        log.warning("SMS without a usable MessageSid or From ignored: %r", form.get("From"))
        return twiml()
    # The engine dedupes on MessageSid: a redelivery has no second effect.
    handle(parse_inbound(form, message_sid, phone, rt.settings), rt)
    return twiml()


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


def normalise_phone(raw: str, region: str) -> str | None:
    """Writes a phone number in E.164 (+33612345678); None when it is not one."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_inbound(form, message_sid: str, phone: str, settings: Settings) -> Inbound:
    """Builds the engine's Inbound from Twilio's form: the text, and the first picture.

    The picture is not downloaded here: the Inbound names it and the worker fetches it
    (`fetch_picture`), so the webhook answers Twilio at once.
    """
    body = (form.get("Body") or "").strip()
    media, photo_error = _first_picture(form)
    has_media = media is not None or photo_error is not None
    return Inbound(
        CHANNEL,
        phone,
        external_id=message_sid,
        # An MMS without words is a picture, not an empty text.
        text=None if has_media and not body else body,
        media=media,
        photo_error=photo_error,
        meta={"limit_mb": MAX_MMS_MB},
    )


def _first_picture(form) -> tuple[dict | None, str | None]:
    """The first picture of an MMS, to fetch; or why there is none to keep."""
    declared_count = form.get("NumMedia") or "0"
    count = min(int(declared_count), MAX_MEDIA) if declared_count.isdigit() else 0
    for index in range(count):
        url = form.get(f"MediaUrl{index}", "")
        declared = (form.get(f"MediaContentType{index}") or "").lower()
        if url and declared.startswith("image/"):
            return {"url": url, "content_type": declared}, None
    # A vCard, a sound, a video: not something the bot can keep.
    return None, ("not_image" if count else None)


def fetch_picture(media: dict, settings: Settings) -> tuple[StoredPhoto | None, str | None]:
    """Downloads and stores an MMS picture (in the worker); returns (photo, why not)."""
    try:
        return _store_media(media["url"], settings), None
    except PhotoError as exc:
        return None, exc.reason


def _store_media(url: str, settings: Settings) -> StoredPhoto:
    try:
        data, content_type = fetch_media(
            url,
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            settings.TWILIO_API_BASE_URL,
            max_bytes=MAX_MMS_BYTES,
        )
    except MediaTooBig as exc:
        raise PhotoError("too_big") from exc
    except (requests.RequestException, ValueError, OSError) as exc:
        log.warning("MMS media %s could not be downloaded: %s", url, exc)
        raise PhotoError("download_failed") from exc
    if content_type and not content_type.startswith("image/"):
        raise PhotoError("not_image")
    return store_photo(data, settings.MEDIA_DIR)


# --- delivery receipts ----------------------------------------------------------------------


@bp.post(STATUS_PATH)
def status_callback() -> Response:
    """Records a delivery receipt against the outbox message Twilio names."""
    rt = _runtime_with_sms()
    if not signature_is_valid(rt.settings):
        abort(403)
    form = request.form
    message_sid = message_sid_of(form)
    twilio_status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    status = STATUS_MAP.get(twilio_status)
    if message_sid and status is not None:
        error = form.get("ErrorCode")
        reason = f"Twilio {twilio_status}" + (f": error {error}" if error else "")
        with rt.db.transaction() as session:
            known = record_delivery(session, message_sid, status, error=reason, at=utcnow())
        if not known:
            # Not ours, or a receipt that beat the worker's own record of the send.
            log.info("delivery receipt for unknown message %s ignored", message_sid)
    return Response("", status=200)


def _runtime_with_sms() -> Runtime:
    rt = current_runtime()
    if not rt.settings.sms_enabled:
        abort(404)  # no auth token: nothing could be verified
    return rt


# --- send -------------------------------------------------------------------------------------


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
        try:
            created = self.client.messages.create(
                to=message.address,
                body=body,
                status_callback=self.status_callback,
                **self.sender,
            )
        except TwilioRestException as exc:
            raise send_failure(exc) from exc
        except (requests.RequestException, OSError) as exc:
            raise TemporaryFailure(f"Twilio unreachable: {type(exc).__name__}") from exc
        return created.sid


def send_failure(exc: TwilioRestException) -> TemporaryFailure | PermanentFailure:
    """Classifies a refused send: try again later, or never for this citizen."""
    reason = f"Twilio error {exc.code} (HTTP {exc.status}): {exc.msg}"
    if exc.code in OPTED_OUT_CODES:
        return PermanentFailure(reason, citizen_flag="opted_out")
    if exc.code in UNREACHABLE_CODES:
        return PermanentFailure(reason, citizen_flag="unreachable")
    if exc.code == RATE_LIMIT_CODE or exc.status == 429 or exc.status >= 500:
        return TemporaryFailure(reason)
    if exc.code in CONFIGURATION_CODES:
        log.error("SMS cannot be sent until the Twilio settings are fixed: %s", reason)
        return TemporaryFailure(reason)
    return PermanentFailure(reason)
