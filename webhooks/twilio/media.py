"""Inbound media on Twilio (MMS, WhatsApp): downloaded by the worker, never by a webhook.

Twilio's media URLs are API URLs behind the account's Basic auth; the picture is checked
(size before reading it all, an image) and stored like every photo (services/media.py).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from models.db import read_number
from services.config import Settings
from services.media import PhotoError, store_photo
from services.types import StoredPhoto

# requests and the Twilio client (webhooks/twilio/client.py) are imported by the worker's
# first download: a channel registers, and a command runs, without them.

log = logging.getLogger(__name__)

# Twilio refuses media over 5 MB (MMS, and WhatsApp images): a bigger file cannot be a
# genuine inbound picture.
MAX_MEDIA_BYTES = 5 * 1024 * 1024
MAX_MEDIA_MB = MAX_MEDIA_BYTES // (1024 * 1024)
MAX_MEDIA = 10  # media per message, at most, on Twilio


def first_picture(form) -> tuple[dict | None, str | None]:
    """The first picture of a message, to fetch; or why there is none to keep."""
    count = min(read_number(form.get("NumMedia")) or 0, MAX_MEDIA)
    for index in range(count):
        url = form.get(f"MediaUrl{index}", "")
        declared = (form.get(f"MediaContentType{index}") or "").lower()
        if url and declared.startswith("image/"):
            return {"url": url, "content_type": declared}, None
    # A vCard, a sound, a video: not something the bot can keep.
    return None, ("not_image" if count else None)


def fetch_picture(media: dict, settings: Settings) -> tuple[StoredPhoto | None, str | None]:
    """Downloads and stores a picture (in the worker); returns (photo, why not)."""
    try:
        return _store_media(media["url"], settings), None
    except PhotoError as exc:
        return None, exc.reason


def _store_media(url: str, settings: Settings) -> StoredPhoto:
    import requests

    try:
        data, content_type = fetch_media(
            url,
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            settings.TWILIO_API_BASE_URL,
            max_bytes=MAX_MEDIA_BYTES,
        )
    except MediaTooBig as exc:
        raise PhotoError("too_big") from exc
    except (requests.RequestException, ValueError, OSError) as exc:
        log.warning("Twilio media %s could not be downloaded: %s", url, exc)
        raise PhotoError("download_failed") from exc
    if content_type and not content_type.startswith("image/"):
        raise PhotoError("not_image")
    return store_photo(data, settings)


class MediaTooBig(ValueError):
    """The media is larger than the caller accepts; it was not read to the end."""


def fetch_media(
    url: str,
    account_sid: str,
    auth_token: str,
    api_base_url: str | None,
    *,
    max_bytes: int,
    timeout: float | None = None,
) -> tuple[bytes, str]:
    """Download an inbound MMS's media; return (bytes, content type).

    Media URLs are Twilio API URLs behind the account's Basic auth (moved onto
    `api_base_url` like every other call); Twilio answers with a redirect to a
    short-lived CDN URL, which is followed (requests drops the credentials when
    the host changes). The credentials are only ever sent to Twilio or to
    `api_base_url`: any other URL raises ValueError. More than `max_bytes`
    raises MediaTooBig without reading the rest. Network errors and HTTP errors
    raise requests exceptions.
    """
    import requests

    from webhooks.twilio.client import DEFAULT_TIMEOUT, is_loopback, rebase_url

    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    target = rebase_url(url, api_base_url)
    if not _is_ours(target, api_base_url):
        raise ValueError(f"not a Twilio media URL: {url!r}")
    with requests.Session() as session:
        session.trust_env = not is_loopback(target)
        with session.get(
            target, auth=(account_sid, auth_token), stream=True, timeout=timeout
        ) as response:
            response.raise_for_status()
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise MediaTooBig(declared)
            data = bytearray()
            for chunk in response.iter_content(64 * 1024):
                data += chunk
                if len(data) > max_bytes:
                    raise MediaTooBig(str(len(data)))
            content_type = response.headers.get("Content-Type", "")
    return bytes(data), content_type.split(";")[0].strip().lower()


def _is_ours(url: str, api_base_url: str | None) -> bool:
    from webhooks.twilio.client import is_twilio_host, needs_rebase

    parts = urlsplit(url)
    if parts.hostname and is_twilio_host(parts.hostname) and parts.scheme == "https":
        return True
    if not needs_rebase(api_base_url):
        return False
    base = urlsplit(api_base_url)
    return (parts.scheme, parts.netloc) == (base.scheme, base.netloc)
