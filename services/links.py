"""Signed links to a report's web pages, one kind per audience.

- The upload link (/r/<token>): where the citizen who filed a report by SMS adds a photo
  and a pin. Its token carries the report number, the id of the citizen it was sent to,
  and a nonce; the page acts only for that citizen, who must be the report's author.
  Used once: recorded when the page is used (models.messaging.record_inbound with the
  channel "link" and the token's id), not here.
- The after-photo link (/r/<token>/fait): the photo of the work done, sent to every SMS
  or WhatsApp follower, authors or not. Read-only: its token carries the report number
  and a nonce, and the page shows the report's public view only.

Each kind is signed with SECRET_KEY under its own salt (itsdangerous, timestamped): a
token of one kind is not valid as the other, it cannot be forged or moved to another
report or citizen, and it expires after 24 hours. The tokens signed before the two kinds
existed (one salt for both) are no longer valid: their pages say "not valid", as for a
damaged link; they lasted 24 hours anyway. Handlers mint links (the done message, the
crews' after-photo), the web pages read them: both sides live here so neither imports
the other.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

LINK_PATH = "/r/"
AFTER_PHOTO_SUFFIX = "/fait"
MAX_AGE_SECONDS = 24 * 3600
# Separate signed links from any other use of SECRET_KEY (sessions, CSRF tokens), and
# the two kinds of link from each other.
UPLOAD_SALT = "webleads.report-link.upload"
VIEW_SALT = "webleads.report-link.view"


class LinkError(ValueError):
    """Why a link cannot be used: "invalid" (forged, damaged, another kind) or "expired"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaim:
    """What a valid token says: which report, the id that marks this link used, and for
    an upload link the citizen it was sent to (None for a read-only link)."""

    number: int
    token_id: str
    citizen_id: int | None = None


def _signer(secret_key: str, salt: str) -> TimestampSigner:
    return TimestampSigner(secret_key, salt=salt)


def _nonce() -> str:
    return secrets.token_urlsafe(6)  # short: the link travels in an SMS


def mint_token(secret_key: str, number: int, citizen_id: int) -> str:
    """Signs a fresh upload token for report `number`, for the citizen `citizen_id`."""
    value = f"{number}-{citizen_id}-{_nonce()}"
    return _signer(secret_key, UPLOAD_SALT).sign(value).decode("ascii")


def report_link(public_base_url: str, secret_key: str, number: int, citizen_id: int) -> str:
    """Builds the full one-time URL where `citizen_id` adds a photo and a pin to `number`."""
    return f"{public_base_url.rstrip('/')}{LINK_PATH}{mint_token(secret_key, number, citizen_id)}"


def mint_view_token(secret_key: str, number: int) -> str:
    """Signs a fresh read-only token for report `number` (the after-photo page)."""
    return _signer(secret_key, VIEW_SALT).sign(f"{number}-{_nonce()}").decode("ascii")


def after_photo_link(public_base_url: str, secret_key: str, number: int) -> str:
    """Builds the full URL of the page showing the work done on report `number`."""
    token = mint_view_token(secret_key, number)
    return f"{public_base_url.rstrip('/')}{LINK_PATH}{token}{AFTER_PHOTO_SUFFIX}"


def read_token(secret_key: str, token: str, max_age: int = MAX_AGE_SECONDS) -> LinkClaim:
    """Checks an upload token's signature and age; raises LinkError("invalid"|"expired")."""
    value = _unsigned(secret_key, UPLOAD_SALT, token, max_age)
    number, citizen, nonce = [*value.split("-", 2), "", ""][:3]
    if not number.isdigit() or not citizen.isdigit() or not nonce:
        raise LinkError("invalid")
    return LinkClaim(int(number), value, int(citizen))


def read_view_token(secret_key: str, token: str, max_age: int = MAX_AGE_SECONDS) -> LinkClaim:
    """Checks a read-only token's signature and age; raises LinkError like read_token."""
    value = _unsigned(secret_key, VIEW_SALT, token, max_age)
    number, _, nonce = value.partition("-")
    if not number.isdigit() or not nonce:
        raise LinkError("invalid")
    return LinkClaim(int(number), value)


def _unsigned(secret_key: str, salt: str, token: str, max_age: int) -> str:
    try:
        return _signer(secret_key, salt).unsign(token, max_age=max_age).decode("ascii")
    except SignatureExpired as exc:
        raise LinkError("expired") from exc
    except (BadSignature, UnicodeDecodeError) as exc:
        raise LinkError("invalid") from exc
