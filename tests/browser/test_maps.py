"""Every map with its tile server unreachable (MAP_TILES_URL on a closed port): each says
"Fond de carte indisponible" and still draws the town's outline, the reports and a legend;
the public report page shows its place without JavaScript; the simulator shares a position
by a click on its map."""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

from app.factory import create_app
from app.seed import seed_demo
from models import migrate
from models.db import Database
from models.report import get_report
from services import reports
from services.runtime import Runtime
from tests.browser.support import log_in, screenshot
from tests.conftest import base_config
from tests.helpers import PASSWORD, TalkingCitizen, make_agent

NOTICE = "Fond de carte indisponible"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(app):
    """Serves the app on a free port in a thread; returns (url, stop)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_port}", stop


@dataclass
class Town:
    url: str
    rt: Runtime
    tiles: str  # the unreachable tile server's root
    pothole: int  # open, in the centre
    graffiti: int  # resolved, to the north-east
    database_url: str


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    """The whole app on a port, its tiles on a closed one, with two located reports."""
    tmp = tmp_path_factory.mktemp("maps")
    url = f"sqlite:///{tmp / 'maps.db'}"
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
    db.dispose()
    tiles = f"http://127.0.0.1:{closed_port()}"
    app = create_app({**base_config(url, tmp), "MAP_TILES_URL": tiles + "/{z}/{x}/{y}.png"})
    rt = app.extensions["webleads"]
    make_agent(rt, "voirie@vitre.example", services=("voirie", "proprete"))
    pothole = TalkingCitizen(rt, "marie", name="Marie").file_report(location=(48.1246, -1.2082))
    graffiti = TalkingCitizen(rt, "paul", name="Paul").file_report(
        category_choice="cat:graffiti", description="Tag sur le mur du gymnase",
        location=(48.1400, -1.1800),
    )  # fmt: skip
    with rt.db.transaction() as session:
        reports.change_status(session, graffiti, "resolved", message="Nettoyé.")
    base, stop = serve(app)
    yield Town(base, rt, tiles, pothole, graffiti, url)
    stop()
    rt.db.dispose()


@pytest.fixture
def page(browser, town):
    """A fresh context; fails the test on any script or CSP error, except the tiles' own
    failures to load (that is the point)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"script error: {exc}"))

    def console(msg) -> None:
        if msg.type == "error" and not msg.location.get("url", "").startswith(town.tiles):
            errors.append(f"console: {msg.text} {msg.location}")

    page.on("console", console)
    yield page
    context.close()
    assert errors == []


def assert_fails_gracefully(page, map_selector: str, legend: list[str]) -> None:
    """The notice is shown, the outline drawn, the legend names what is drawn."""
    notice = page.locator(f"{map_selector} .map-notice")
    notice.wait_for(state="visible")
    assert notice.inner_text() == NOTICE
    page.wait_for_selector(f"{map_selector}[data-outline='1']")
    # The outline (dashed) is in view, not only loaded.
    assert page.locator(f"{map_selector} path[stroke-dasharray='6 4']").is_visible()
    text = page.locator(f"{map_selector} .map-legend").inner_text()
    for words in [*legend, "Limite de la commune"]:
        assert words in text, text


def test_the_console_map_without_tiles(page, town):
    log_in(page, town, "voirie@vitre.example", PASSWORD)
    page.goto(f"{town.url}/console/map?status=all")
    page.wait_for_selector("#queue-map[data-loaded='2']")
    assert_fails_gracefully(page, "#queue-map", ["Légende", "Nouveau", "Résolu"])
    # Two report dots and the outline (not a marker) on the overlay.
    assert page.locator("#queue-map .leaflet-overlay-pane path.leaflet-interactive").count() == 2
    screenshot(page, "maps-console-queue")


def test_the_console_report_page_map_without_tiles(page, town):
    log_in(page, town, "voirie@vitre.example", PASSWORD)
    page.goto(f"{town.url}/console/reports/{town.pothole}")
    assert_fails_gracefully(page, "#report-map", ["Nouveau"])
    screenshot(page, "maps-console-report")


def test_the_public_maps_without_tiles(page, town):
    page.goto(f"{town.url}/reports")
    page.wait_for_selector("#map[data-loaded='2']")
    assert_fails_gracefully(page, "#map", ["En cours", "Traités"])
    screenshot(page, "maps-public-reports")

    page.goto(f"{town.url}/reports/{town.pothole}")
    assert_fails_gracefully(page, "#place-map", ["En cours"])
    # The map replaced the drawing made on the server.
    assert page.locator("#place-drawing").is_hidden()
    assert page.locator("#place-map .leaflet-overlay-pane path.leaflet-interactive").count() == 1
    screenshot(page, "maps-public-report")


def test_a_tile_server_that_never_answers_is_called_unavailable(browser, town, tmp_path):
    """No error ever comes from a server that accepts and stays silent: the map says so
    once no tile has arrived for a while."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        tiles = f"http://127.0.0.1:{silent.getsockname()[1]}/{{z}}/{{x}}/{{y}}.png"
        app = create_app({**base_config(town.database_url, tmp_path), "MAP_TILES_URL": tiles})
        base, stop = serve(app)
        context = browser.new_context(locale="fr-FR")
        try:
            page = context.new_page()
            page.goto(f"{base}/reports", wait_until="domcontentloaded")
            page.wait_for_selector("#map[data-loaded='2']")
            assert page.locator("#map .map-notice").is_hidden()  # not yet: tiles may come
            page.locator("#map .map-notice").wait_for(state="visible", timeout=15_000)
            assert page.locator("#map .map-notice").inner_text() == NOTICE
        finally:
            context.close()
            stop()
            app.extensions["webleads"].db.dispose()


def test_the_public_report_page_shows_its_place_without_javascript(browser, town):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="fr-FR", java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(f"{town.url}/reports/{town.graffiti}")
        drawing = page.locator("#place-drawing")
        assert drawing.is_visible()
        box = drawing.bounding_box()
        assert box["width"] > 200 and box["height"] > 150
        assert page.locator("#place-drawing circle.pin").is_visible()
        assert page.locator("#place-map").is_hidden()
        screenshot(page, "maps-public-report-no-js")
    finally:
        context.close()


def test_the_simulator_shares_a_position_by_a_click(page, town):
    log_in(page, town, "voirie@vitre.example", PASSWORD)
    page.goto(f"{town.url}/console/simulator")
    bubbles = page.locator("#chat .bubble.bot")

    def answered(action) -> None:
        count = bubbles.count()
        action()
        page.wait_for_function(
            f"() => document.querySelectorAll('#chat .bubble.bot').length > {count}"
        )

    def send(text: str) -> None:
        page.fill("#sim-text", text)
        page.click("#sim-form button[type=submit]")

    answered(lambda: send("bonjour"))
    answered(lambda: page.click("#choices button.choice:text-is('Tag ou graffiti')"))
    answered(lambda: send("Un grand tag sur la porte de la médiathèque"))
    answered(lambda: page.click("#choices button.choice:text-is('Passer')"))
    assert_fails_gracefully(page, "#sim-map", ["La position à envoyer"])
    # The map opens on the town's outline; a click inside it places the pin.
    box = page.locator("#sim-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.45)
    pinned = page.locator("#sim-pin").inner_text()
    lat, lon = (float(v) for v in pinned.split(","))
    assert 48.08 < lat < 48.17 and -1.29 < lon < -1.14, pinned  # inside Vitré
    answered(lambda: page.click("#sim-send-pin"))
    assert "Position" in page.locator("#chat .bubble.me").last.inner_text()
    answered(lambda: page.click("#choices button.choice:text-is('Envoyer')"))
    number = int(re.search(r"#(\d+)", bubbles.last.inner_text()).group(1))
    with town.rt.db.reading() as session:
        report = get_report(session, number)
    assert report.channel == "dev" and report.geolocated
    assert (round(report.lat, 5), round(report.lon, 5)) == (round(lat, 5), round(lon, 5))
    screenshot(page, "maps-simulator")
