"""Photos citizens send: checked to be images, stripped of metadata, stored by hash."""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from services import photo_decoder
from services.photo_decoder import ACCEPTED_FORMATS
from services.storage import LocalStore, MediaStore, StoreError, store_from
from services.types import StoredPhoto

log = logging.getLogger(__name__)

# Telegram bots may download up to 20 MB; MMS are smaller. Larger is refused unread.
MAX_PHOTO_BYTES = 20 * 1024 * 1024
# The most pixels a picture may claim, by format: read from its header, so a decompression
# bomb (a small file that claims gigapixels) is refused before a pixel is decoded. A JPEG
# larger than MAX_DECODED_PIXELS (services/photo_decoder.py) is decoded straight at half
# scale: the 48 and 50 MP photos of phone cameras cost about 90 MB. A PNG or a WebP
# (screenshots, pictures saved from the web) is decoded whole, a WebP at twice a PNG's
# cost. Whatever is accepted costs at most about 200 MB while it is scaled down
# (bench/photo_memory.py measures it).
MAX_PIXELS = {"JPEG": 50_000_000, "PNG": 16_000_000, "WEBP": 10_000_000}
# No camera, phone panorama or screenshot is thinner than this: a 1 x 16,000,000 PNG is a
# crafted strip that costs twice the memory above while it is scaled down.
MAX_ASPECT = 25
# Pillow's own check, for any other code of this process: it warns above this figure and
# refuses above twice it.
Image.MAX_IMAGE_PIXELS = max(MAX_PIXELS.values())
# A progressive JPEG is decoded once more for each of its scans, and a scan can be a few
# bytes: 5,000 of them in 660 KB cost half a minute of CPU. Cameras and phones write
# about 10 (libjpeg's progressive script); far more is refused before decoding.
MAX_JPEG_SCANS = 100
# Decoding runs in a child process that may use this much CPU (the slowest picture we
# accept, 50 MP in 100 scans, takes about half a second here: bench/photo_memory.py) and
# is killed after this long waiting (a busy machine), so no picture holds a job thread
# for longer; the job's lease is 120 s.
DECODE_CPU_SECONDS = 3
DECODE_WAIT_SECONDS = 15
DECODER = str(Path(photo_decoder.__file__).resolve())
# Where the link page keeps an upload until the worker has decoded it.
UPLOADS = "uploads"


class PhotoError(ValueError):
    """Why a picture cannot be kept: "too_big" (bytes), "too_many_pixels", "not_image".

    `detail` says more for the logs ("too_many_scans", "decode_too_long"); the citizen is
    told the reason only."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


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
    check_photo(data)
    clean, width, height = _clean_copy(data)
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
        width=width,
        height=height,
    )


def keep_upload(data: bytes, where: Any) -> str:
    """Stores a checked but not yet decoded upload (the link page) for the worker, which
    decodes it (store_photo) and then drops it; returns its key. Never served: only the
    clean copies have a Media row. StoreUnavailable when the store does not answer."""
    check_photo(data)
    key = f"{UPLOADS}/{uuid.uuid4().hex}.upload"
    photo_store(where).put(key, data, "application/octet-stream")
    return key


def take_upload(where: Any, key: str) -> bytes:
    """The bytes of an upload kept by keep_upload (PhotoNotFound once dropped)."""
    return photo_store(where).get(key)


def drop_upload(where: Any, key: str) -> None:
    """Deletes an upload once decoded or refused; a store that fails is only logged."""
    try:
        photo_store(where).delete(key)
    except (StoreError, OSError):
        log.warning("the upload %s could not be deleted", key, exc_info=True)


def check_photo(data: bytes) -> None:
    """Refuses what could not be kept, from its size and headers alone (milliseconds).

    Image.open reads the header only: the format and the size are checked before any
    pixel is decoded, so a decompression bomb costs a few kilobytes; a JPEG's scans are
    counted by walking its segments. Raises PhotoError.
    """
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError("too_big")
    try:
        with Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise PhotoError("not_image")
            if probe.width * probe.height > MAX_PIXELS[probe.format]:
                raise PhotoError("too_many_pixels")
            if max(probe.size) > MAX_ASPECT * max(min(probe.size), 1):
                raise PhotoError("not_image", "too_thin")
            probe.verify()
            kind = probe.format
    except Image.DecompressionBombError as exc:
        raise PhotoError("too_many_pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise PhotoError("not_image") from exc
    if kind == "JPEG" and jpeg_scans(data, stop_after=MAX_JPEG_SCANS) > MAX_JPEG_SCANS:
        raise PhotoError("not_image", "too_many_scans")


# After a 0xFF, a marker is any byte but 0x00 (a stuffed 0xFF in the data), 0xD0-0xD7
# (restart markers, inside a scan's data) and 0xFF (fill): the match starts at the 0xFF
# right before the marker, and the search stays linear through megabytes of 0xFF.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_NOT_FILL = re.compile(rb"[^\xff]")
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # markers without a length
_SOS, _EOI = 0xDA, 0xD9


def jpeg_scans(data: bytes, stop_after: int | None = None) -> int:
    """Counts a JPEG's scans (its SOS segments), walking segment by segment as a decoder
    does: a length-prefixed segment is skipped whole (an 0xFFDA inside an EXIF block is
    not a scan) and a scan's entropy-coded data runs to the next real marker. Stops
    counting past `stop_after`, and at the first thing that is not a segment."""
    count, pos, end = 0, 2, len(data)  # after SOI
    while pos + 1 < end and data[pos] == 0xFF:
        found = _NOT_FILL.search(data, pos + 1)  # fill bytes may precede a marker
        if found is None:
            break
        pos = found.start() - 1
        marker = data[pos + 1]
        if marker == _EOI:
            break
        if marker in _STANDALONE:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            break
        pos += 2 + length
        if marker == _SOS:
            count += 1
            if stop_after is not None and count > stop_after:
                break
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                break
            pos = found.start()
    return count


def _clean_copy(data: bytes) -> tuple[bytes, int, int]:
    """Decodes and re-encodes a checked picture in a child process with a CPU limit
    (services/photo_decoder.py); returns the clean JPEG and its size. A picture the child
    cannot finish in time is not a usable photo (PhotoError "not_image")."""
    command = [sys.executable, "-I", DECODER, str(DECODE_CPU_SECONDS),
               str(max(MAX_PIXELS.values()))]  # fmt: skip
    try:
        done = subprocess.run(command, input=data, capture_output=True,
                              timeout=DECODE_WAIT_SECONDS, check=False)  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise PhotoError("not_image", "decode_too_long") from exc
    head, _, clean = done.stdout.partition(b"\n")
    words = head.decode("ascii", "replace").split()
    if done.returncode == 0 and len(words) == 3 and words[0] == "ok":
        return clean, int(words[1]), int(words[2])
    if done.returncode == photo_decoder.REFUSED_EXIT and len(words) == 2:
        raise PhotoError(words[1])
    if done.returncode < 0:  # stopped by the kernel: its CPU time ran out
        raise PhotoError("not_image", "decode_too_long")
    log.warning("the photo decoder failed (exit %s): %s", done.returncode,
                done.stderr[-500:].decode("utf-8", "replace"))  # fmt: skip
    raise PhotoError("not_image", "decoder_failed")


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
