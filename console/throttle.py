"""How much guessing the console's login lets through, without locking an agent out.

Wrong passwords are counted in a 15-minute window (models.console.count_attempt, one
statement per count, so concurrent guesses cannot slip past the cap):

- one client and one account: 5 (an agent mistyping, or someone guessing one password);
- one client, any accounts: 20 (one address trying passwords on many agents: spraying);
- one account, any clients: 50, from browsers the agent never logged in with (many
  addresses guessing one agent);
- the whole site: 300, from such browsers too (a botnet; this also bounds the CPU that
  argon2 spends on guesses).

A client is its address: behind the reverse proxy, the one ProxyFix reads from
X-Forwarded-For (PROXY_FIX_HOPS). An IPv6 client holds a whole /64, so the /64 counts as
one client. A browser an agent has logged in with keeps a signed cookie saying so (with
no email in it): its wrong passwords count against that browser and that account alone
(5), not against its address nor the account's or the site's totals, so guesses from
elsewhere, a guest Wi-Fi behind the same office address included, never lock the agent
out of their own browser. Keys are keyed hashes: the table that counts holds no email and
no address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import timedelta

from flask import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
MAX_FAILURES_CLIENT = 20
MAX_FAILURES_ACCOUNT = 50
MAX_FAILURES_SITE = 300

BROWSER_COOKIE = "webleads_browser"
BROWSER_DAYS = 365
# Agents remembered per browser (a shared office computer may serve a few).
BROWSER_ACCOUNTS = 5


def caps_for(secret: str, email: str, client: str, *, known_browser: str | None) -> dict[str, int]:
    """Returns the keys one attempt counts against, with their caps, in counting order.

    `known_browser`: the remembering cookie's value when it names this account (a browser
    the agent logged in with), else None."""
    if known_browser is not None:
        return {_key(secret, "browser", f"{known_browser}\n{email}"): MAX_FAILURES}
    return {
        _key(secret, "pair", f"{client}\n{email}"): MAX_FAILURES,
        _key(secret, "client", client): MAX_FAILURES_CLIENT,
        _key(secret, "account", email): MAX_FAILURES_ACCOUNT,
        "site": MAX_FAILURES_SITE,
    }


def _key(secret: str, kind: str, value: str) -> str:
    digest = hmac.new(secret.encode(), f"{kind}\n{value}".encode(), hashlib.sha256)
    return f"{kind}:{digest.hexdigest()[:32]}"


def client_of(remote_addr: str | None) -> str:
    """Returns who is asking, as counted: the address, or an IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return remote_addr or "unknown"
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def known_browser(request: Request, secret: str, email: str) -> str | None:
    """The browser's remembering cookie when this agent has logged in with it, else None."""
    if _account(secret, email) in _remembered(request, secret):
        return request.cookies.get(BROWSER_COOKIE)
    return None


def remember_browser(
    response: Response, request: Request, secret: str, email: str, *, secure: bool
) -> None:
    """Marks the browser as one the agent logs in with (kept across logouts)."""
    account = _account(secret, email)
    accounts = [account, *(a for a in _remembered(request, secret) if a != account)]
    response.set_cookie(
        BROWSER_COOKIE,
        _serializer(secret).dumps(accounts[:BROWSER_ACCOUNTS]),
        max_age=BROWSER_DAYS * 24 * 3600,
        path="/console/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )


def _account(secret: str, email: str) -> str:
    return _key(secret, "account", email).split(":", 1)[1][:16]


def _remembered(request: Request, secret: str) -> list[str]:
    value = request.cookies.get(BROWSER_COOKIE)
    if not value:
        return []
    try:
        accounts = _serializer(secret).loads(value, max_age=BROWSER_DAYS * 24 * 3600)
    except BadSignature:
        return []
    return [a for a in accounts if isinstance(a, str)] if isinstance(accounts, list) else []


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="console-browser")
