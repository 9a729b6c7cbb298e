"""Benchmark: peak memory and time of keeping one picture (services.media.store_photo).

Each picture is made in a process of its own (flat colours: the file is small, as a
decompression bomb's is), the process's peak resident memory is reset (clear_refs), and
the growth of that peak while the picture is checked, decoded, scaled down and re-encoded
is printed with the time it took and the answer: the size kept, or the refusal. Linux only
(/proc/self/status's VmHWM).

    python bench/photo_memory.py
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (format, Pillow mode, width, height)
CASES = [
    ("JPEG", "RGB", 4000, 3000),  # a 12 MP phone photo
    ("JPEG", "RGB", 6000, 4000),  # 24 MP
    ("JPEG", "RGB", 6048, 6048),  # a 48 MP camera's square photo
    ("JPEG progressive", "RGB", 8160, 6120),
    ("JPEG", "RGB", 8160, 6120),  # a 50 MP phone photo, full size
    ("JPEG", "RGB", 12000, 4000),  # a panorama
    ("JPEG", "RGB", 10000, 5001),  # just over the cap
    ("PNG", "RGB", 1170, 2532),  # a phone screenshot
    ("PNG", "RGB", 4000, 4000),
    ("PNG", "RGBA", 4000, 4000),
    ("PNG", "RGB", 4000, 4001),  # just over the cap
    ("WEBP", "RGB", 3000, 3000),
    ("WEBP", "RGBA", 3000, 3000),
    ("WEBP", "RGB", 4000, 4000),  # over the cap
    ("PNG", "RGB", 12600, 12600),  # the review's bomb: 158 MP in 0.7 MB
]

ONE = """
import io, json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from services.media import PhotoError, store_photo
data = Path(sys.argv[2]).read_bytes()

def peak_mb():
    return int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024

Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
before, started = peak_mb(), time.monotonic()
try:
    photo = store_photo(data, tempfile.mkdtemp())
    answer = f"kept {photo.width}x{photo.height}"
except PhotoError as exc:
    answer = f"refused: {exc.reason}"
print(json.dumps({"answer": answer, "growth": peak_mb() - before,
                  "seconds": time.monotonic() - started}))
"""


def picture(kind: str, mode: str, width: int, height: int) -> bytes:
    """A flat picture; the review's bomb is built row by row, never held whole."""
    if (width * height) > 60_000_000:
        from tests.test_photo_bomb import flat_png

        return flat_png(width, height)
    from PIL import Image

    colour = (120, 130, 140, 200)[: len(mode)]
    out = io.BytesIO()
    fmt, _, progressive = kind.partition(" ")
    options = {"progressive": True} if progressive else {}
    Image.new(mode, (width, height), colour).save(out, format=fmt, **options)
    return out.getvalue()


def main() -> None:
    sys.path.insert(0, str(ROOT))
    print(f"{'picture':<34} {'file':>9} {'answer':<22} {'peak growth':>12} {'time':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, mode, width, height in CASES:
            path = Path(tmp) / "picture"
            path.write_bytes(picture(kind, mode, width, height))
            run = subprocess.run(
                [sys.executable, "-c", ONE, str(ROOT), str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(run.stdout.strip().splitlines()[-1])
            label = f"{kind} {mode} {width}x{height}"
            size = f"{path.stat().st_size / 1024:.0f} KiB"
            print(
                f"{label:<34} {size:>9} {result['answer']:<22} "
                f"{result['growth']:>9.0f} MB {result['seconds']:>6.2f}s"
            )


if __name__ == "__main__":
    main()
