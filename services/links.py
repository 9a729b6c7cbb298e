"""One-time links to a report's web page (/r/<token>), where an SMS citizen adds a photo
and a pin.

A token is the report number and a random nonce, signed with SECRET_KEY and timestamped
(itsdangerous): it cannot be forged or moved to another report, and it expires after
24 hours. "One-time" is recorded when the page is used (models.messaging.record_inbound
with the channel "link" and the token's id), not here. Handlers mint links (the done
message), the web page reads them: both sides live here so neither imports the other.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

LINK_PATH = "/r/"
MAX_AGE_SECONDS = 24 * 3600
# Separates signed links from any other use of SECRET_KEY (sessions, CSRF tokens).
SALT = "webleads.report-link"


class LinkError(ValueError):
    """Why a link cannot be used: "invalid" (forged, damaged) or "expired"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkClaim:
    """What a valid token says: which report, and the id that marks this link used."""

    number: int
    token_id: str


def _signer(secret_key: str) -> TimestampSigner:
    return TimestampSigner(secret_key, salt=SALT)


def mint_token(secret_key: str, number: int) -> str:
    """Signs a fresh token for report `number` (short: it travels in an SMS)."""
    nonce = secrets.token_urlsafe(6)
    return _signer(secret_key).sign(f"{number}-{nonce}").decode("ascii")


def report_link(public_base_url: str, secret_key: str, number: int) -> str:
    """Builds the full one-time URL of report `number`'s page."""
    return f"{public_base_url.rstrip('/')}{LINK_PATH}{mint_token(secret_key, number)}"


def read_token(secret_key: str, token: str, max_age: int = MAX_AGE_SECONDS) -> LinkClaim:
    """Checks a token's signature and age; raises LinkError("invalid"|"expired")."""
    try:
        value = _signer(secret_key).unsign(token, max_age=max_age).decode("ascii")
    except SignatureExpired as exc:
        raise LinkError("expired") from exc
    except (BadSignature, UnicodeDecodeError) as exc:
        raise LinkError("invalid") from exc
    number, _, nonce = value.partition("-")
    if not number.isdigit() or not nonce:
        raise LinkError("invalid")
    return LinkClaim(int(number), f"{number}-{nonce}")
