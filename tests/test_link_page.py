"""The one-time page of an SMS report (/r/<token>): a photo and a pin, once, for 24 hours.

The link comes from the SMS the citizen received at the end of a report; the page is
driven over HTTP and, once, in a real browser (Debian's chromium under Playwright).
"""

from __future__ import annotations

import io
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner
from PIL import Image
from werkzeug.serving import make_server

from models.report import get_report, media_of_report, report_events
from services import links, reports
from tests.helpers import jpeg_with_gps
from tests.sms_support import Phone, make_sms_app

POTERIE = (48.1246, -1.2082)
PARIS = (48.8566, 2.3522)
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
LINK_RE = re.compile(r"https://town\.example\.org(/r/\S+)")


def report_with_link(phone: Phone) -> tuple[int, str]:
    """Files a report by SMS; returns its number and the link's path from the SMS."""
    for body in ("Hello", "1", "Deep hole in front of number 12", "skip",
                 "12 rue de la Poterie", "1"):  # fmt: skip
        phone.text(body)
    done, link = phone.inbox()[-2:]
    number = int(done.split("#", 1)[1].split(" ", 1)[0])
    return number, LINK_RE.search(link).group(1)


def post(client, path: str, *, photo: bytes | None = None, pin=None, **form):
    data = dict(form)
    if photo is not None:
        data["photo"] = (io.BytesIO(photo), "photo.jpg", "image/jpeg")
    if pin is not None:
        data["lat"], data["lon"] = (str(v) for v in pin)
    return client.post(path, data=data, content_type="multipart/form-data")


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def phone_photo() -> bytes:
    """A camera-like JPEG of a few MB, GPS in its EXIF: far over the 1 MB webhooks accept."""
    noise = Image.frombytes("RGB", (1800, 1350), os.urandom(1800 * 1350 * 3))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 7.0, 28.0), 3: "W", 4: (1.0, 12.0, 30.0)}
    out = io.BytesIO()
    noise.save(out, format="JPEG", quality=95, exif=exif)
    assert len(out.getvalue()) > 2 * 1024 * 1024
    return out.getvalue()


def expired_token(secret: str, number: int) -> str:
    class Yesterday(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - links.MAX_AGE_SECONDS - 60

    return Yesterday(secret, salt=links.SALT).sign(f"{number}-oldnonce").decode()


# --- over HTTP -----------------------------------------------------------------------------


def test_the_link_adds_a_photo_and_a_pin_once(sms_app, twilio) -> None:
    phone = Phone(sms_app, twilio)
    number, path = report_with_link(phone)
    client = phone.client

    page = client.get(path)
    assert page.status_code == 200
    assert f"Your report #{number}" in text_of(page)
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "strict-origin"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]

    done = post(client, path, photo=phone_photo(), pin=POTERIE)
    assert done.status_code == 200
    assert f"Your photo was added to #{number}." in text_of(done)
    assert f"#{number} is now placed on the map." in text_of(done)

    rt = phone.rt
    with rt.db.reading() as session:
        report = get_report(session, number)
        (media,) = media_of_report(session, number)
        kinds = [e.kind for e in report_events(session, number)]
    assert (report.lat, report.lon, report.geolocated) == (*POTERIE, True)
    stored = Image.open(Path(rt.settings.MEDIA_DIR) / media.path)
    assert len(stored.getexif()) == 0
    assert kinds.count("citizen_message") == 1 and kinds.count("geocoded") == 1

    again = client.get(path)
    assert again.status_code == 410 and "This link was already used" in text_of(again)
    replay = post(client, path, photo=jpeg_with_gps(), pin=PARIS)
    assert replay.status_code == 410
    with rt.db.reading() as session:
        assert len(media_of_report(session, number)) == 1
        assert get_report(session, number).lat == POTERIE[0]


@pytest.mark.parametrize(
    ("label", "make_path", "status", "says"),
    [
        ("forged signature", lambda n, key: f"/r/{n}-abcdefgh.AAAAAA.{'x' * 27}", 404,
         "This link is not valid."),
        ("cut short", lambda n, key: links.report_link("", key, n)[:-6], 404,
         "This link is not valid."),
        ("another report's number",
         lambda n, key: links.report_link("", key, n).replace(f"/r/{n}-", f"/r/{n + 1}-"), 404,
         "This link is not valid."),
        ("signed with another key", lambda n, key: links.report_link("", "other", n), 404,
         "This link is not valid."),
        ("older than 24 hours", lambda n, key: "/r/" + expired_token(key, n), 410,
         "Links to add a photo or a place last 24 hours. Send #{n} by SMS"),
    ],
    ids=lambda value: value if isinstance(value, str) and " " in value else None,
)  # fmt: skip
def test_links_that_cannot_be_used_say_so(sms_sqlite_app, twilio, label, make_path, status,
                                          says) -> None:  # fmt: skip
    phone = Phone(sms_sqlite_app, twilio)
    number, _ = report_with_link(phone)
    path = make_path(number, phone.rt.settings.SECRET_KEY)
    for response in (phone.client.get(path), post(phone.client, path, pin=POTERIE)):
        assert response.status_code == status, label
        assert says.format(n=number) in text_of(response)
    with phone.rt.db.reading() as session:
        assert get_report(session, number).lat is None


def test_a_closed_report_takes_nothing_more(sms_sqlite_app, twilio) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    number, path = report_with_link(phone)
    with phone.rt.db.transaction() as session:
        reports.change_status(session, number, "resolved")
    response = phone.client.get(path)
    assert response.status_code == 410
    assert f"#{number} is already dealt with" in text_of(response)


@pytest.mark.parametrize(
    ("label", "form", "status", "says"),
    [
        ("nothing", {}, 400, "Add a photo or place the pin before sending."),
        ("a pin in Paris", {"pin": PARIS}, 400,
         "This place is outside the area the service covers (Vitré)."),
        ("coordinates that are not numbers", {"pin": ("north", "west")}, 400,
         "These coordinates are not valid"),
        ("a file that is not a picture", {"photo": b"%PDF-1.4"}, 400,
         "This file is not a picture we can use"),
        ("a picture over 20 MB", {"photo": b"\xff\xd8" + b"\0" * (21 * 1024 * 1024)}, 413,
         "This picture is too large (the limit is 20 MB)."),
    ],
)  # fmt: skip
def test_a_wrong_form_is_explained_and_the_link_still_works(sms_sqlite_app, twilio, label, form,
                                                            status, says) -> None:  # fmt: skip
    phone = Phone(sms_sqlite_app, twilio)
    _, path = report_with_link(phone)
    response = post(phone.client, path, **form)
    assert response.status_code == status, label
    assert says in text_of(response)
    assert 'id="link-form"' in response.get_data(as_text=True)  # the form, to try again
    assert post(phone.client, path, pin=POTERIE).status_code == 200


def test_the_link_is_only_sent_when_something_is_missing(sms_sqlite_app, twilio) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    for body in ("Hello", "1", "Deep hole in front of number 12"):
        phone.text(body)
    phone.mms(jpeg_with_gps())
    phone.text("12 rue de la Poterie")  # no geocoder here: kept as typed, not on the map
    phone.text("1")
    assert "/r/" in phone.inbox()[-1]


def test_leaflet_is_served_from_the_project(sms_sqlite_app, twilio) -> None:
    """The page's map and scripts come from this server (one vendored Leaflet, the console's)."""
    phone = Phone(sms_sqlite_app, twilio)
    _, path = report_with_link(phone)
    page = phone.client.get(path).get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', page)
    assert "/console/static/vendor/leaflet/leaflet.js" in assets, assets
    assert "/console/static/vendor/leaflet/leaflet.css" in assets, assets
    for url in [*assets, "/console/static/vendor/leaflet/images/marker-icon.png"]:
        assert phone.client.get(url).status_code == 200, url  # no session needed
    assert "/r-static/link/page.js" in assets


# --- in a real browser --------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_server(database_url, tmp_path, twilio):
    """The app served on 127.0.0.1 in a thread; its map tiles cannot load (closed port)."""
    tiles = f"http://127.0.0.1:{closed_port()}/{{z}}/{{x}}/{{y}}.png"
    app = make_sms_app(database_url, tmp_path, twilio, LINK_TILE_URL=tiles)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["webleads"].db.dispose()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: apt-get install chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--headless=new",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def test_in_a_browser_the_pin_is_dropped_and_the_photo_sent(live_server, twilio, browser) -> None:
    from playwright.sync_api import expect

    app, base = live_server
    phone = Phone(app, twilio)
    number, path = report_with_link(phone)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    try:
        response = page.goto(base + path, wait_until="domcontentloaded")
        assert response.status == 200
        page.wait_for_selector(".leaflet-container")
        # The tile server is unreachable: said plainly, and the pin still works.
        page.wait_for_selector("#tiles-failed", state="visible")
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert page.locator("#pin-status").inner_text().startswith("Pin placed.")
        assert page.locator(".leaflet-marker-icon").count() == 1
        clicked = float(page.input_value("#lat")), float(page.input_value("#lon"))
        assert abs(clicked[0] - 48.12) < 0.05 and abs(clicked[1] + 1.21) < 0.05
        # Typing coordinates moves the same pin.
        page.click("#coordinates summary")
        page.fill("#lat", str(POTERIE[0]))
        page.fill("#lon", str(POTERIE[1]))
        expect(page.locator("#pin-status")).to_contain_text("48.12460, -1.20820")
        page.set_input_files("#photo", files=[{"name": "hole.jpg", "mimeType": "image/jpeg",
                                               "buffer": jpeg_with_gps()}])  # fmt: skip
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "link_page.png"), full_page=True)
        with page.expect_navigation():
            page.click("#send")
        assert f"Your photo was added to #{number}." in page.inner_text("main")

        with app.extensions["webleads"].db.reading() as session:
            report = get_report(session, number)
            (media,) = media_of_report(session, number)
        assert (round(report.lat, 4), round(report.lon, 4)) == POTERIE and report.geolocated
        stored = Image.open(Path(app.extensions["webleads"].settings.MEDIA_DIR) / media.path)
        assert stored.format == "JPEG" and len(stored.getexif()) == 0

        again = page.goto(base + path)
        assert again.status == 410 and "This link was already used" in page.inner_text("main")
        forged = page.goto(base + path[:-4] + "AAAA")
        assert forged.status == 404 and "This link is not valid." in page.inner_text("main")
        key = app.extensions["webleads"].settings.SECRET_KEY
        expired = page.goto(base + "/r/" + expired_token(key, number))
        assert expired.status == 410 and "This link has expired" in page.inner_text("main")
    finally:
        context.close()
