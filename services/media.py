"""Photos citizens send: checked to be images, stripped of metadata, stored by hash."""

from __future__ import annotations

import functools
import hashlib
import io
import os
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from services.storage import LocalStore, MediaStore, StoreError, store_from
from services.types import StoredPhoto

# Telegram bots may download up to 20 MB; MMS are smaller. Larger is refused unread.
MAX_PHOTO_BYTES = 20 * 1024 * 1024
# Plenty for an agent to see the problem; bigger pictures are scaled down.
MAX_SIDE = 4096
# The most pixels a picture may claim, by format: read from its header, so a decompression
# bomb (a small file that claims gigapixels) is refused before a pixel is decoded. A JPEG
# larger than MAX_DECODED_PIXELS is decoded straight at half scale: the 48 and 50 MP
# photos of phone cameras cost about 90 MB. A PNG or a WebP (screenshots, pictures saved
# from the web) is decoded whole, a WebP at twice a PNG's cost. Whatever is accepted costs
# at most about 200 MB while it is scaled down (bench/photo_memory.py measures it).
MAX_PIXELS = {"JPEG": 50_000_000, "PNG": 16_000_000, "WEBP": 10_000_000}
MAX_DECODED_PIXELS = 24_000_000
# Pillow's own check, for any other code of this process: it warns above this figure and
# refuses above twice it.
Image.MAX_IMAGE_PIXELS = max(MAX_PIXELS.values())
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class PhotoError(ValueError):
    """Why a picture cannot be kept: "too_big" (bytes), "too_many_pixels", "not_image"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def photo_store(where: Any) -> MediaStore:
    """Where photos are kept: the settings' store (MEDIA_STORAGE: local MEDIA_DIR, or an
    S3 bucket), or a folder given as a path."""
    if isinstance(where, str | os.PathLike):
        return LocalStore(where)
    return _store_of(
        where.MEDIA_STORAGE, where.MEDIA_DIR, where.S3_ENDPOINT_URL, where.S3_BUCKET,
        where.S3_ACCESS_KEY_ID, where.S3_SECRET_ACCESS_KEY, where.S3_REGION,
    )  # fmt: skip


@functools.lru_cache(maxsize=8)
def _store_of(kind, media_dir, endpoint, bucket, key_id, secret, region) -> MediaStore:
    # One client per process and configuration: a boto3 client costs a fraction of a second.
    return store_from(
        MEDIA_STORAGE=kind or "local", MEDIA_DIR=media_dir, S3_ENDPOINT_URL=endpoint or None,
        S3_BUCKET=bucket, S3_ACCESS_KEY_ID=key_id, S3_SECRET_ACCESS_KEY=secret,
        S3_REGION=region or None,
    )  # fmt: skip


def store_photo(data: bytes, where: Any) -> StoredPhoto:
    """Checks the bytes are a picture, re-encodes it without EXIF (GPS included), stores it.

    The stored copy is named by the SHA-256 of its own bytes, so the same picture sent
    twice is stored once. `where` is the settings (or a folder). A store that cannot be
    reached raises services.storage.StoreUnavailable: nothing was written, try again.
    """
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError("too_big")
    try:
        image = _decoded(data)
        clean = _encode_without_metadata(image)
    except Image.DecompressionBombError as exc:
        raise PhotoError("too_many_pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise PhotoError("not_image") from exc
    digest = hashlib.sha256(clean).hexdigest()
    relative = f"{digest[:2]}/{digest}.jpg"
    store = photo_store(where)
    if not store.exists(relative):
        # Whole or not at all: a file is written then renamed, an object put at once.
        store.put(relative, clean, "image/jpeg")
    return StoredPhoto(
        sha256=digest,
        path=relative,
        content_type="image/jpeg",
        size=len(clean),
        width=image.width,
        height=image.height,
    )


def _decoded(data: bytes) -> Image.Image:
    """Decodes an accepted picture, upright and at most MAX_SIDE; refuses it from its header.

    Image.open reads the header only: the format and the size are checked before any
    pixel is decoded, so a bomb costs a few kilobytes.
    """
    with Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS)) as probe:
        if probe.format not in ACCEPTED_FORMATS:
            raise PhotoError("not_image")
        if probe.width * probe.height > MAX_PIXELS[probe.format]:
            raise PhotoError("too_many_pixels")
        probe.verify()
    image = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    # A JPEG decodes straight at 1/2, 1/4 or 1/8 scale (a no-op for the other formats):
    # the largest scale at which it fits in MAX_DECODED_PIXELS.
    scale = 1
    while scale < 8 and image.width * image.height > MAX_DECODED_PIXELS * scale * scale:
        scale *= 2
    if scale > 1:
        image.draft(None, (image.width // scale, image.height // scale))
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    ImageOps.exif_transpose(image, in_place=True)  # keep the orientation the EXIF said
    return image


def _encode_without_metadata(image: Image.Image) -> bytes:
    if image.mode not in ("RGB", "L"):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))  # one band, not four
        image = background
    out = io.BytesIO()
    # A fresh JPEG with no exif/icc/comment: nothing of the original metadata survives.
    image.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def media_path(media_dir: str | os.PathLike, relative: str) -> Path:
    """Resolves a stored photo's path, refusing anything outside MEDIA_DIR."""
    root = Path(media_dir).resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise PhotoError("not_image")
    return path


def delete_photos(where: Any, keys: list[str]) -> list[str]:
    """Deletes stored photos (erasure, retention); returns the keys that could not go."""
    store, failed = photo_store(where), []
    for key in keys:
        try:
            store.delete(key)
        except (StoreError, OSError):
            failed.append(key)
    return failed


def photo_response(settings: Any, key: str, content_type: str = "image/jpeg", *,
                   public: bool = False):  # fmt: skip
    """Serves a stored photo (console, public site, link page): a file from MEDIA_DIR, or
    the object streamed from the bucket, which is never public itself. 404 when it is not
    there, 503 with Retry-After when the store does not answer (at once while its breaker
    is open); conditional on its hash (ETag), which a revalidation gets without the
    bucket being asked."""
    from flask import Response, abort, request, send_file
    from werkzeug.exceptions import ServiceUnavailable

    from services.storage import BREAKER_SECONDS, BadKey, PhotoNotFound, StoreUnavailable

    store = photo_store(settings)
    if isinstance(store, LocalStore):
        try:
            path = media_path(settings.MEDIA_DIR, key)
        except PhotoError:
            abort(404)
        if not path.is_file():
            abort(404)
        response = send_file(path, mimetype=content_type, max_age=3600, conditional=True)
    else:
        response = Response(mimetype=content_type)
        etag = key.rsplit("/", 1)[-1].split(".")[0]  # the content's hash: the key names it
        response.set_etag(etag)
        try:
            if not request.if_none_match.contains(etag):
                response.set_data(store.get(key))
        except (PhotoNotFound, BadKey):
            abort(404)
        except StoreUnavailable as exc:
            wait = exc.retry_after or BREAKER_SECONDS
            raise ServiceUnavailable(retry_after=max(1, round(wait))) from exc
        except StoreError:
            abort(503)
        response = response.make_conditional(request)
    response.headers["Cache-Control"] = f"{'public' if public else 'private'}, max-age=3600"
    return response
