"""Who is reporting on the web: a browser session, kept in a signed cookie.

The cookie holds a random id (the channel address of the web citizen), the last message
the citizen's page showed (its replies start after it) and the language chosen before
the conversation began. It is signed with SECRET_KEY and lasts SESSION_SECONDS from the
last page: past that the page says so politely and starts again; nothing unconfirmed
is filed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass

from flask import Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

COOKIE = "webleads_signaler"
SESSION_SECONDS = 2 * 3600
SALT = "webleads.web-visit"


@dataclass
class Visit:
    sid: str  # the web citizen's address
    seen: int = 0  # the page shows this citizen's replies queued after this outbox id
    lang: str | None = None  # chosen before the conversation began


class Expired(Exception):
    """The browser's session is too old (or no longer signed by this server)."""


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def new_visit(lang: str | None) -> Visit:
    return Visit(sid=secrets.token_hex(16), lang=lang)


def read_visit(request: Request, secret: str) -> Visit | None:
    """The browser's visit; None when it has none; Expired when it is too old."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        data = _serializer(secret).loads(value, max_age=SESSION_SECONDS)
    except SignatureExpired as exc:
        raise Expired from exc
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("s"), str):
        return None
    seen = data.get("n")
    return Visit(sid=data["s"][:32], seen=seen if isinstance(seen, int) else 0, lang=data.get("l"))


def keep_visit(response: Response, visit: Visit, secret: str, *, secure: bool) -> Response:
    """Writes the visit back (its age starts again)."""
    value = _serializer(secret).dumps({"s": visit.sid, "n": visit.seen, "l": visit.lang})
    response.set_cookie(COOKIE, value, max_age=SESSION_SECONDS, path="/signaler",
                        secure=secure, httponly=True, samesite="Lax")  # fmt: skip
    return response


def end_visit(response: Response, *, secure: bool) -> Response:
    response.delete_cookie(COOKIE, path="/signaler", secure=secure, httponly=True, samesite="Lax")
    return response


def client_key(secret: str, remote_addr: str | None) -> str:
    """Who is posting, as the per-client limit counts it: the address (an IPv6 /64),
    as a keyed hash so the table that counts holds no address."""
    client = remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(client)
        if address.version == 6 and address.ipv4_mapped is None:
            client = str(ipaddress.ip_network(f"{address}/64", strict=False))
        elif address.version == 6:
            client = str(address.ipv4_mapped)
    except ValueError:
        pass
    digest = hmac.new(secret.encode(), f"web-client\n{client}".encode(), hashlib.sha256)
    return f"web:{digest.hexdigest()[:32]}"
