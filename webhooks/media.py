"""Photos citizens send: checked to be images, stripped of metadata, stored by hash."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.types import StoredPhoto

# Telegram bots may download up to 20 MB; MMS are smaller. Larger is refused unread.
MAX_PHOTO_BYTES = 20 * 1024 * 1024
# Plenty for an agent to see the problem; bigger pictures are scaled down.
MAX_SIDE = 4096
# A decompression bomb (a tiny file that expands to gigapixels) is refused.
Image.MAX_IMAGE_PIXELS = 80_000_000
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class PhotoError(ValueError):
    """Why a picture cannot be kept: "too_big", "not_image" (the Inbound's photo_error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def store_photo(data: bytes, media_dir: str | os.PathLike) -> StoredPhoto:
    """Checks the bytes are a picture, re-encodes it without EXIF (GPS included), stores it.

    The stored copy is named by the SHA-256 of its own bytes, so the same picture sent
    twice is stored once.
    """
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError("too_big")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(data))
        if image.format not in ACCEPTED_FORMATS:
            raise PhotoError("not_image")
        image = ImageOps.exif_transpose(image)  # keep the orientation the EXIF said
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        clean = _encode_without_metadata(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise PhotoError("not_image") from exc
    digest = hashlib.sha256(clean).hexdigest()
    relative = f"{digest[:2]}/{digest}.jpg"
    target = Path(media_dir) / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a crash never leaves half a picture under the final name.
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            tmp.write(clean)
        os.replace(tmp.name, target)
    return StoredPhoto(
        sha256=digest,
        path=relative,
        content_type="image/jpeg",
        size=len(clean),
        width=image.width,
        height=image.height,
    )


def _encode_without_metadata(image: Image.Image) -> bytes:
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.split()[-1])
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
