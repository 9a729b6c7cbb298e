"""Decompression bombs: a small file that claims gigapixels is refused from its header,
politely, before any pixel is decoded, on every path that keeps a picture. And CPU bombs:
a progressive JPEG with thousands of scans is refused from its segments, and whatever
still decodes slowly is stopped by the decoder's CPU limit."""

from __future__ import annotations

import io
import json
import re
import struct
import time
import uuid
import zlib
from functools import cache
from pathlib import Path

import pytest
from PIL import Image

from bot.jobs import JobRunner
from models.jobs import photo_jobs_pending
from services import media
from services.media import MAX_PIXELS, PhotoError, jpeg_scans, store_photo
from tests.helpers import run_python
from tests.sms_support import post_signed
from tests.telegram_support import citizen_at, payload, with_ids
from tests.telegram_support import post as telegram_post
from tests.whatsapp_support import INBOUND, WhatsApp, wa_form

# The review's picture: 627 KiB on disk, 158 megapixels (476 MB of RGB) once decoded.
BOMB_SIDE = 12_600
MAX_GROWTH_MB = 100


@cache
def flat_png(width: int, height: int) -> bytes:
    """A grey RGB PNG of any size, built without ever holding its pixels.

    Every row is deflated alone after a full flush, so the compressed row is the same
    bytes each time: the file is that unit repeated, framed by zlib's header and checksum.
    """
    row = b"\x00" + b"\x80\x80\x80" * width  # filter byte "none", then the pixels
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    unit = deflate.compress(row) + deflate.flush(zlib.Z_FULL_FLUSH)
    assert deflate.compress(row) + deflate.flush(zlib.Z_FULL_FLUSH) == unit
    checksum = 1
    for _ in range(height):
        checksum = zlib.adler32(row, checksum)
    stream = b"\x78\xda" + unit * height + deflate.flush() + struct.pack(">I", checksum)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")
    )


def test_the_generated_bomb_is_small_and_a_real_png() -> None:
    data = flat_png(BOMB_SIDE, BOMB_SIDE)
    assert len(data) < 1024 * 1024
    with Image.open(io.BytesIO(flat_png(300, 200))) as small:
        small.load()  # the same construction decodes to what it says
        assert small.size == (300, 200) and small.getpixel((299, 199)) == (128, 128, 128)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny JPEG whose header claims another size: how a JPEG bomb looks."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "grey").save(out, format="JPEG")
    data = bytearray(out.getvalue())
    frame = data.index(b"\xff\xc0")  # SOF0: length, precision, height, width
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "grey").save(out, format="WEBP", lossless=True)
    return out.getvalue()


def over(kind: str) -> tuple[int, int]:
    """A size one row over the format's cap."""
    side = int(MAX_PIXELS[kind] ** 0.5)
    return side, MAX_PIXELS[kind] // side + 1


BOMBS = [
    ("the review's PNG, 158 MP", lambda: flat_png(BOMB_SIDE, BOMB_SIDE)),
    ("a PNG of 64 MP", lambda: flat_png(8_000, 8_000)),
    ("a PNG just over its cap", lambda: flat_png(*over("PNG"))),
    ("a JPEG claiming 60 000 x 60 000", lambda: jpeg_claiming(60_000, 60_000)),
    ("a JPEG just over its cap", lambda: jpeg_claiming(*over("JPEG"))),
    ("a WebP just over its cap", lambda: webp(*over("WEBP"))),
]


@pytest.mark.parametrize(("label", "make"), BOMBS, ids=[b[0] for b in BOMBS])
def test_too_many_pixels_is_refused_as_too_big(tmp_path, label, make) -> None:
    with pytest.raises(PhotoError) as refused:
        store_photo(make(), tmp_path)
    assert refused.value.reason == "too_many_pixels"
    assert not list(tmp_path.rglob("*.jpg"))


def test_the_cap_is_on_pixels_not_on_sides(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(media.MAX_PIXELS, "PNG", 1_000_000)
    assert store_photo(flat_png(1000, 1000), tmp_path).width == 1000
    assert store_photo(flat_png(5000, 200), tmp_path).width == 4096  # long, thin: fine
    with pytest.raises(PhotoError) as refused:
        store_photo(flat_png(1001, 1000), tmp_path)
    assert refused.value.reason == "too_many_pixels"


def test_a_thin_strip_is_refused_from_its_header(tmp_path) -> None:
    """The review's 16,000,000 x 1 PNG: under the pixel cap, but about 400 MB to scale
    down. No camera or screenshot is that thin; it is refused before decoding."""
    strip = flat_png(16_000_000, 1)
    started = time.perf_counter()
    with pytest.raises(PhotoError) as refused:
        store_photo(strip, tmp_path)
    assert time.perf_counter() - started < 1
    assert (refused.value.reason, refused.value.detail) == ("not_image", "too_thin")
    assert store_photo(flat_png(2500, 100), tmp_path).width == 2500  # a panorama is fine


def test_a_large_photo_is_decoded_at_reduced_scale(tmp_path) -> None:
    """A 48 MP JPEG is kept (phones take them), half size: decoding it whole is not needed."""
    out = io.BytesIO()
    Image.new("RGB", (8064, 6048), (90, 120, 60)).save(out, format="JPEG", quality=70)
    photo = store_photo(out.getvalue(), tmp_path)
    assert (photo.width, photo.height) == (4032, 3024)


# --- CPU: progressive JPEGs with many scans --------------------------------------------------

# The review's CPU bomb: 7000 x 7000 (49 MP, under the JPEG cap), 664 KB, 5,010 scans.
SCAN_BOMB = (7000, 5000)
FAST = 1.0  # seconds: a refusal from the segments, on a machine shared by many
NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def progressive(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(out, format="JPEG", progressive=True)
    return out.getvalue()


@cache
def scan_bomb(side: int = SCAN_BOMB[0], repeats: int = SCAN_BOMB[1]) -> bytes:
    """A flat progressive JPEG whose first luma AC scan (75 bytes: component 1, coefficients
    1 to 5) is repeated `repeats` more times: each copy makes libjpeg walk every block of
    the picture once more, so the decoding time grows with the scans, not the bytes."""
    data = progressive(side)
    header = data.index(b"\xff\xda\x00\x08\x01\x01\x00\x01\x05")  # SOS: Y, Ss=1, Se=5
    end = NEXT_MARKER.search(data, header + 10).start()  # its entropy-coded data ends here
    return data[:end] + data[header:end] * repeats + data[end:]


def test_the_scan_bomb_is_what_the_review_built() -> None:
    bomb = scan_bomb()
    assert 600_000 < len(bomb) < 700_000
    assert jpeg_scans(bomb) == 5_010 and jpeg_scans(progressive(640)) == 10
    with Image.open(io.BytesIO(bomb)) as probe:
        assert probe.size == (7000, 7000) and probe.info.get("progressive")


def test_the_scan_bomb_is_refused_in_milliseconds(tmp_path) -> None:
    started = time.monotonic()
    with pytest.raises(PhotoError) as refused:
        store_photo(scan_bomb(), tmp_path)
    assert time.monotonic() - started < FAST
    assert refused.value.reason == "not_image"
    assert not list(tmp_path.rglob("*.jpg"))


def test_scans_are_counted_segment_by_segment(tmp_path) -> None:
    """Bytes that look like scan markers inside a comment or EXIF are not scans: a camera
    photo whose metadata happens to hold them is kept."""
    photo = progressive(800)
    noise = b"\xff\xda\x00\x08" * 2_000
    comment = b"\xff\xfe" + struct.pack(">H", len(noise) + 2) + noise
    with_comment = photo[:2] + comment + photo[2:]
    assert jpeg_scans(with_comment) == 10
    assert store_photo(with_comment, tmp_path).width == 800
    # Restart markers and stuffed bytes inside a scan's data do not end it.
    restarts = io.BytesIO()
    Image.open(io.BytesIO(photo)).save(restarts, format="JPEG", progressive=True,
                                       restart_marker_blocks=1)  # fmt: skip
    assert jpeg_scans(restarts.getvalue()) == 10


def test_a_picture_that_decodes_too_slowly_is_stopped(tmp_path, monkeypatch) -> None:
    """Past the scan count (raised here), the decoder's CPU limit still stops a slow file:
    decoding the bomb takes over 10 s of CPU; it is given 1."""
    monkeypatch.setattr(media, "MAX_JPEG_SCANS", 1_000_000)
    monkeypatch.setattr(media, "DECODE_CPU_SECONDS", 1)
    started = time.monotonic()
    with pytest.raises(PhotoError) as refused:
        store_photo(scan_bomb(), tmp_path)
    assert time.monotonic() - started < media.DECODE_WAIT_SECONDS
    assert refused.value.reason == "not_image"
    assert not list(tmp_path.rglob("*.jpg"))
    # The same decoder keeps an ordinary photo.
    assert store_photo(progressive(800), tmp_path).width == 800


def test_the_scan_bomb_on_whatsapp_is_refused_politely_and_fast(wa_sqlite_app, twilio) -> None:
    wa = WhatsApp(wa_sqlite_app, twilio)
    wa.text("Bonjour")
    wa.pick("cat:nid-de-poule", "Pothole")
    wa.text("A hole")
    wa.inbox()
    started = time.monotonic()
    wa.photo(scan_bomb())  # the webhook, then the worker's download and check
    assert time.monotonic() - started < 2 * FAST
    answer = wa.texts()
    assert answer[0] == "I can only use pictures (JPEG, PNG, WebP). Please send a photo."
    assert wa.state == "photo"  # asked again: nothing of the report is lost
    wa.photo(progressive(800))
    assert wa.texts()[0].startswith("Where is it?")


def test_the_scan_bomb_on_telegram_is_refused_politely_and_fast(tg_client, tg_rt,
                                                                telegram) -> None:  # fmt: skip
    yann = citizen_at(tg_rt, "photo")
    telegram.add_file("BQACAgQAAxkBAAIBaWdocument", scan_bomb(), "documents/bomb.jpg")
    update = with_ids(payload("image_as_document"), 704519100, 200)
    update["message"]["document"]["file_size"] = len(scan_bomb())
    started = time.monotonic()
    assert telegram_post(tg_client, update).status_code == 200  # webhook and worker
    assert time.monotonic() - started < 2 * FAST
    [answer, *again] = [m.text for m in yann.new_messages()]
    assert answer == "I can only use pictures (JPEG, PNG, WebP). Please send a photo."
    assert again and yann.state == "photo"  # asked again: nothing of the report is lost


# What the server process does with the review's picture, measured in a process of its own:
# VmHWM is the peak resident memory of its address space (Pillow's buffers are invisible to
# tracemalloc, and ru_maxrss would start from the peak of the pytest process that forked it).
SERVER = """
import io, json, sys, time
from pathlib import Path

from app.factory import create_app
from services.links import mint_token
from tests.conftest import base_config
from tests.helpers import TalkingCitizen

url, tmp, bomb, small = sys.argv[1:5]
app = create_app({**base_config(url, Path(tmp)), "DEBUG": False})
rt = app.extensions["webleads"]
authors = {}
for name, place in (("marie", (48.1246, -1.2082)), ("paul", (48.1150, -1.1900))):
    talker = TalkingCitizen(rt, name, name=name.title())
    number = talker.file_report(location=place)
    authors[number] = talker.citizen.id
warm_up, target = authors
client = app.test_client()


def peak_kib():
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])


def upload(number, path):
    page = "/r/" + mint_token(rt.settings.SECRET_KEY, number, authors[number])
    assert client.get(page).status_code == 200
    data = {"photo": (io.BytesIO(Path(path).read_bytes()), "photo.png", "image/png")}
    return client.post(page, data=data, content_type="multipart/form-data")


assert upload(warm_up, small).status_code == 200  # templates, Pillow's codecs: loaded
before = peak_kib()
started = time.monotonic()
response = upload(target, bomb)
seconds = time.monotonic() - started
after = peak_kib()
with rt.db.reading() as session:
    from models.report import media_of_report
    kept = len(media_of_report(session, target))
rt.db.dispose()
print(json.dumps({"status": response.status_code, "page": response.get_data(as_text=True),
                  "growth_mb": (after - before) / 1024, "seconds": seconds, "kept": kept}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_the_reviews_bomb_through_the_link_page_is_refused_in_bounded_memory(
    database_url, tmp_path
) -> None:
    bomb, small = tmp_path / "bomb.png", tmp_path / "small.png"
    bomb.write_bytes(flat_png(BOMB_SIDE, BOMB_SIDE))
    small.write_bytes(flat_png(640, 480))
    run = run_python(SERVER, database_url, str(tmp_path), str(bomb), str(small))
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["kept"] == 0, result["growth_mb"]
    assert result["status"] == 400
    assert "Cette image est trop grande (trop de pixels)" in result["page"]  # the town's language
    assert 'id="link-form"' in result["page"]  # the form again, to choose another picture
    assert result["growth_mb"] < MAX_GROWTH_MB, result


# --- one sender cannot hold every job thread ----------------------------------------------------


def post_unanswered(wa: WhatsApp, fixture: str = "inbound_text", **fields) -> None:
    """Posts a WhatsApp message without running the worker: a flood arrives faster than
    the worker takes jobs."""
    sid = "SM" + uuid.uuid4().hex
    form = wa_form(fixture, From="whatsapp:" + wa.number, WaId=wa.number.lstrip("+"),
                   ProfileName=wa.name, MessageSid=sid, SmsSid=sid, SmsMessageSid=sid)  # fmt: skip
    form.update(fields)
    wa.twilio.whatsapp_inbound(wa.number)
    assert post_signed(wa.client, INBOUND, form, wa.twilio.auth_token).status_code == 200


def photo_unanswered(wa: WhatsApp, data: bytes) -> None:
    sid, media_sid = "MM" + uuid.uuid4().hex, "ME" + uuid.uuid4().hex
    wa.twilio.add_media(sid, media_sid, data, "image/jpeg")
    url = (f"https://api.twilio.com/2010-04-01/Accounts/{wa.twilio.account_sid}"
           f"/Messages/{sid}/Media/{media_sid}")  # fmt: skip
    post_unanswered(wa, "inbound_image", MediaUrl0=url, MediaContentType0="image/jpeg")


def at_the_photo_step(wa: WhatsApp, *, worker: bool = True) -> None:
    """Brings the citizen to "can you add a photo?" (without the worker for a flood)."""
    if worker:
        wa.text("Bonjour")
        wa.pick("cat:nid-de-poule", "Pothole")
        wa.text("A hole")
        return
    post_unanswered(wa, Body="Bonjour")
    post_unanswered(wa, "inbound_list_reply", ListId="cat:nid-de-poule", ListTitle="Pothole",
                    Body="Pothole")  # fmt: skip
    post_unanswered(wa, Body="A hole")


def test_a_flood_of_photos_from_one_citizen_does_not_delay_another(wa_app, twilio) -> None:
    """A sender who sends a picture, STOP, START and a picture again, over and over, leaves
    at most two pictures of theirs for the worker; another citizen's photo is handled in
    the worker's next round (4 threads), not after the flood."""
    flooder, other = WhatsApp(wa_app, twilio, "+33600000001"), WhatsApp(wa_app, twilio)
    at_the_photo_step(flooder)
    at_the_photo_step(other)
    flooder.inbox()
    other.inbox()
    for _ in range(5):
        photo_unanswered(flooder, scan_bomb(7000, 80))  # accepted, and slow to decode
        post_unanswered(flooder, Body="STOP")
        post_unanswered(flooder, Body="START")
        at_the_photo_step(flooder, worker=False)
    photo_unanswered(other, progressive(800))
    with wa_app.extensions["webleads"].db.reading() as session:
        assert photo_jobs_pending(session, flooder.citizen.id) <= 2

    assert JobRunner(wa_app.extensions["webleads"]).run_once() >= 1  # one round
    assert other.texts()[0].startswith("Where is it?")
    told = [message.payload.get("text") for message in flooder.outbox()]
    busy = (
        "One moment: I am still looking at your previous photo. Please send this one again "
        "in a minute."
    )
    assert told.count(busy) == 3  # the third, fourth and fifth pictures
