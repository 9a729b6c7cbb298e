"""The HTTP client that lets the twilio `Client` talk to another REST API root.

The twilio library hard-codes its hosts: every Messages call is built as
``https://api.twilio.com/2010-04-01/...`` (``twilio.rest.api.ApiBase``), and
``ClientBase.request`` may turn that host into ``api.<edge>.<region>.twilio.com``
when ``TWILIO_EDGE`` / ``TWILIO_REGION`` are set. Both then reach
``HttpClient.request(method, url, ...)`` as a fully qualified URL, which is the
one place where a different root can be put in without patching the library.
``TWILIO_API_BASE_URL`` (tests and benchmarks point it at a loopback stand-in)
is applied there.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any, TypeGuard
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from services.channels import PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)

TWILIO_API_BASE_URL = "https://api.twilio.com"

# The library's own default is no timeout at all: one stalled connection would
# hang an outbox worker forever. Ten seconds is far above Twilio's usual
# latency and short enough for the worker's retry/backoff to take over.
DEFAULT_TIMEOUT = 10.0

_TWILIO_DOMAIN = "twilio.com"


def is_twilio_host(host: str) -> bool:
    """Tell whether a host name is Twilio's (api.twilio.com, api.dublin.ie1.twilio.com...)."""
    host = host.lower().rstrip(".")
    return host == _TWILIO_DOMAIN or host.endswith("." + _TWILIO_DOMAIN)


def rebase_url(url: str, api_base_url: str | None) -> str:
    """Return `url` moved onto `api_base_url` when it points at a Twilio host.

    Path and query are kept; a path prefix in the base URL is prepended
    (``http://127.0.0.1:8082/twilio`` + ``/2010-04-01/...``). URLs that are not
    Twilio's (a status callback, a media CDN) are returned unchanged, and so is
    everything when `api_base_url` is None or is Twilio's own root. Inbound MMS
    media URLs (``MediaUrl0``) are Twilio API URLs too: downloads use this.
    """
    if not needs_rebase(api_base_url):
        return url
    parts = urlsplit(url)
    if not parts.hostname or not is_twilio_host(parts.hostname):
        return url
    base = urlsplit(api_base_url)
    path = base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))


def needs_rebase(api_base_url: str | None) -> TypeGuard[str]:
    """Tell whether `api_base_url` differs from Twilio's real REST API root."""
    return bool(api_base_url) and api_base_url.rstrip("/") != TWILIO_API_BASE_URL


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BaseUrlHttpClient(TwilioHttpClient):
    """A `TwilioHttpClient` that sends every Twilio-host request to `base_url`.

    ``request()`` receives the absolute URL the library built (host already
    adjusted for edge/region), so rewriting it there covers every resource,
    not only Messages; non-Twilio URLs pass through untouched.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        pool_connections: bool = True,
        max_retries: int | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an absolute http(s) URL: {base_url!r}")
        super().__init__(
            pool_connections=pool_connections, timeout=timeout, max_retries=max_retries
        )
        self.base_url = base_url.rstrip("/")
        if self.session is not None:
            # The parent only tunes the https:// adapter; a plain-http stand-in
            # gets the same pool size so threaded senders keep their connections.
            self.session.mount(
                "http://",
                HTTPAdapter(max_retries=max_retries or 0, pool_maxsize=32),
            )
            if is_loopback(self.base_url):
                # A loopback stand-in must never be reached through an HTTP(S)_PROXY
                # from the environment (requests does not bypass localhost by itself).
                self.session.trust_env = False

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Send the request with its Twilio host replaced by `base_url`; the rest of
        twilio's `HttpClient.request` arguments pass through as they are."""
        return super().request(method, rebase_url(url, self.base_url), *args, **kwargs)


def make_client(
    account_sid: str,
    auth_token: str,
    api_base_url: str | None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> Client:
    """Build the twilio `Client`, pointed at `api_base_url` when it is not Twilio's own."""
    http_client: TwilioHttpClient
    if needs_rebase(api_base_url):
        http_client = BaseUrlHttpClient(api_base_url, timeout=timeout)
    else:
        http_client = TwilioHttpClient(timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)


# --- what a refused send says ------------------------------------------------------------

# Send errors (TwilioRestException.code) -> what they say about the citizen.
OPTED_OUT_CODES = frozenset({21610})  # the number texted STOP to this sender
UNREACHABLE_CODES = frozenset({21211, 21614})  # invalid number; not a mobile (landline)
# Account or sender set up wrong: every message would fail the same way until someone
# fixes the settings, so the messages wait (retried, then dead and visible) instead of
# being dropped at once.
CONFIGURATION_CODES = frozenset({20003, 20404, 21212, 21603, 21606})
RATE_LIMIT_CODE = 20429
# Twilio's 429 says no "come back in N s": a short pause, not a try (as Telegram's 429),
# or a long burst of them would bury messages that were only delayed.
RATE_LIMIT_RETRY = 2.0


def send_failure(exc: TwilioRestException) -> TemporaryFailure | PermanentFailure:
    """Classifies a refused send: try again later, or never for this citizen."""
    reason = f"Twilio error {exc.code} (HTTP {exc.status}): {exc.msg}"
    if exc.code in OPTED_OUT_CODES:
        return PermanentFailure(reason, citizen_flag="opted_out")
    if exc.code in UNREACHABLE_CODES:
        return PermanentFailure(reason, citizen_flag="unreachable")
    if exc.code == RATE_LIMIT_CODE or exc.status == 429:
        return TemporaryFailure(reason, retry_after=RATE_LIMIT_RETRY)
    if exc.status >= 500:
        return TemporaryFailure(reason)
    if exc.code in CONFIGURATION_CODES:
        log.error("Twilio cannot send until its settings are fixed: %s", reason)
        return TemporaryFailure(reason)
    return PermanentFailure(reason)


def create_message(client: Client, classify=None, **fields) -> str:
    """Posts one message (SMS or WhatsApp); returns Twilio's MessageSid. A refusal becomes
    the outbox's kind of failure (`classify`, send_failure by default), a network error a
    temporary one."""
    try:
        return client.messages.create(**fields).sid
    except TwilioRestException as exc:
        raise (classify or send_failure)(exc) from exc
    except (requests.RequestException, OSError) as exc:
        raise TemporaryFailure(f"Twilio unreachable: {type(exc).__name__}") from exc
