"""A local stand-in for Twilio's REST API: the Messages, Media and Content calls the product makes.

Tests and benchmarks point ``TWILIO_API_BASE_URL`` at it (see
``webhooks.twilio.client``, which moves api.twilio.com and content.twilio.com
alike); the real twilio ``Client`` then talks to it exactly as it would to
Twilio, so the request the project builds and the errors it has to handle
(``TwilioRestException`` with ``.status`` / ``.code``) are the real ones. SMS
delivery receipts are posted by the tests themselves, from the real forms in
tests/fixtures/twilio/ (WhatsApp ones in tests/fixtures/whatsapp/).

What it reproduces, and where it knowingly differs from Twilio:

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``: Basic auth (401,
  20003), the validation errors 21604 / 21603 / 21602 / 21211 / 21212 / 21617 and
  opt-out 21610, a 201 Message resource with GSM-7 / UCS-2 segment counts. A send
  through a Messaging Service alone starts ``accepted`` with ``from`` null, as on
  Twilio; a send with ``From`` starts ``queued``.
- WhatsApp (``To=whatsapp:+…``): ``ContentSid`` / ``ContentVariables`` (21654 without
  a sid, 21655 unknown sid, 21656 not a JSON object of non-empty strings) or
  ``Body`` / ``MediaUrl``. Like Twilio, WhatsApp's own refusals are not REST errors:
  the send gets its 201 ``queued``, then goes ``failed`` with an ``ErrorCode`` in a
  status callback signed with ``X-Twilio-Signature`` (63016 outside the 24-hour
  window, set by `whatsapp_inbound`, for anything but an approved template; 63015
  sandbox not joined; 63005 an unapproved quick reply of more than three buttons;
  63018 / 63024 injected). The daily cap (63038, 429) and opt-out (21610) are
  synchronous. `deliver` posts the later statuses (sent, delivered, read).
- Content API (``/v1/Content`` on content.twilio.com): create (201, ``HX…``; 400 for
  list pickers over 10 items or 24-character items, quick replies over 10 actions
  or 20-character titles), fetch, list (paged, ``meta.key = contents``) and
  ``ApprovalRequests``. `approved_template` registers an approved utility template;
  nothing else is ever approved (no approval workflow).
- ``GET .../Messages/{Sid}/Media/{MediaSid}``: Basic auth, then (like Twilio with
  "Enforce HTTP Auth on Media URLs", now the default) a 307 redirect to a
  short-lived unauthenticated CDN URL, here ``/mms-cdn/{token}`` on the same
  server. A downloader must follow redirects.
- Failure injection: ``fail_next`` (429 -> 20429, 500, 503), ``enforce_limits``
  (429 beyond a rate), ``unsubscribe`` (21610), ``invalid_number`` (21211),
  ``sandbox_not_joined`` (63015), ``fail_whatsapp_next`` (63018, 63024...),
  ``whatsapp_daily_limit`` (63038), ``set_down`` (connection refused).
- Not reproduced: sender ownership (21606), fetching or listing messages,
  scheduling, prices, the queue behind a Messaging Service, callback retries,
  the Content API's exact validation code (it answers 400 with code 20001).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import requests
from twilio.request_validator import RequestValidator

from tests.fakes.server import FakeServer, Request, Response

TEST_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TEST_AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
API_VERSION = "2010-04-01"

MessageRecord = dict[str, Any]

# Twilio's error vocabulary: code -> (HTTP status, message template).
ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource {path} was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21212: (
        400,
        "The 'From' number {from_} is not a valid phone number, shortcode, "
        "or alphanumeric sender ID.",
    ),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21654: (400, "A ContentSid must be specified if ContentVariables are provided in the request."),
    21655: (400, "The ContentSid is Invalid"),
    21656: (400, "The ContentVariables Parameter is invalid"),
    63038: (429, "Account exceeded the daily messages limit"),
    # Content API validation (content.twilio.com answers 400 with Twilio's error JSON).
    20001: (400, "{detail}"),
}
# WhatsApp's refusals, reported after the 201: the message goes "failed" with this
# ErrorCode in the resource and in the status callback (Twilio's WhatsApp error mapping).
ASYNC_ERRORS = {
    63005: "Channel did not accept given content.",
    63015: "Channel Sandbox can only send messages to phone numbers that have joined the Sandbox",
    63016: "Failed to send freeform message because you are outside the allowed window. "
    "If you are using WhatsApp, please use a Message Template.",
    63018: "Rate limit exceeded for Channel",
    63024: "Invalid message recipient",
}
# fail_next(status=...) -> the error code Twilio answers with that status.
INJECTABLE_STATUSES = {429: 20429, 500: 20500, 503: 20503}

MAX_BODY_CHARS = 1600

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
SHORT_CODE = re.compile(r"^\d{3,8}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")

_ACCOUNT = r"/2010-04-01/Accounts/(?P<account>[^/]+)"
ROUTE_MESSAGES = re.compile(_ACCOUNT + r"/Messages\.json$")
ROUTE_MEDIA = re.compile(_ACCOUNT + r"/Messages/(?P<sid>[^/]+)/Media/(?P<media>[^/.]+)$")
ROUTE_CDN = re.compile(r"^/mms-cdn/(?P<token>[0-9a-f]+)$")
ROUTE_CONTENT = re.compile(
    r"^/v1/Content(?:/(?P<sid>HX[0-9a-f]{32}))?(?P<approvals>/ApprovalRequests)?$"
)

WHATSAPP = "whatsapp:"
SESSION_WINDOW = timedelta(hours=24)
# Content API limits (twilio/list-picker, twilio/quick-reply pages of the Content docs).
LIST_ITEMS, LIST_ITEM_CHARS, LIST_DESCRIPTION_CHARS = 10, 24, 72
QUICK_REPLY_ACTIONS, ACTION_TITLE_CHARS = 10, 20
SESSION_QUICK_REPLIES = 3  # in session, without approval, WhatsApp shows three buttons
CALLBACK_DELAY = 0.05  # seconds between the 201 and the "failed" callback
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")

# --- SMS segments ------------------------------------------------------------
# GSM 03.38 default alphabet (ESC excluded: it only introduces the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs two septets (ESC + char).
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
GSM7_SINGLE, GSM7_MULTI = 160, 153  # septets; a UDH takes 7 in each part
UCS2_SINGLE, UCS2_MULTI = 70, 67  # UTF-16 code units


ESC = "\x1b"  # GSM 03.38's escape septet, sent before each extension character


def _parts(units: list, single: int, multi: int, opens_pair) -> list[list]:
    """Cut the encoded message the way a carrier does: one part when it fits, or parts of
    `multi` units, a cut that would leave a pair's first unit (an escape, a high
    surrogate) at a part's end moved one unit earlier."""
    if len(units) <= single:
        return [units]
    parts = []
    while units:
        if len(units) <= multi:
            cut = len(units)
        else:
            cut = multi - 1 if opens_pair(units[multi - 1]) else multi
        parts.append(units[:cut])
        units = units[cut:]
    return parts


def count_segments(body: str) -> int:
    """Return how many SMS parts Twilio bills for `body` (no Smart Encoding).

    An oracle of its own, not the product's arithmetic: the body is encoded as the
    network sends it (septets with their escapes, or UTF-16 code units) and cut."""
    if not body:
        return 1
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in body):
        septets = [unit for ch in body for unit in ((ESC, ch) if ch in GSM7_EXTENDED else (ch,))]
        return len(_parts(septets, GSM7_SINGLE, GSM7_MULTI, lambda unit: unit == ESC))
    raw = body.encode("utf-16-be")
    units = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    return len(_parts(units, UCS2_SINGLE, UCS2_MULTI, lambda unit: 0xD800 <= unit <= 0xDBFF))


# --- Twilio's formats ------------------------------------------------------------


def rfc2822(moment: datetime) -> str:
    """Format a date like Twilio's resources do: 'Thu, 24 Aug 2023 05:01:45 +0000'."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def twilio_error(code: int, **details: str) -> tuple[int, dict[str, Any]]:
    """Return (HTTP status, Twilio's error JSON) for a Twilio error code."""
    status, template = ERRORS[code]
    return status, {
        "code": code,
        "message": template.format(**details),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


# --- the fake ------------------------------------------------------------------


@dataclass(frozen=True)
class _Media:
    message_sid: str
    media_sid: str
    data: bytes
    content_type: str


class FakeTwilioAPI(FakeServer):
    """Twilio's Messages REST API on 127.0.0.1, with recording and failure injection."""

    name = "fake-twilio"
    server_version = "FakeTwilio/1.0"

    def __init__(
        self,
        account_sid: str = TEST_ACCOUNT_SID,
        auth_token: str = TEST_AUTH_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._reset_state()

    def _reset_state(self) -> None:
        self._records: list[MessageRecord] = []
        self._resources: dict[str, dict[str, Any]] = {}
        self._media: dict[tuple[str, str], _Media] = {}
        self._cdn: dict[str, _Media] = {}
        self._unsubscribed: set[str] = set()
        self._invalid: set[str] = set()
        self._failures: deque[int] = deque()
        self._per_second: float | None = None
        self._window: deque[float] = deque()
        self._rejected_429 = 0
        # WhatsApp: last inbound per number, sandbox, async failures, daily cap.
        self._last_inbound: dict[str, datetime] = {}
        self._not_joined: set[str] = set()
        self._async_failures: deque[int] = deque()
        self._daily_limit: int | None = None
        self._whatsapp_today = 0
        self._contents: dict[str, dict[str, Any]] = {}
        self._approved: set[str] = set()
        self._callbacks: list[dict[str, Any]] = []
        self._refusals: dict[str, int] = {}  # sid -> the error WhatsApp reports after the 201

    # -- recording ------------------------------------------------------------

    @property
    def messages(self) -> list[MessageRecord]:
        """Accepted sends, oldest first: the form params received plus "sid"."""
        with self._lock:
            return [
                {key: value for key, value in record.items() if not key.startswith("_")}
                for record in self._records
            ]

    @property
    def rejected_429(self) -> int:
        """How many sends were answered 429 (rate limit or `fail_next`)."""
        with self._lock:
            return self._rejected_429

    def sent_to(self, number: str) -> list[MessageRecord]:
        """Accepted sends whose To is `number`."""
        return [record for record in self.messages if record.get("To") == number]

    def message(self, sid: str) -> dict[str, Any]:
        """The Message resource as Twilio holds it now (status, num_segments...)."""
        with self._lock:
            return dict(self._resources[sid])

    def reset(self) -> None:
        """Forget messages, media, counters and every injected failure or limit."""
        with self._lock:
            self._reset_state()

    def whatsapp_sent_to(self, number: str) -> list[dict[str, Any]]:
        """Accepted WhatsApp sends to `number` (bare or ``whatsapp:``), as the citizen sees them.

        Each: sid, body (Body, or the content's text with its variables filled),
        content_sid, content_variables (parsed), media_url (list), status, error_code.
        """
        address = WHATSAPP + _bare(number)
        with self._lock:
            return [
                {
                    "sid": r["sid"],
                    "body": self._rendered(r),
                    "content_sid": r.get("ContentSid"),
                    "content_variables": json.loads(r.get("ContentVariables") or "{}"),
                    "media_url": list(r.get("_media_urls", [])),
                    "status": self._resources[r["sid"]]["status"],
                    "error_code": self._resources[r["sid"]]["error_code"],
                }
                for r in self._records
                if r.get("To") == address
            ]

    @property
    def callbacks(self) -> list[dict[str, Any]]:
        """Status callbacks posted so far: url, form, signature, answer (HTTP status or None)."""
        with self._lock:
            return [dict(callback) for callback in self._callbacks]

    def wait_for_callbacks(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until `n` status callbacks were posted (or `timeout`); return them all."""
        found = self._wait_until(lambda: list(self._callbacks), lambda c: len(c) >= n, timeout)
        return [dict(callback) for callback in found]

    # -- WhatsApp -------------------------------------------------------------------

    def whatsapp_inbound(self, number: str, at: datetime | None = None) -> None:
        """Record the citizen's last message (now, or `at`): it opens their 24-hour window."""
        with self._lock:
            self._last_inbound[_bare(number)] = at or datetime.now(UTC)

    def in_session(self, number: str, now: datetime | None = None) -> bool:
        """Tell whether free-form messages to `number` are allowed (last inbound < 24 h ago)."""
        with self._lock:
            last = self._last_inbound.get(_bare(number))
        return last is not None and (now or datetime.now(UTC)) - last < SESSION_WINDOW

    def sandbox_not_joined(self, number: str) -> None:
        """Make WhatsApp sends to `number` fail with 63015, as in the sandbox before "join"."""
        with self._lock:
            self._not_joined.add(_bare(number))

    def fail_whatsapp_next(self, n: int = 1, code: int = 63018) -> None:
        """Accept the next `n` WhatsApp sends, then fail them with `code` (63018, 63024...)."""
        if code not in ASYNC_ERRORS:
            raise ValueError(f"code must be one of {sorted(ASYNC_ERRORS)}")
        with self._lock:
            self._async_failures.extend([code] * n)

    def whatsapp_daily_limit(self, limit: int | None) -> None:
        """Refuse (429, 63038) WhatsApp sends beyond `limit` from now on; None disables."""
        with self._lock:
            self._daily_limit, self._whatsapp_today = limit, 0

    def approved_template(self, language: str, body: str, friendly_name: str = "") -> str:
        """Register a WhatsApp-approved utility template (twilio/text); return its HX sid."""
        variables = {name: f"sample {name}" for name in PLACEHOLDER.findall(body)}
        request = {
            "friendly_name": friendly_name or f"report_update_{language}",
            "language": language,
            "variables": variables,
            "types": {"twilio/text": {"body": body}},
        }
        with self._lock:
            _, content = self._create_content(request)
            self._approved.add(content["sid"])
        return content["sid"]

    def deliver(self, sid: str, *statuses: str) -> list[dict[str, Any]]:
        """Move a message through `statuses` ("sent", "delivered", "read"), posting each one."""
        return [self._post_callback(sid, status) for status in statuses]

    # -- failure injection ------------------------------------------------------

    def unsubscribe(self, number: str) -> None:
        """Make sends to `number` fail with 21610, as after the citizen texted STOP."""
        with self._lock:
            self._unsubscribed.add(number)

    def invalid_number(self, number: str) -> None:
        """Make sends to `number` fail with 21211 (malformed numbers already do)."""
        with self._lock:
            self._invalid.add(number)

    def fail_next(self, n: int = 1, status: int = 429) -> None:
        """Answer the next `n` sends with `status` (429 -> 20429, 500 -> 20500, 503 -> 20503)."""
        if status not in INJECTABLE_STATUSES:
            raise ValueError(f"status must be one of {sorted(INJECTABLE_STATUSES)}")
        with self._lock:
            self._failures.extend([status] * n)

    def enforce_limits(self, per_second: float | None) -> None:
        """Answer 429 (20429) to sends beyond `per_second` in any one-second window.

        A sliding window rather than a token bucket: no second ever sees more
        than `per_second` accepted sends. None disables.
        """
        with self._lock:
            self._per_second = per_second
            self._window.clear()

    # -- media --------------------------------------------------------------------

    def add_media(self, message_sid: str, media_sid: str, data: bytes, content_type: str) -> str:
        """Store a picture of an inbound MMS; return the URL Twilio puts in MediaUrlN."""
        with self._lock:
            self._media[(message_sid, media_sid)] = _Media(
                message_sid, media_sid, data, content_type
            )
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message_sid}"
        return f"{self.base_url}{path}/Media/{media_sid}"

    # -- request handling (called from the server's threads) -------------------------

    def handle(self, request: Request) -> Response:
        if request.method == "GET" and (cdn := ROUTE_CDN.match(request.path)):
            with self._lock:
                media = self._cdn.get(cdn["token"])
            if media is None:
                return Response(404, b"Not Found", "text/plain")
            return Response(200, media.data, media.content_type)
        if not self._authorized(request.headers.get("Authorization")):
            return _json(*twilio_error(20003), {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if content := ROUTE_CONTENT.match(request.path):
            return _json(*self._content_api(request, content))
        route = ROUTE_MESSAGES if request.method == "POST" else ROUTE_MEDIA
        match = route.match(request.path)
        if match is None or match["account"] != self.account_sid:
            return _json(*twilio_error(20404, path=request.path))
        if request.method == "POST":
            form = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
            params: MessageRecord = dict(form)
            if media := [value for key, value in form if key == "MediaUrl"]:
                params["_media_urls"] = media
            return _json(*self._create_message(params))
        with self._lock:
            media = self._media.get((match["sid"], match["media"]))
            if media is None:
                return _json(*twilio_error(20404, path=request.path))
            token = secrets.token_hex(20)
            self._cdn[token] = media
        return Response(307, b"", "text/plain", {"Location": f"{self.base_url}/mms-cdn/{token}"})

    def internal_error(self) -> Response:
        return _json(*twilio_error(20500))

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected_user = hmac.compare_digest(user.encode(), self.account_sid.encode())
        expected_password = hmac.compare_digest(password.encode(), self.auth_token.encode())
        return expected_user and expected_password

    def _create_message(self, params: MessageRecord) -> tuple[int, dict[str, Any]]:
        with self._changed:
            status, payload = self._admit(params)
            if status == 201:
                self._records.append({**params, "sid": payload["sid"]})
                self._changed.notify_all()
                if payload["sid"] in self._refusals:
                    # After the 201, as on Twilio: WhatsApp refuses, the callback says so.
                    threading.Timer(CALLBACK_DELAY, self._report_refusal, (payload["sid"],)).start()
            elif status == 429:
                self._rejected_429 += 1
            return status, payload

    def _admit(self, params: MessageRecord) -> tuple[int, dict[str, Any]]:
        """Decide like Twilio: injected outage, rate limit, validation, opt-out, then create."""
        if self._failures:
            return twilio_error(INJECTABLE_STATUSES[self._failures.popleft()])
        if self._per_second is not None:
            now = time.monotonic()
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self._per_second:
                return twilio_error(20429)
            self._window.append(now)
        to, from_ = params.get("To", ""), params.get("From", "")
        body, content_sid = params.get("Body", ""), params.get("ContentSid", "")
        whatsapp = to.startswith(WHATSAPP)
        if not to:
            return twilio_error(21604)
        if not from_ and not params.get("MessagingServiceSid"):
            return twilio_error(21603)
        if params.get("ContentVariables") and not content_sid:
            return twilio_error(21654)
        if not (body or content_sid or (whatsapp and params.get("_media_urls"))):
            return twilio_error(21602)
        if to in self._invalid or not E164.match(_bare(to) if whatsapp else to):
            return twilio_error(21211, to=to)
        if from_ and not (
            E164.match(_bare(from_) if whatsapp else from_)
            or (not whatsapp and (SHORT_CODE.match(from_) or ALPHANUMERIC_SENDER.match(from_)))
        ):
            return twilio_error(21212, from_=from_)
        if content_sid and content_sid not in self._contents:
            return twilio_error(21655)
        if content_sid and not _variables_ok(params.get("ContentVariables")):
            return twilio_error(21656)
        if len(body) > MAX_BODY_CHARS:
            return twilio_error(21617)
        if to in self._unsubscribed or _bare(to) in self._unsubscribed:
            return twilio_error(21610)
        if whatsapp and self._daily_limit is not None:
            if self._whatsapp_today >= self._daily_limit:
                return twilio_error(63038)
            self._whatsapp_today += 1
        resource = self._new_resource(params)
        if whatsapp and (code := self._whatsapp_refusal(params)):
            self._refusals[resource["sid"]] = code
        self._resources[resource["sid"]] = resource
        return 201, resource

    def _whatsapp_refusal(self, params: MessageRecord) -> int | None:
        """The error WhatsApp will report for this accepted send, if any (63015, 63016...)."""
        number = _bare(params["To"])
        if number in self._not_joined:
            return 63015
        content = self._contents.get(params.get("ContentSid", ""))
        approved = content is not None and content["sid"] in self._approved
        if not approved and not self.in_session(number):
            return 63016
        quick_reply = (content or {}).get("types", {}).get("twilio/quick-reply")
        if not approved and quick_reply and len(quick_reply["actions"]) > SESSION_QUICK_REPLIES:
            return 63005
        if self._async_failures:
            return self._async_failures.popleft()
        return None

    def _rendered(self, record: MessageRecord) -> str:
        content = self._contents.get(record.get("ContentSid", ""))
        if content is None:
            return record.get("Body", "")
        values = {**content["variables"], **json.loads(record.get("ContentVariables") or "{}")}
        body = next(iter(content["types"].values())).get("body", "")
        return PLACEHOLDER.sub(lambda m: str(values.get(m[1], m[0])), body)

    # -- status callbacks -------------------------------------------------------------

    def _report_refusal(self, sid: str) -> None:
        with contextlib.suppress(KeyError):  # reset() meanwhile: nothing left to report
            self._post_callback(sid)

    def _post_callback(self, sid: str, status: str | None = None) -> dict[str, Any]:
        """POST Twilio's signed status form for `sid` to its StatusCallback; record it."""
        with self._lock:
            resource = self._resources[sid]
            record = next(r for r in self._records if r["sid"] == sid)
            if code := self._refusals.get(sid):
                # A message WhatsApp refused only ever reports "failed".
                status = "failed"
                resource["error_code"], resource["error_message"] = code, ASYNC_ERRORS[code]
            resource["status"] = status = status or resource["status"]
            url = record.get("StatusCallback")
            to, from_ = resource["to"], resource["from"] or record.get("From", "")
            form = {
                **(
                    {"ChannelPrefix": "whatsapp", "ChannelToAddress": _masked(to)}
                    if to.startswith(WHATSAPP)
                    else {}
                ),
                "SmsSid": sid,
                "SmsStatus": status,
                "MessageStatus": status,
                "To": to,
                "MessageSid": sid,
                "AccountSid": self.account_sid,
                "From": from_,
                "ApiVersion": API_VERSION,
            }
            if resource["error_code"]:
                form = {"ErrorCode": str(resource["error_code"]), **form}
        callback: dict[str, Any] = {"url": url, "form": form, "answer": None}
        if url:
            callback["signature"] = RequestValidator(self.auth_token).compute_signature(url, form)
            headers = {"X-Twilio-Signature": callback["signature"], "User-Agent": "TwilioProxy/1.1"}
            # Unreachable: Twilio would retry later; the test sees answer None.
            with contextlib.suppress(requests.RequestException), requests.Session() as session:
                session.trust_env = False  # callbacks go to the tests' servers, never a proxy
                answer = session.post(url, data=form, headers=headers, timeout=5)
                callback["answer"] = answer.status_code
        with self._changed:
            self._callbacks.append(callback)
            self._changed.notify_all()
        return callback

    # -- Content API ----------------------------------------------------------------------

    def _content_api(self, request: Request, match: re.Match[str]) -> tuple[int, dict[str, Any]]:
        sid = match["sid"]
        with self._lock:
            if request.method == "POST" and sid is None:
                try:
                    body = json.loads(request.body or b"{}")
                except ValueError:
                    return twilio_error(20001, detail="Request body is not valid JSON")
                return self._create_content(body)
            if request.method != "GET" or (sid and sid not in self._contents):
                return twilio_error(20404, path=request.path)
            if sid is None:
                return 200, self._content_page(request.query)
            if match["approvals"]:
                return 200, self._approval(sid)
            return 200, self._contents[sid]

    def _create_content(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        # The twilio library sends every type it knows, the unused ones as null.
        types = {name: spec for name, spec in (body.get("types") or {}).items() if spec}
        if not body.get("language") or not types:
            return twilio_error(20001, detail="language and types are required")
        if problem := _content_problem(types):
            return twilio_error(20001, detail=problem)
        sid = "HX" + secrets.token_hex(16)
        now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        url = f"https://content.twilio.com/v1/Content/{sid}"
        self._contents[sid] = {
            "account_sid": self.account_sid,
            "date_created": now,
            "date_updated": now,
            "friendly_name": body.get("friendly_name"),
            "language": body["language"],
            "links": {
                "approval_create": f"{url}/ApprovalRequests/whatsapp",
                "approval_fetch": f"{url}/ApprovalRequests",
            },
            "sid": sid,
            "types": types,
            "url": url,
            "variables": body.get("variables") or {},
        }
        return 201, self._contents[sid]

    def _content_page(self, query: str) -> dict[str, Any]:
        args = {key: values[0] for key, values in parse_qs(query).items()}
        size, page = int(args.get("PageSize", 50)), int(args.get("Page", 0))
        contents = list(self._contents.values())
        base = "https://content.twilio.com/v1/Content"

        def url(n: int) -> str:
            return f"{base}?PageSize={size}&Page={n}"

        more = (page + 1) * size < len(contents)
        return {
            "contents": contents[page * size : (page + 1) * size],
            "meta": {
                "page": page,
                "page_size": size,
                "first_page_url": url(0),
                "previous_page_url": url(page - 1) if page else None,
                "url": url(page),
                "next_page_url": url(page + 1) if more else None,
                "key": "contents",
            },
        }

    def _approval(self, sid: str) -> dict[str, Any]:
        content = self._contents[sid]
        approved = sid in self._approved
        return {
            "account_sid": self.account_sid,
            "sid": sid,
            "url": content["links"]["approval_fetch"],
            "whatsapp": {
                "category": "UTILITY" if approved else "",
                "content_type": next(iter(content["types"])),
                "name": content["friendly_name"] or "",
                "rejection_reason": "",
                "status": "approved" if approved else "unsubmitted",
                "type": "whatsapp",
            },
        }

    def _new_resource(self, params: MessageRecord) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        now = rfc2822(datetime.now(UTC))
        from_ = params.get("From") or None
        body = params.get("Body", "")
        whatsapp = params["To"].startswith(WHATSAPP)
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            # Through a Messaging Service alone, the sender is chosen later.
            "from": from_,
            "messaging_service_sid": params.get("MessagingServiceSid") or None,
            "num_media": str(len(params.get("_media_urls", []))),
            "num_segments": "1" if whatsapp else str(count_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if from_ else "accepted",
            "subresource_uris": {
                "media": f"{uri}/Media.json",
                "feedback": f"{uri}/Feedback.json",
            },
            "to": params["To"],
            "uri": f"{uri}.json",
        }


def _bare(address: str) -> str:
    """``whatsapp:+33612345678`` -> ``+33612345678`` (a bare number is returned as is)."""
    return address.removeprefix(WHATSAPP)


def _masked(address: str) -> str:
    """The recipient as WhatsApp status callbacks show it: ``+336123XXXXX``."""
    number = _bare(address)
    return number[:7] + "X" * (len(number) - 7)


def _variables_ok(raw: str | None) -> bool:
    """ContentVariables must be a JSON object of non-empty strings (else 21656)."""
    if not raw:
        return True
    try:
        variables = json.loads(raw)
    except ValueError:
        return False
    return isinstance(variables, dict) and all(
        isinstance(value, str) and value for value in variables.values()
    )


def _content_problem(types: Mapping[str, Any]) -> str | None:
    """What the Content API refuses in `types` (limits of the Content docs), or None."""
    picker = types.get("twilio/list-picker")
    if picker is not None:
        items = picker.get("items") or []
        if not 1 <= len(items) <= LIST_ITEMS:
            return f"twilio/list-picker items must be between 1 and {LIST_ITEMS}"
        for item in items:
            if len(item.get("item", "")) > LIST_ITEM_CHARS:
                return f"twilio/list-picker item exceeds {LIST_ITEM_CHARS} characters"
            if len(item.get("description", "")) > LIST_DESCRIPTION_CHARS:
                return f"twilio/list-picker description exceeds {LIST_DESCRIPTION_CHARS} characters"
    quick = types.get("twilio/quick-reply")
    if quick is not None:
        actions = quick.get("actions") or []
        if not 1 <= len(actions) <= QUICK_REPLY_ACTIONS:
            return f"twilio/quick-reply actions must be between 1 and {QUICK_REPLY_ACTIONS}"
        if any(len(action.get("title", "")) > ACTION_TITLE_CHARS for action in actions):
            return f"twilio/quick-reply title exceeds {ACTION_TITLE_CHARS} characters"
    return None


def _json(
    status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    headers = {"Twilio-Request-Id": f"RQ{secrets.token_hex(16)}", **(headers or {})}
    body = json.dumps(payload).encode("utf-8")
    return Response(status, body, "application/json; charset=utf-8", headers)
