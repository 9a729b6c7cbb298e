"""The public site in Chromium: axe-core (WCAG 2.1 A/AA) on every public page in French
and English, on a desk and on a phone, the map drawn from the GeoJSON (no CDN, no script
error), and a resident working the report page with the keyboard alone (skip link, menu,
follow buttons)."""

from __future__ import annotations

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from app.factory import create_app
from services import moderation, reports
from tests.browser.axe import assert_accessible
from tests.conftest import base_config
from tests.helpers import TalkingCitizen, make_agent

LANGUAGES = ("fr", "en")
# (name, viewport): a desk, and a phone held upright.
WIDTHS = [("desk", {"width": 1366, "height": 900}), ("phone", {"width": 390, "height": 844})]


@pytest.fixture(scope="module")
def public_live(tmp_path_factory, sqlite_template):
    """The app with Telegram and SMS set up (invites, follow buttons), on a port; no tiles.

    Nothing reaches Telegram or Twilio: the pages only print the links."""
    tmp = tmp_path_factory.mktemp("public-live")
    shutil.copyfile(sqlite_template, tmp / "public.db")
    app = create_app(
        {
            **base_config(f"sqlite:///{tmp / 'public.db'}", tmp),
            "CONSOLE_TILE_URL": "none",
            "TELEGRAM_BOT_TOKEN": "123456:public-site-test",
            "TELEGRAM_WEBHOOK_SECRET": "public-site-secret",
            "TELEGRAM_BOT_USERNAME": "VitreBot",
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "0" * 32,
            "TWILIO_FROM_NUMBER": "+33939000001",
            "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
        }
    )
    rt = app.extensions["webleads"]
    make_agent(rt, "voirie@vitre.example", name="Léa Martin")
    open_one = TalkingCitizen(rt, "marie", name="Marie").file_report(description="Un trou profond")
    fixed = TalkingCitizen(rt, "paul", name="Paul").file_report(
        category_choice="cat:lampadaire", description="Lampadaire éteint",
        location=(48.1210, -1.2150),
    )  # fmt: skip
    with rt.db.transaction() as session:
        reports.change_status(session, open_one, "in_progress", message="Une équipe passe jeudi.")
        reports.change_status(session, fixed, "resolved", message="Ampoule changée.")
        moderation.publish(session, fixed, agent_id=None)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", {"open": open_one, "fixed": fixed}
    server.shutdown()
    thread.join(timeout=5)
    rt.db.dispose()


PAGES = [
    ("town", "/"),
    ("reports", "/reports"),
    ("reports-filtered", "/reports?status=fixed&period=year"),
    ("report-open", "/reports/{open}"),
    ("report-fixed", "/reports/{fixed}"),
]


@pytest.mark.parametrize(("width", "viewport"), WIDTHS, ids=[name for name, _ in WIDTHS])
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("name", "path"), PAGES, ids=[name for name, _ in PAGES])
def test_a_public_page(page, public_live, lang, name, path, width, viewport):
    page.set_viewport_size(viewport)
    url, numbers = public_live
    query = "" if lang == "fr" else ("&" if "?" in path else "?") + "lang=en"
    page.goto(url + path.format(**numbers) + query)
    page.wait_for_load_state("networkidle")
    if name.startswith("reports"):  # the map is drawn from the GeoJSON, points included
        page.wait_for_selector("#map .leaflet-interactive")
    assert_accessible(page, lang=lang, where=f"public {name} ({lang}, {width})")


@pytest.fixture
def missing_page(browser):
    """A page whose 404 the browser logs as a console error (expected)."""
    context = browser.new_context(locale="fr-FR")
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_not_found_page(missing_page, public_live, lang):
    url, _ = public_live
    missing_page.goto(f"{url}/reports/999999" + ("?lang=en" if lang == "en" else ""))
    assert missing_page.locator("h1").count() == 1
    assert_accessible(missing_page, lang=lang, where=f"public 404 ({lang})")


def focused(page) -> dict:
    return page.evaluate(
        """() => {
            const el = document.activeElement, s = getComputedStyle(el);
            return {tag: el.tagName, text: (el.innerText || '').trim(),
                    href: el.getAttribute('href') || '', id: el.id,
                    visible: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0};
        }"""
    )


def test_the_report_page_with_the_keyboard_only(page, public_live):
    """Skip link first, then the menu, the language switch, and each follow button; every
    stop shows its focus; Enter on the skip link moves to the content."""
    url, numbers = public_live
    page.goto(f"{url}/reports/{numbers['open']}")
    page.keyboard.press("Tab")
    first = focused(page)
    assert first["href"] == "#main" and first["visible"]
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.goto(f"{url}/reports/{numbers['open']}")
    stops = []
    for _ in range(20):
        page.keyboard.press("Tab")
        stop = focused(page)
        assert stop["visible"], f"focus not visible on {stop}"
        stops.append(stop)
        if stop["href"].startswith("sms:"):
            break
    hrefs = [s["href"] for s in stops]
    assert hrefs[:2] == ["#main", "/"] and "/reports" in hrefs
    assert f"https://t.me/VitreBot?start=follow_{numbers['open']}" in hrefs
    assert hrefs[-1] == f"sms:+33939000001?body=SUIVRE+{numbers['open']}"
    assert_accessible(page, lang="fr", where="public report after the keyboard walk")
