"""The one-time page of an SMS report (/r/<token>): a photo and a pin, once, for 24 hours,
for the report's author only; and the read-only after-photo page (/r/<token>/fait).

The link comes from the SMS the citizen received at the end of a report; the page is
driven over HTTP and, once, in a real browser (Debian's chromium under Playwright). The
page checks a photo from its headers and answers at once; the worker decodes it.
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
from sqlmodel import select
from werkzeug.serving import make_server

from models.jobs import Job, JobKind, JobStatus
from models.report import add_media, attach_media, get_report, media_of_report, report_events
from services import links, reports
from services.media import store_photo
from tests.helpers import jpeg_with_gps, run_jobs
from tests.sms_support import Phone, make_sms_app
from tests.test_photo_bomb import scan_bomb

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


def expired_token(secret: str, number: int, citizen_id: int = 1) -> str:
    class Yesterday(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - links.MAX_AGE_SECONDS - 60

    return Yesterday(secret, salt=links.UPLOAD_SALT).sign(f"{number}-{citizen_id}-old").decode()


def old_format_token(secret: str, number: int) -> str:
    """A link as minted before the per-audience tokens: one salt for both pages."""
    return TimestampSigner(secret, salt="webleads.report-link").sign(f"{number}-n0nce").decode()


def author_of(rt, number: int) -> int:
    with rt.db.reading() as session:
        return get_report(session, number).citizen_id


def photo_jobs(rt, number: int) -> list[str]:
    """The statuses of the link page's photo jobs for a report."""
    with rt.db.reading() as session:
        jobs = session.exec(select(Job).where(Job.report_id == number)).all()
    return [job.status for job in jobs if job.kind == JobKind.LINK_PHOTO]


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
    assert f"Your photo was received: it will appear on #{number} in a moment." in text_of(done)
    assert f"#{number} is now placed on the map." in text_of(done)

    rt = phone.rt
    run_jobs(rt)  # the worker decodes the photo
    with rt.db.reading() as session:
        report = get_report(session, number)
        (media,) = media_of_report(session, number)
        kinds = [e.kind for e in report_events(session, number)]
    assert (report.lat, report.lon, report.geolocated) == (*POTERIE, True)
    stored = Image.open(Path(rt.settings.MEDIA_DIR) / media.path)
    assert len(stored.getexif()) == 0
    assert media.citizen_id == report.citizen_id  # the author's, as the link said
    assert not list(Path(rt.settings.MEDIA_DIR).glob("uploads/*"))  # the upload is gone
    assert kinds.count("citizen_message") == 1 and kinds.count("geocoded") == 1

    again = client.get(path)
    assert again.status_code == 410 and "This link was already used" in text_of(again)
    replay = post(client, path, photo=jpeg_with_gps(), pin=PARIS)
    assert replay.status_code == 410
    run_jobs(rt)
    with rt.db.reading() as session:
        assert len(media_of_report(session, number)) == 1
        assert get_report(session, number).lat == POTERIE[0]


@pytest.mark.parametrize(
    ("label", "make_path", "status", "says"),
    [
        ("forged signature", lambda n, c, key: f"/r/{n}-{c}-abcdefgh.AAAAAA.{'x' * 27}", 404,
         "This link is not valid."),
        ("cut short", lambda n, c, key: links.report_link("", key, n, c)[:-6], 404,
         "This link is not valid."),
        ("another report's number",
         lambda n, c, key: links.report_link("", key, n, c).replace(f"/r/{n}-", f"/r/{n + 1}-"),
         404, "This link is not valid."),
        ("signed with another key", lambda n, c, key: links.report_link("", "other", n, c), 404,
         "This link is not valid."),
        ("older than 24 hours", lambda n, c, key: "/r/" + expired_token(key, n, c), 410,
         "Links to add a photo or a place last 24 hours. Send #{n} by SMS"),
        ("the after-photo page's read-only link",
         lambda n, c, key: "/r/" + links.mint_view_token(key, n), 404, "This link is not valid."),
        ("minted for another citizen", lambda n, c, key: links.report_link("", key, n, c + 1),
         404, "This link is not valid."),
        ("in the format of before the per-audience links",
         lambda n, c, key: "/r/" + old_format_token(key, n), 404, "This link is not valid."),
    ],
    ids=lambda value: value if isinstance(value, str) and " " in value else None,
)  # fmt: skip
def test_links_that_cannot_be_used_say_so(sms_sqlite_app, twilio, label, make_path, status,
                                          says) -> None:  # fmt: skip
    phone = Phone(sms_sqlite_app, twilio)
    number, _ = report_with_link(phone)
    rt = phone.rt
    path = make_path(number, author_of(rt, number), rt.settings.SECRET_KEY)
    for response in (phone.client.get(path),
                     post(phone.client, path, pin=POTERIE, photo=jpeg_with_gps())):  # fmt: skip
        assert response.status_code == status, label
        assert says.format(n=number) in text_of(response)
    run_jobs(rt)
    with rt.db.reading() as session:
        assert get_report(session, number).lat is None
        assert media_of_report(session, number) == []


def test_a_link_minted_for_another_citizen_does_not_act_for_the_author(sms_sqlite_app,
                                                                       twilio) -> None:  # fmt: skip
    """Paul's own link works for Paul's report only, and a link for Paul on Marie's report
    (what the after-photo link to a follower was) is refused."""
    marie, paul = Phone(sms_sqlite_app, twilio), Phone(sms_sqlite_app, twilio, "+33698765432")
    hers, _ = report_with_link(marie)
    his, his_path = report_with_link(paul)
    rt, key = marie.rt, marie.rt.settings.SECRET_KEY
    crossed = links.report_link("", key, hers, author_of(rt, his))
    assert post(paul.client, crossed, pin=PARIS, photo=jpeg_with_gps()).status_code == 404
    assert post(paul.client, his_path, pin=POTERIE).status_code == 200
    run_jobs(rt)
    with rt.db.reading() as session:
        assert get_report(session, hers).lat is None and media_of_report(session, hers) == []
        assert get_report(session, his).lat == POTERIE[0]


def test_the_upload_answers_at_once_and_the_worker_decodes(sms_sqlite_app, twilio) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    number, path = report_with_link(phone)
    rt = phone.rt
    done = post(phone.client, path, photo=phone_photo())
    assert done.status_code == 200
    assert "it will appear on" in text_of(done)
    # Nothing was decoded in the request: the photo waits for the worker, as sent.
    with rt.db.reading() as session:
        assert media_of_report(session, number) == []
    assert photo_jobs(rt, number) == [JobStatus.QUEUED]
    assert len(list(Path(rt.settings.MEDIA_DIR).glob("uploads/*"))) == 1
    assert phone.client.get(path).status_code == 410  # used when accepted, not once decoded
    run_jobs(rt)
    with rt.db.reading() as session:
        (media,) = media_of_report(session, number)
    assert (media.width, media.height) == (1800, 1350)
    assert photo_jobs(rt, number) == [JobStatus.DONE]


def test_the_scan_bomb_is_refused_by_the_page_in_milliseconds(sms_sqlite_app, twilio) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    number, path = report_with_link(phone)
    started = time.monotonic()
    refused = post(phone.client, path, photo=scan_bomb())
    assert time.monotonic() - started < 1.0
    assert refused.status_code == 400
    assert "This file is not a picture we can use" in text_of(refused)
    assert 'id="link-form"' in refused.get_data(as_text=True)  # the link still works
    assert photo_jobs(phone.rt, number) == []


def test_a_photo_the_worker_cannot_use_is_said_by_sms_with_a_new_link(sms_sqlite_app,
                                                                      twilio) -> None:  # fmt: skip
    phone = Phone(sms_sqlite_app, twilio)
    number, path = report_with_link(phone)
    whole = jpeg_with_gps()
    cut = whole[: len(whole) // 2]  # its headers are right; its pixels stop halfway
    assert post(phone.client, path, photo=cut).status_code == 200
    run_jobs(phone.rt)
    [told] = phone.inbox()
    assert told.startswith(f"The photo you sent for #{number} could not be used")
    fresh = LINK_RE.search(told).group(1)
    assert fresh != path and post(phone.client, fresh, photo=whole).status_code == 200
    run_jobs(phone.rt)
    with phone.rt.db.reading() as session:
        assert len(media_of_report(session, number)) == 1


def test_one_citizens_photos_wait_their_turn_on_the_page(sms_sqlite_app, twilio) -> None:
    """Two of a citizen's photos waiting for the worker: a third is asked again later."""
    phone = Phone(sms_sqlite_app, twilio)
    number, path = report_with_link(phone)
    more = [links.report_link("", phone.rt.settings.SECRET_KEY, number,
                              author_of(phone.rt, number)) for _ in range(2)]  # fmt: skip
    paths = [path, *more]
    for path in paths[:2]:
        assert post(phone.client, path, photo=jpeg_with_gps()).status_code == 200
    busy = post(phone.client, paths[2], photo=jpeg_with_gps())
    assert busy.status_code == 429
    assert "Your previous photo is still being looked at" in text_of(busy)
    run_jobs(phone.rt)
    assert post(phone.client, paths[2], photo=jpeg_with_gps()).status_code == 200


def test_the_after_photo_page_is_read_only_and_public(sms_sqlite_app, twilio) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    number, upload_path = report_with_link(phone)
    rt, key = phone.rt, phone.rt.settings.SECRET_KEY
    field_photo = store_photo(jpeg_with_gps(), rt.settings)
    with rt.db.transaction() as session:
        media_id = add_media(session, field_photo, None)  # a field agent's photo
        attach_media(session, [media_id], number)
        reports.change_status(session, number, "resolved")
    view = links.after_photo_link("", key, number)
    page = phone.client.get(view)
    assert page.status_code == 200
    assert 'id="after-photo"' in page.get_data(as_text=True)
    shown = text_of(page)
    assert "Pothole" in shown
    assert "Deep hole in front of number 12" not in shown  # the description is private
    assert "rue de la Poterie" not in shown  # an address typed, never geocoded
    assert phone.client.get(view + ".jpg").status_code == 200
    # The read-only token opens nothing else, and the upload token is not read-only.
    token = view.removeprefix("/r/").removesuffix("/fait")
    assert phone.client.get("/r/" + token).status_code == 404
    assert post(phone.client, "/r/" + token, pin=POTERIE).status_code == 404
    assert phone.client.get(upload_path + "/fait").status_code == 404


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
        ("the review's scan bomb", {"photo": scan_bomb()}, 400,
         "This file is not a picture we can use"),
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
        assert f"it will appear on #{number} in a moment." in page.inner_text("main")

        run_jobs(app.extensions["webleads"])
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
