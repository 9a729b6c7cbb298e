"""The child process that decodes a citizen's picture (services/media.py runs it).

A picture's decoding cost is not bounded by its size (a progressive JPEG is decoded
once per scan), so it runs here, in a process of its own that the kernel stops after a
few seconds of CPU (RLIMIT_CPU): a crafted file costs that, and never holds a job thread
or a web worker. It imports Pillow only and starts in a few tens of milliseconds.

    python -I services/photo_decoder.py CPU_SECONDS MAX_PIXELS < picture > answer

The answer is `ok WIDTH HEIGHT` and a line break, then the clean JPEG; or `refused
REASON` (exit 2). Killed (signal) or timed out: the picture took too long.
"""

from __future__ import annotations

import io
import resource
import sys

from PIL import Image, ImageOps, UnidentifiedImageError

# Plenty for an agent to see the problem; bigger pictures are scaled down.
MAX_SIDE = 4096
# A JPEG larger than this is decoded straight at half scale (or less): the 48 and 50 MP
# photos of phone cameras then cost about 90 MB.
MAX_DECODED_PIXELS = 24_000_000
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
REFUSED_EXIT = 2


def decoded(data: bytes) -> Image.Image:
    """Decodes a checked picture, upright and at most MAX_SIDE."""
    image = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    if image.format not in ACCEPTED_FORMATS:
        raise UnidentifiedImageError(image.format)
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


def without_metadata(image: Image.Image) -> bytes:
    """A fresh JPEG with no exif/icc/comment: nothing of the original metadata survives."""
    if image.mode not in ("RGB", "L"):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))  # one band, not four
        image = background
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def main(argv: list[str]) -> int:
    cpu_seconds, max_pixels = int(argv[1]), int(argv[2])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # SIGXCPU at the soft limit, SIGKILL a second later: either ends the process.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own check, behind the caller's
    data = sys.stdin.buffer.read()
    try:
        image = decoded(data)
        clean = without_metadata(image)
    except Image.DecompressionBombError:
        sys.stdout.buffer.write(b"refused too_many_pixels\n")
        return REFUSED_EXIT
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        sys.stdout.buffer.write(b"refused not_image\n")
        return REFUSED_EXIT
    sys.stdout.buffer.write(b"ok %d %d\n" % (image.width, image.height) + clean)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
