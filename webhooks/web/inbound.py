"""The web channel's name, and how the worker takes in a photo uploaded on the page.

The page keeps the upload as sent (services.media.keep_upload: size and headers checked);
the worker decodes it like any channel's download (store_photo: a real picture,
re-encoded without EXIF, in a child process with a CPU limit), then drops the upload.
"""

from __future__ import annotations

from services.media import PhotoError, drop_upload, store_photo, take_upload
from services.runtime import Runtime
from services.storage import PhotoNotFound
from services.types import StoredPhoto

CHANNEL = "web"


def fetcher(rt: Runtime):
    """The worker's "download" of a web photo: the upload the page kept."""

    def decode(media: dict) -> tuple[StoredPhoto | None, str | None]:
        key = media.get("upload", "")
        try:
            data = take_upload(rt.settings, key)
        except PhotoNotFound:
            return None, "download_failed"
        try:
            return store_photo(data, rt.settings), None
        except PhotoError as exc:
            return None, exc.reason
        finally:
            drop_upload(rt.settings, key)

    return decode
