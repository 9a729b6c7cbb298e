"""A local stand-in for Twilio's REST API: the Messages and Media calls the product makes.

Tests and benchmarks point ``TWILIO_API_BASE_URL`` at it (see
``webhooks.twilio_http``); the real twilio ``Client`` then talks to it exactly
as it would to api.twilio.com, so the request the project builds and the errors
it has to handle (``TwilioRestException`` with ``.status`` / ``.code``) are the
real ones. Delivery receipts are posted by the tests themselves, from the real
forms in tests/fixtures/twilio/.

What it reproduces, and where it knowingly differs from Twilio:

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``: Basic auth (401,
  20003), the validation errors 21604 / 21603 / 21602 / 21211 / 21212 / 21617 and
  opt-out 21610, a 201 Message resource with GSM-7 / UCS-2 segment counts. A send
  through a Messaging Service alone starts ``accepted`` with ``from`` null, as on
  Twilio; a send with ``From`` starts ``queued``.
- ``GET .../Messages/{Sid}/Media/{MediaSid}``: Basic auth, then (like Twilio with
  "Enforce HTTP Auth on Media URLs", now the default) a 307 redirect to a
  short-lived unauthenticated CDN URL, here ``/mms-cdn/{token}`` on the same
  server. A downloader must follow redirects.
- Failure injection: ``fail_next`` (429 -> 20429, 500, 503), ``enforce_limits``
  (429 beyond a rate), ``unsubscribe`` (21610), ``invalid_number`` (21211),
  ``set_down`` (connection refused).
- Not reproduced: sender ownership (21606), fetching or listing messages,
  scheduling, prices, the queue behind a Messaging Service.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

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


def _pack(costs: list[int], single: int, multi: int) -> int:
    """Count parts, never splitting an escape pair or a surrogate pair across two."""
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            parts, used = parts + 1, 0
        used += cost
    return parts


def count_segments(body: str) -> int:
    """Return how many SMS parts Twilio bills for `body` (no Smart Encoding)."""
    if not body:
        return 1
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in body):
        costs = [2 if ch in GSM7_EXTENDED else 1 for ch in body]
        return _pack(costs, GSM7_SINGLE, GSM7_MULTI)
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in body]
    return _pack(costs, UCS2_SINGLE, UCS2_MULTI)


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

    # -- recording ------------------------------------------------------------

    @property
    def messages(self) -> list[MessageRecord]:
        """Accepted sends, oldest first: the form params received plus "sid"."""
        with self._lock:
            return [dict(record) for record in self._records]

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
        route = ROUTE_MESSAGES if request.method == "POST" else ROUTE_MEDIA
        match = route.match(request.path)
        if match is None or match["account"] != self.account_sid:
            return _json(*twilio_error(20404, path=request.path))
        if request.method == "POST":
            form = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
            return _json(*self._create_message(dict(form)))
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
        body = params.get("Body", "")
        if not to:
            return twilio_error(21604)
        if not from_ and not params.get("MessagingServiceSid"):
            return twilio_error(21603)
        if not body:
            return twilio_error(21602)
        if to in self._invalid or not E164.match(to):
            return twilio_error(21211, to=to)
        if from_ and not (
            E164.match(from_) or SHORT_CODE.match(from_) or ALPHANUMERIC_SENDER.match(from_)
        ):
            return twilio_error(21212, from_=from_)
        if len(body) > MAX_BODY_CHARS:
            return twilio_error(21617)
        if to in self._unsubscribed:
            return twilio_error(21610)
        resource = self._new_resource(params)
        self._resources[resource["sid"]] = resource
        return 201, resource

    def _new_resource(self, params: MessageRecord) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        now = rfc2822(datetime.now(UTC))
        from_ = params.get("From") or None
        body = params["Body"]
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
            "num_media": "0",
            "num_segments": str(count_segments(body)),
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


def _json(
    status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    headers = {"Twilio-Request-Id": f"RQ{secrets.token_hex(16)}", **(headers or {})}
    body = json.dumps(payload).encode("utf-8")
    return Response(status, body, "application/json; charset=utf-8", headers)
