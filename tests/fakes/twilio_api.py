"""A local stand-in for Twilio's REST API (Messages, Media) and its status callbacks.

Tests and benchmarks point ``TWILIO_API_BASE_URL`` at it (see
``webhooks.twilio_http``); the real twilio ``Client`` then talks to it exactly
as it would to api.twilio.com, so the request the project builds, the errors
it has to handle (``TwilioRestException`` with ``.status`` / ``.code``) and
the callbacks it has to verify are the real ones.

What it reproduces, and where it knowingly differs from Twilio:

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``: Basic auth, the
  validation errors 21604 / 21603 / 21602 / 21211 / 21212 / 21617 and opt-out
  21610, a 201 Message resource with GSM-7 / UCS-2 segment counts. A send
  through a Messaging Service alone starts ``accepted`` with ``from`` null, as
  on Twilio; a send with ``From`` starts ``queued``. Nothing is ever delivered
  on its own: the test decides with ``deliver_status``.
- ``GET .../Messages/{Sid}.json`` returns the resource as it stands.
- ``GET .../Messages/{Sid}/Media/{MediaSid}``: Basic auth, then (like Twilio
  with "Enforce HTTP Auth on Media URLs", now the default) a 307 redirect to a
  short-lived unauthenticated CDN URL, here ``/mms-cdn/{token}`` on the same
  server. A downloader must follow redirects (httpx does not by default).
  ``media_redirect=False`` serves the bytes directly instead.
- Not reproduced: sender ownership (21606), scheduling, message lists and
  deletion, prices, the queue behind a Messaging Service.

Run it alone with ``python -m tests.fakes.twilio_api --port 8082 --sid AC... --token ...``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hmac
import json
import re
import secrets
import socket
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

from twilio.request_validator import RequestValidator

TEST_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TEST_AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
API_VERSION = "2010-04-01"
# The sender Twilio picks from a Messaging Service's pool once the message leaves
# the queue; it shows up as From in status callbacks.
DEFAULT_SERVICE_SENDER = "+15005550006"

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

MESSAGE_STATUSES = frozenset(
    {
        "accepted",
        "scheduled",
        "canceled",
        "queued",
        "sending",
        "sent",
        "failed",
        "delivered",
        "undelivered",
        "receiving",
        "received",
        "read",
    }
)
# Twilio reports 30008 ("Unknown error") when a failure has no more precise code.
UNKNOWN_DELIVERY_ERROR = 30008
# Form keys Twilio accepts several times; they are recorded as lists.
REPEATABLE_PARAMS = frozenset({"MediaUrl", "PersistentAction"})
MAX_BODY_CHARS = 1600

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
SHORT_CODE = re.compile(r"^\d{3,8}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")

_ACCOUNT = r"/2010-04-01/Accounts/(?P<account>[^/]+)"
ROUTE_MESSAGES = re.compile(_ACCOUNT + r"/Messages\.json$")
ROUTE_MESSAGE = re.compile(_ACCOUNT + r"/Messages/(?P<sid>[^/]+)\.json$")
ROUTE_MEDIA = re.compile(
    _ACCOUNT + r"/Messages/(?P<sid>[^/]+)/Media/(?P<media>[^/.]+)(?P<json>\.json)?$"
)
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


# --- helpers shared with the project's webhook tests --------------------------


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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Twilio does not follow redirects from a webhook; a test must see the 3xx.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxy from the environment: these posts go to loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def signed_post(
    url: str,
    params: Mapping[str, str],
    auth_token: str,
    *,
    signature_url: str | None = None,
    timeout: float = 10.0,
) -> tuple[int, str]:
    """POST `params` form-encoded to `url` the way Twilio calls a webhook.

    The X-Twilio-Signature is computed over `signature_url` (default: `url`):
    Twilio signs the public URL it called, so a test signs for
    ``PUBLIC_BASE_URL + path`` while posting to the app on loopback.
    Returns (HTTP status, response body) without raising on 4xx/5xx.
    """
    signature = RequestValidator(auth_token).compute_signature(signature_url or url, dict(params))
    request = urllib.request.Request(
        url,
        data=urlencode(params).encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode("utf-8", "replace")


# --- the fake ------------------------------------------------------------------


@dataclass(frozen=True)
class _Media:
    message_sid: str
    media_sid: str
    data: bytes
    content_type: str
    created: datetime


class FakeTwilioAPI:
    """Twilio's Messages REST API on 127.0.0.1, with recording and failure injection."""

    def __init__(
        self,
        account_sid: str = TEST_ACCOUNT_SID,
        auth_token: str = TEST_AUTH_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        media_redirect: bool = True,
        service_sender: str = DEFAULT_SERVICE_SENDER,
        verbose: bool = False,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self.port = port
        self.media_redirect = media_redirect
        self.service_sender = service_sender
        self.verbose = verbose
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._down = False
        self._reset_state()

    def _reset_state(self) -> None:
        self._records: list[MessageRecord] = []
        self._attempts: list[MessageRecord] = []
        self._resources: dict[str, dict[str, Any]] = {}
        self._media: dict[tuple[str, str], _Media] = {}
        self._cdn: dict[str, _Media] = {}
        self._unsubscribed: set[str] = set()
        self._invalid: set[str] = set()
        self._failures: deque[int] = deque()
        self._per_second: float | None = None
        self._window: deque[float] = deque()
        self._accepted = 0
        self._rejected_429 = 0

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> Self:
        """Bind (an ephemeral port unless `port` was given) and serve in a daemon thread."""
        with self._lock:
            if self._server is None:
                self._serve()
                self._down = False
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection."""
        with self._lock:
            self._shutdown()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The REST API root to give `make_client` / ``TWILIO_API_BASE_URL``."""
        if not self.port:
            raise RuntimeError("FakeTwilioAPI is not started")
        return f"http://{self.host}:{self.port}"

    def _serve(self) -> None:
        server = _Server((self.host, self.port), _Handler)
        server.api = self
        # Keep the port: set_down(False) must come back where clients point.
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-twilio-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def _shutdown(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Pooled keep-alive connections would otherwise keep being served.
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._connections.clear()
        if thread is not None:
            thread.join(timeout=5)

    def set_down(self, down: bool = True) -> None:
        """Make Twilio unreachable (True) or reachable again (False).

        Down closes the listening socket and every open connection, so clients
        get "connection refused" / "connection reset" (requests raises
        ConnectionError, not a TwilioRestException), as in a network outage.
        Up listens again on the same port; recorded state is kept.
        """
        with self._lock:
            if down and not self._down:
                self._shutdown()
            elif not down and self._down:
                self._serve()
            self._down = down

    # -- recording ------------------------------------------------------------

    @property
    def messages(self) -> list[MessageRecord]:
        """Accepted sends, oldest first: the form params received plus "sid"."""
        with self._lock:
            return [_copy(record) for record in self._records]

    @property
    def attempts(self) -> list[MessageRecord]:
        """Every Messages POST, accepted or not: form params plus "http_status"."""
        with self._lock:
            return [_copy(record) for record in self._attempts]

    @property
    def accepted(self) -> int:
        """How many sends were answered 201."""
        with self._lock:
            return self._accepted

    @property
    def rejected_429(self) -> int:
        """How many sends were answered 429 (rate limit or `fail_next`)."""
        with self._lock:
            return self._rejected_429

    def sent_to(self, number: str) -> list[MessageRecord]:
        """Accepted sends whose To is `number`."""
        return [record for record in self.messages if record.get("To") == number]

    def message(self, sid: str) -> dict[str, Any]:
        """The Message resource as GET would return it now."""
        with self._lock:
            return dict(self._resources[sid])

    def wait_for(
        self,
        count: int,
        timeout: float = 5.0,
        predicate: Callable[[MessageRecord], bool] | None = None,
    ) -> list[MessageRecord]:
        """Wait until at least `count` accepted sends (matching `predicate`) exist; return them.

        Raises TimeoutError naming what did arrive, for a readable test failure.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [r for r in self.messages if predicate is None or predicate(r)]
                remaining = deadline - time.monotonic()
                if len(matching) >= count or remaining <= 0:
                    break
                self._changed.wait(remaining)
        if len(matching) < count:
            raise TimeoutError(
                f"expected {count} message(s) within {timeout}s, got {len(matching)}: {matching}"
            )
        return matching

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

        A sliding window rather than a token bucket: a benchmark then knows that
        no second ever saw more than `per_second` accepted sends. None disables.
        """
        with self._lock:
            self._per_second = per_second
            self._window.clear()

    # -- media and callbacks ------------------------------------------------------

    def media_url(self, message_sid: str, media_sid: str) -> str:
        """The URL Twilio puts in MediaUrlN of an inbound MMS, here on the fake."""
        return f"{self.base_url}{self._media_path(message_sid, media_sid)}"

    def add_media(self, message_sid: str, media_sid: str, data: bytes, content_type: str) -> str:
        """Store a picture of an inbound MMS; return its media URL."""
        media = _Media(message_sid, media_sid, data, content_type, datetime.now(UTC))
        with self._lock:
            self._media[(message_sid, media_sid)] = media
        return self.media_url(message_sid, media_sid)

    def deliver_status(
        self, message_sid: str, status: str, error_code: int | None = None
    ) -> tuple[int, str]:
        """Move a sent message to `status` and POST Twilio's signed status callback.

        Returns the callback's (HTTP status, body). Failed and undelivered
        statuses carry ErrorCode, 30008 when none is given, as Twilio does.
        """
        if status not in MESSAGE_STATUSES:
            raise ValueError(f"unknown Twilio message status {status!r}")
        if error_code is None and status in ("failed", "undelivered"):
            error_code = UNKNOWN_DELIVERY_ERROR
        with self._lock:
            resource = self._resources[message_sid]
            callback = resource.get("_status_callback")
            if not callback:
                raise ValueError(f"message {message_sid} was sent without StatusCallback")
            now = rfc2822(datetime.now(UTC))
            if resource["from"] is None:
                resource["from"] = self.service_sender
            if status in ("sent", "delivered", "undelivered", "read") and not resource["date_sent"]:
                resource["date_sent"] = now
            resource.update(status=status, date_updated=now, error_code=error_code)
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "From": resource["from"],
                "MessageSid": message_sid,
                "MessageStatus": status,
                "SmsSid": message_sid,
                "SmsStatus": status,
                "To": resource["to"],
            }
            if resource["messaging_service_sid"]:
                params["MessagingServiceSid"] = resource["messaging_service_sid"]
            if error_code is not None:
                params["ErrorCode"] = str(error_code)
        return signed_post(callback, params, self.auth_token)

    # -- request handling (called from the server's threads) -------------------------

    def _media_path(self, message_sid: str, media_sid: str) -> str:
        message_path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message_sid}"
        return f"{message_path}/Media/{media_sid}"

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

    def _create_message(self, form: list[tuple[str, str]]) -> tuple[int, dict[str, Any]]:
        params: MessageRecord = {}
        for key, value in form:
            if key in REPEATABLE_PARAMS:
                params.setdefault(key, []).append(value)
            else:
                params[key] = value
        with self._changed:
            status, payload = self._admit(params)
            self._attempts.append({**params, "http_status": status})
            if status == 201:
                self._accepted += 1
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
        service = params.get("MessagingServiceSid", "")
        body, media_urls = params.get("Body", ""), params.get("MediaUrl", [])
        if not to:
            return twilio_error(21604)
        if not from_ and not service:
            return twilio_error(21603)
        if not body and not media_urls:
            return twilio_error(21602)
        if to in self._invalid or not _is_address(to):
            return twilio_error(21211, to=to)
        if from_ and not _is_sender(from_):
            return twilio_error(21212, from_=from_)
        if len(body) > MAX_BODY_CHARS:
            return twilio_error(21617)
        if to.removeprefix("whatsapp:") in self._unsubscribed or to in self._unsubscribed:
            return twilio_error(21610)
        resource = self._new_resource(params)
        self._resources[resource["sid"]] = resource
        return 201, resource

    def _new_resource(self, params: MessageRecord) -> dict[str, Any]:
        media_urls = params.get("MediaUrl", [])
        # Twilio names MMS "MM..." and SMS "SM...".
        sid = ("MM" if media_urls else "SM") + secrets.token_hex(16)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        now = rfc2822(datetime.now(UTC))
        service = params.get("MessagingServiceSid") or None
        from_ = params.get("From") or None
        body = params.get("Body", "")
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
            "messaging_service_sid": service,
            "num_media": str(len(media_urls)),
            "num_segments": "1" if media_urls else str(count_segments(body)),
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
            # Kept for deliver_status, stripped from responses.
            "_status_callback": params.get("StatusCallback"),
        }

    def _fetch_message(self, sid: str, path: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            resource = self._resources.get(sid)
            if resource is None:
                return twilio_error(20404, path=path)
            return 200, resource

    def _find_media(self, message_sid: str, media_sid: str) -> _Media | None:
        with self._lock:
            return self._media.get((message_sid, media_sid))

    def _cdn_token(self, media: _Media) -> str:
        token = secrets.token_hex(20)
        with self._lock:
            self._cdn[token] = media
        return token

    def _cdn_media(self, token: str) -> _Media | None:
        with self._lock:
            return self._cdn.get(token)

    def _track(self, connection: socket.socket, server: _Server, open_: bool) -> None:
        with self._lock:
            if not open_:
                self._connections.discard(connection)
            elif server is self._server:
                self._connections.add(connection)
            else:
                # Accepted just before set_down()/stop(): refuse it like the rest.
                connection.shutdown(socket.SHUT_RDWR)


def _copy(record: MessageRecord) -> MessageRecord:
    return {k: list(v) if isinstance(v, list) else v for k, v in record.items()}


def _is_address(to: str) -> bool:
    return bool(E164.match(to.removeprefix("whatsapp:")))


def _is_sender(from_: str) -> bool:
    address = from_.removeprefix("whatsapp:")
    return bool(
        E164.match(address) or SHORT_CODE.match(address) or ALPHANUMERIC_SENDER.match(address)
    )


def _public(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if not k.startswith("_")}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # stop() shuts open connections itself; do not wait for their threads.
    block_on_close = False
    api: FakeTwilioAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Connections cut by set_down()/stop() are expected; report anything else.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive like api.twilio.com; every response has Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "FakeTwilio/1.0"
    # Without these two, delayed ACK + Nagle cost ~40 ms per keep-alive call.
    disable_nagle_algorithm = True
    server: _Server

    @property
    def api(self) -> FakeTwilioAPI:
        return self.server.api

    def setup(self) -> None:
        super().setup()
        self.api._track(self.connection, self.server, True)

    def finish(self) -> None:
        self.api._track(self.connection, self.server, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        if self.api.verbose:
            super().log_message(format, *args)

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def do_GET(self) -> None:
        self._dispatch(self._get)

    def _dispatch(self, route: Callable[[str], None]) -> None:
        try:
            route(urlsplit(self.path).path)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self._send_json(*twilio_error(20500))

    def _read_form(self) -> list[tuple[str, str]]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        return parse_qsl(raw, keep_blank_values=True)

    def _post(self, path: str) -> None:
        # Read the body first, whatever the answer: keep-alive needs it consumed.
        form = self._read_form()
        match = ROUTE_MESSAGES.match(path)
        if not self._check_account(match, path):
            return
        self._send_json(*self.api._create_message(form))

    def _get(self, path: str) -> None:
        if cdn := ROUTE_CDN.match(path):
            media = self.api._cdn_media(cdn["token"])
            if media is None:
                self._send(HTTPStatus.NOT_FOUND, b"Not Found", "text/plain")
            else:
                self._send(HTTPStatus.OK, media.data, media.content_type)
            return
        if match := ROUTE_MESSAGE.match(path):
            if self._check_account(match, path):
                status, resource = self.api._fetch_message(match["sid"], path)
                self._send_json(status, resource)
            return
        match = ROUTE_MEDIA.match(path)
        if not self._check_account(match, path):
            return
        assert match is not None  # _check_account answered 404 otherwise
        media = self.api._find_media(match["sid"], match["media"])
        if media is None:
            self._send_json(*twilio_error(20404, path=path))
        elif match["json"]:
            self._send_json(200, self._media_resource(media))
        elif self.api.media_redirect:
            location = f"{self.api.base_url}/mms-cdn/{self.api._cdn_token(media)}"
            self._send(HTTPStatus.TEMPORARY_REDIRECT, b"", "text/plain", {"Location": location})
        else:
            self._send(HTTPStatus.OK, media.data, media.content_type)

    def _check_account(self, match: re.Match[str] | None, path: str) -> bool:
        """Answer 401 / 404 like Twilio and return False, or return True to go on."""
        if not self.api._authorized(self.headers.get("Authorization")):
            self._send_json(
                *twilio_error(20003), headers={"WWW-Authenticate": 'Basic realm="Twilio API"'}
            )
            return False
        if match is None or match["account"] != self.api.account_sid:
            self._send_json(*twilio_error(20404, path=path))
            return False
        return True

    def _media_resource(self, media: _Media) -> dict[str, Any]:
        created = rfc2822(media.created)
        path = self.api._media_path(media.message_sid, media.media_sid)
        return {
            "account_sid": self.api.account_sid,
            "content_type": media.content_type,
            "date_created": created,
            "date_updated": created,
            "parent_sid": media.message_sid,
            "sid": media.media_sid,
            "uri": f"{path}.json",
        }

    def _send_json(
        self, status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        body = json.dumps(_public(payload)).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # One write for status line, headers and body: split writes meet the
        # client's delayed ACK and stall each call.
        reason = HTTPStatus(status).phrase
        lines = [
            f"{self.protocol_version} {status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            f"Twilio-Request-Id: RQ{secrets.token_hex(16)}",
        ]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)
        self.log_request(status, len(body))


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake Twilio REST API in the foreground.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--sid", default=TEST_ACCOUNT_SID, help="account SID (AC...)")
    parser.add_argument("--token", default=TEST_AUTH_TOKEN, help="auth token")
    parser.add_argument("--per-second", type=float, default=None, help="enforce a send rate")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    api = FakeTwilioAPI(
        args.sid, args.token, host=args.host, port=args.port, verbose=not args.quiet
    )
    api.enforce_limits(args.per_second)
    with api:
        print(f"fake Twilio API on {api.base_url} (account {api.account_sid})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    _main()
