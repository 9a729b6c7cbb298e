"""Benchmark: memory, CPU and time of keeping one picture (services.media.store_photo).

Each picture is made in a process of its own (flat colours: the file is small, as a
decompression or scan bomb's is). That process checks the picture's headers, then the
decoder child (services/photo_decoder.py, 3 s of CPU at most) decodes, scales down and
re-encodes it. Printed for each: the answer (the size kept, or the refusal and why), the
decoder's peak resident memory (RUSAGE_CHILDREN; 17 MB of it is Python and Pillow
themselves), the growth of the calling process's peak (its VmHWM, reset by clear_refs),
the CPU time of both together, and the time it took. Linux only.

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
# (format, Pillow mode, width, height); "JPEG scans=N": a progressive JPEG of N scans
# (tests/test_photo_bomb.py scan_bomb), "(no scan check)": the decoder's CPU limit alone.
CASES = [
    ("JPEG", "RGB", 4000, 3000),  # a 12 MP phone photo
    ("JPEG", "RGB", 6000, 4000),  # 24 MP
    ("JPEG", "RGB", 6048, 6048),  # a 48 MP camera's square photo
    ("JPEG progressive", "RGB", 8160, 6120),
    ("JPEG", "RGB", 8160, 6120),  # a 50 MP phone photo, full size
    ("JPEG scans=100", "RGB", 7070, 7070),  # the worst accepted: 50 MP, 100 scans
    ("JPEG scans=5010", "RGB", 7000, 7000),  # the review's scan bomb
    ("JPEG scans=5010 (no scan check)", "RGB", 7000, 7000),  # stopped by the CPU limit
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
    ("PNG", "RGB", 1, 16_000_000),  # the review's strip: under the cap, 400 MB to scale
]

ONE = """
import io, json, resource, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from services import media
from services.media import PhotoError, store_photo
data = Path(sys.argv[2]).read_bytes()
if sys.argv[3] == "no-scan-check":
    media.MAX_JPEG_SCANS = 10**9

def peak_mb():
    return int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024

Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
before, started, cpu = peak_mb(), time.monotonic(), time.process_time()
try:
    photo = store_photo(data, tempfile.mkdtemp())
    answer = f"kept {photo.width}x{photo.height}"
except PhotoError as exc:
    answer = f"refused: {exc.detail or exc.reason}"
decoder = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"answer": answer, "growth": peak_mb() - before,
                  "decoder_mb": decoder.ru_maxrss / 1024,
                  "cpu": time.process_time() - cpu + decoder.ru_utime + decoder.ru_stime,
                  "seconds": time.monotonic() - started}))
"""


def picture(kind: str, mode: str, width: int, height: int) -> bytes:
    """A flat picture; the review's bombs are built by hand, never held whole."""
    if (width * height) > 60_000_000:
        from tests.test_photo_bomb import flat_png

        return flat_png(width, height)
    if kind.startswith("JPEG scans="):
        from tests.test_photo_bomb import scan_bomb

        scans = int(kind.split("=")[1].split()[0])
        return scan_bomb(width, scans - 10)  # libjpeg's progressive script has 10
    from PIL import Image

    colour = (120, 130, 140, 200)[: len(mode)]
    out = io.BytesIO()
    fmt, _, progressive = kind.partition(" ")
    options = {"progressive": True} if progressive else {}
    Image.new(mode, (width, height), colour).save(out, format=fmt, **options)
    return out.getvalue()


def main() -> None:
    sys.path.insert(0, str(ROOT))
    print(
        f"{'picture':<50} {'file':>9} {'answer':<24} {'decoder':>8} {'caller':>7} "
        f"{'CPU':>7} {'time':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for kind, mode, width, height in CASES:
            path = Path(tmp) / "picture"
            path.write_bytes(picture(kind, mode, width, height))
            check = "no-scan-check" if "no scan check" in kind else "checked"
            run = subprocess.run(
                [sys.executable, "-c", ONE, str(ROOT), str(path), check],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(run.stdout.strip().splitlines()[-1])
            label = f"{kind} {mode} {width}x{height}"
            size = f"{path.stat().st_size / 1024:.0f} KiB"
            print(
                f"{label:<50} {size:>9} {result['answer']:<24} "
                f"{result['decoder_mb']:>5.0f} MB {result['growth']:>4.0f} MB "
                f"{result['cpu']:>6.2f}s {result['seconds']:>6.2f}s"
            )


if __name__ == "__main__":
    main()
