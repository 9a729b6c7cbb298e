"""WCAG 2.1 A/AA measured by axe-core in Chromium: the console's pages and the SMS link page.

Every page is checked in French and in English, with `<html lang>` matching, on a desk
(1366 px) and on a phone (390 px); the report page and the link page are also worked with
the keyboard alone. A new page is one more line in PAGES (a test fails until it is there),
or one `assert_accessible(page, lang=...)` in its own test.
"""

from __future__ import annotations

import re
import shutil
import threading
from urllib.parse import quote

import pytest
from werkzeug.serving import make_server

from models.citizen import find_citizen
from models.console import ResponseTemplate
from models.messaging import mark_dead, messages_for_report
from tests.browser.axe import assert_accessible
from tests.browser.support import console_pages, log_in
from tests.helpers import PASSWORD, TalkingCitizen, jpeg_with_gps, make_agent
from tests.sms_support import Phone, make_sms_app

LANGUAGES = ("fr", "en")
# (name, viewport): a desk, and a phone held upright.
WIDTHS = [("desk", {"width": 1366, "height": 900}), ("phone", {"width": 390, "height": 844})]


@pytest.fixture(scope="module")
def town(live, browser) -> dict[str, int]:
    """A queue of a few reports; one answered by an agent, the answer undelivered (dead)."""
    rt = live.rt
    agent_id = make_agent(rt, "voirie@vitre.example", name="Léa Martin")
    pothole = TalkingCitizen(rt, "marie", name="Marie").file_report(
        description="Un trou profond devant le 12"
    )
    TalkingCitizen(rt, "sophie", name="Sophie").file_report(
        description="Nid-de-poule rue Notre-Dame", location=(48.1300, -1.2000)
    )
    streetlight = TalkingCitizen(rt, "paul", name="Paul").file_report(
        category_choice="cat:lampadaire", description="Lampadaire éteint",
        location=(48.1210, -1.2150),
    )  # fmt: skip
    with rt.db.transaction() as session:
        session.add(
            ResponseTemplate(title="Intervention programmée", status="in_progress",
                             body="Bonjour {name}, intervention pour {ref}.")
        )  # fmt: skip
    # An agent answers Marie: her report's thread holds a status change and its delivery.
    context = browser.new_context(locale="fr-FR")
    agent = context.new_page()
    log_in(agent, live, "voirie@vitre.example", PASSWORD)
    agent.goto(f"{live.url}/console/reports/{pothole}")
    agent.select_option("#status-status", "in_progress")
    agent.fill("#status-message", "Une équipe passe demain.")
    agent.click("#status-form button[type=submit]")
    agent.wait_for_selector(".flash-success")
    context.close()
    with rt.db.transaction() as session:  # and one of its messages could not be delivered
        (message, *_) = messages_for_report(session, pothole)
        mark_dead(session, message.id, "403 Forbidden: bot was blocked by the user")
    keyboard = TalkingCitizen(rt, "alice", name="Alice").file_report(
        description="Chaussée déformée", location=(48.1180, -1.1990)
    )
    return {"pothole": pothole, "streetlight": streetlight, "keyboard": keyboard, "agent": agent_id}


# (name, path): every page of the console; {pothole} is a report's number, {agent} an agent's id.
PAGES = [
    ("queue", "/console/reports"),
    ("queue-all", "/console/reports?status=all"),
    ("report", "/console/reports/{pothole}"),
    ("map", "/console/map"),
    ("dashboard", "/console/dashboard"),
    ("outbox", "/console/messages"),
    ("simulator", "/console/simulator"),
    ("phone", "/console/phone"),
    ("new-report", "/console/reports/new"),
    ("admin-categories", "/console/admin/categories"),
    ("admin-services", "/console/admin/services"),
    ("admin-agents", "/console/admin/agents"),
    ("admin-templates", "/console/admin/templates"),
    ("admin-category-form", "/console/admin/categories/new"),
    ("admin-agent-form", "/console/admin/agents/{agent}"),
    ("agent-phone", "/console/agents/{agent}/phone"),
    ("admin-zones", "/console/admin/zones"),
    ("rollout-pilot", "/console/admin/pilot"),
    ("rollout-launch-kit", "/console/admin/launch-kit"),
    ("api-keys", "/console/admin/api-keys"),
    ("admin-bodies", "/console/admin/bodies"),
    ("reader", "/console/admin/reader"),
    ("danger-words", "/console/admin/danger-words"),
    ("oncall", "/console/admin/oncall"),
    ("open311-forwards", "/console/admin/open311-forwards"),
    ("audit-log", "/console/admin/audit"),
]


def switch_language(page, live, lang: str, path: str = "/console/login") -> None:
    """The console's own switch (the link in its header), then the page asked for."""
    page.goto(f"{live.url}/console/language/{lang}?next={quote(path)}")


@pytest.fixture
def plain_page(browser):
    """A page whose console errors are expected (a refused login answers 401, a refused form
    400, a missing report 404)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_every_console_page_is_checked(live, town):
    """Every page from the console's url_map is in PAGES (section edit forms share one
    template: one of them stands for all); the two that only redirect are left out."""
    checked = {endpoint_of(live, path.format(**town)) for _, path in PAGES}
    pages = console_pages(live, reports=(town["pothole"],), agent=town["agent"])
    missing = {endpoint_of(live, path) for path in pages} - checked
    assert missing <= {"console.home", "console.admin_home"}, missing


def endpoint_of(live, path: str) -> str:
    return live.app.url_map.bind("localhost").match(path.split("?")[0])[0]


@pytest.mark.parametrize(("width", "viewport"), WIDTHS, ids=[name for name, _ in WIDTHS])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_login_page(plain_page, live, lang, width, viewport):
    page = plain_page
    page.set_viewport_size(viewport)
    switch_language(page, live, lang)
    assert_accessible(page, lang=lang, where=f"login ({lang})")
    page.fill("input[name=email]", "nobody@vitre.example")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    page.wait_for_selector(".flash-error, .error, [role=alert]")
    assert_accessible(page, lang=lang, where=f"login with an error ({lang})")


@pytest.mark.parametrize(("width", "viewport"), WIDTHS, ids=[name for name, _ in WIDTHS])
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("name", "path"), PAGES, ids=[name for name, _ in PAGES])
def test_a_console_page(page, live, town, lang, name, path, width, viewport):
    page.set_viewport_size(viewport)
    log_in(page, live, "admin@vitre.example", live.admin_password)
    switch_language(page, live, lang, path.format(**town))  # logging in starts a new session
    page.wait_for_load_state("networkidle")
    if name in ("outbox", "report"):  # with the dead message and its Retry button
        assert page.locator("form.retry button").count() >= 1
    assert_accessible(page, lang=lang, where=f"{name} ({lang}, {width})")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_form_in_error(plain_page, live, lang):
    """A refused form: each field in error is marked invalid and described by its message."""
    page = plain_page  # the form comes back with a 400, which the browser logs
    log_in(page, live, "admin@vitre.example", live.admin_password)
    switch_language(page, live, lang, "/console/admin/categories/new")
    page.click("form.admin-form button[type=submit]")
    page.wait_for_selector(".field.has-error")
    invalid = page.locator("[aria-invalid=true]")
    assert invalid.count() >= 1
    described = invalid.first.get_attribute("aria-describedby").split()
    assert page.locator(f"#{described[0]}").inner_text().strip()
    assert_accessible(page, lang=lang, where=f"a category form in error ({lang})")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_counter_form_in_error_then_filed_from_the_map(plain_page, live, lang):
    """A report filed for a resident at the counter: the form refused (each field in error
    described), then the place picked on the map fills the coordinates, and it is filed."""
    page = plain_page  # the refused form answers 400, which the browser logs
    log_in(page, live, "admin@vitre.example", live.admin_password)
    switch_language(page, live, lang, "/console/reports/new")
    page.fill("#description", "Trou profond devant la boulangerie")
    page.click("form.counter-form button[type=submit]")
    page.wait_for_selector(".has-error")
    assert page.locator("#description").input_value() == "Trou profond devant la boulangerie"
    described = page.locator("#category").get_attribute("aria-describedby")
    assert page.locator(f"#{described}").inner_text().strip()
    assert_accessible(page, lang=lang, where=f"the counter form in error ({lang})")
    page.select_option("#category", index=1)
    page.locator("#counter-map").click()  # the middle of the town
    assert page.locator("#lat").input_value() and page.locator("#lon").input_value()
    page.click("form.counter-form button[type=submit]")
    page.wait_for_selector(".flash-success")
    filed = "Déposé au guichet par" if lang == "fr" else "Filed at the counter by"
    assert filed in page.locator("#thread").inner_text()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_error_page(plain_page, live, lang):
    page = plain_page  # the 404 is logged by the browser as a console error
    log_in(page, live, "admin@vitre.example", live.admin_password)
    switch_language(page, live, lang, "/console/reports/999999")
    assert page.locator("h1").count() == 1
    assert_accessible(page, lang=lang, where=f"a report that does not exist ({lang})")


@pytest.mark.parametrize(("width", "viewport"), WIDTHS, ids=[name for name, _ in WIDTHS])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_simulator_in_a_conversation(page, live, lang, width, viewport):
    """The chat as the bot answers: bubbles and choice buttons are checked too."""
    page.set_viewport_size(viewport)
    log_in(page, live, "admin@vitre.example", live.admin_password)
    switch_language(page, live, lang, "/console/simulator")
    page.fill("#sim-text", "bonjour")
    page.click("#sim-form button[type=submit]")
    page.wait_for_selector("#choices button.choice")
    assert_accessible(page, lang=lang, where=f"simulator in a conversation ({lang}, {width})")


def outline_of(page) -> dict:
    """The focused element and whether the focus is drawn (an outline or a ring)."""
    return page.evaluate(
        """() => {
            const el = document.activeElement, s = getComputedStyle(el);
            return {id: el.id, tag: el.tagName, text: (el.innerText || el.value || '').trim(),
                    form: el.form ? el.form.id : null, type: el.type || '',
                    nav: !!el.closest('nav.mainnav'),
                    visible: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                             || s.boxShadow !== 'none'};
        }"""
    )


def tab_until(page, matches, limit: int = 120) -> dict:
    """Presses Tab until `matches(focused)`; every stop on the way shows its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = outline_of(page)
        assert focused["visible"], f"focus not visible on {focused}"
        if matches(focused):
            return focused
    raise AssertionError("never reached by Tab")


def test_the_report_page_with_the_keyboard_only(page, live, town):
    """An agent reaches every action by Tab, changes the status with Enter, notes with Space."""
    log_in(page, live, "voirie@vitre.example", PASSWORD)
    page.goto(f"{live.url}/console/reports/{town['keyboard']}")
    stops = []
    tab_until(page, lambda f: stops.append(f) or f["id"] == "merge-target")
    submits = {f["form"] for f in stops if f["type"] == "submit"}
    assert {"status-form", "reply-form", "note-form", "assign-form", "category-form"} <= submits
    assert stops[0]["tag"] == "A" and any(f["nav"] for f in stops[:8])  # the menu comes first

    page.goto(f"{live.url}/console/reports/{town['keyboard']}")
    tab_until(page, lambda f: f["id"] == "status-status")
    for _ in range(8):  # a closed <select> takes the arrow keys
        if page.input_value("#status-status") == "acknowledged":
            break
        page.keyboard.press("ArrowDown")
    assert page.input_value("#status-status") == "acknowledged"
    tab_until(page, lambda f: f["id"] == "status-message")
    page.keyboard.type("Passage prévu jeudi.")
    tab_until(page, lambda f: f["form"] == "status-form" and f["type"] == "submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Pris en compte" in page.inner_text(".subtitle")
    assert "Passage prévu jeudi." in page.inner_text("#thread")

    tab_until(page, lambda f: f["form"] == "note-form" and f["tag"] == "TEXTAREA")
    page.keyboard.type("Vu avec le chef d'équipe.")
    tab_until(page, lambda f: f["form"] == "note-form" and f["type"] == "submit")
    with page.expect_navigation():
        page.keyboard.press("Space")
    assert "Vu avec le chef d'équipe." in page.inner_text("#thread")
    assert_accessible(page, lang="fr", where="report after a status change and a note")


# --- the SMS link page (/r/<token>) ---------------------------------------------------------


@pytest.fixture(scope="module")
def sms_live(tmp_path_factory, sqlite_template, twilio_api):
    """The app with SMS on, served on a port; no map tiles (nothing to load from outside)."""
    tmp = tmp_path_factory.mktemp("sms-live")
    shutil.copyfile(sqlite_template, tmp / "sms.db")
    app = make_sms_app(f"sqlite:///{tmp / 'sms.db'}", tmp, twilio_api, LINK_TILE_URL="none")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["webleads"].db.dispose()


LINK_RE = re.compile(r"https://town\.example\.org(/r/\S+)")
_numbers = iter(range(10, 99))


def link_for(sms_live, twilio_api, lang: str) -> str:
    """Files a report by SMS from a new phone; returns the link's path from the last SMS."""
    app, _ = sms_live
    twilio_api.set_down(False)
    phone = Phone(app, twilio_api, number=f"+336123456{next(_numbers)}")
    for body in ("Hello", "1", "Deep hole in front of number 12", "skip",
                 "12 rue de la Poterie", "1"):  # fmt: skip
        phone.text(body)
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:  # a French-speaking citizen, else an English one
        find_citizen(session, "sms", phone.number).language = lang
    return LINK_RE.search(phone.inbox()[-1]).group(1)


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_link_page(phone_page, sms_live, twilio_api, lang):
    page = phone_page
    _, base = sms_live
    path = link_for(sms_live, twilio_api, lang)
    page.goto(base + path)
    page.wait_for_selector(".leaflet-container")
    assert_accessible(page, lang=lang, where=f"link page ({lang})")
    page.click("#send")  # nothing given: the form again, with its error
    page.wait_for_selector("#error")
    assert_accessible(page, lang=lang, where=f"link page with an error ({lang})")
    page.set_input_files("#photo", files=[{"name": "hole.jpg", "mimeType": "image/jpeg",
                                           "buffer": jpeg_with_gps()}])  # fmt: skip
    with page.expect_navigation():
        page.click("#send")
    page.wait_for_selector("#done-photo")
    assert_accessible(page, lang=lang, where=f"link page, done ({lang})")
    page.goto(base + path)  # used: a problem page
    assert_accessible(page, lang=lang, where=f"link page, already used ({lang})")
    page.goto(base + path[:-4] + "AAAA")  # not valid: the page is in the browser's language
    assert_accessible(page, lang="en", where=f"link page, not valid ({lang})")


def test_the_link_page_with_the_keyboard_only(phone_page, sms_live, twilio_api):
    """Tab to the coordinates, open them with Space, type them, send with Enter."""
    from playwright.sync_api import expect

    page = phone_page
    _, base = sms_live
    page.goto(base + link_for(sms_live, twilio_api, "en"))
    page.wait_for_selector(".leaflet-container")
    tab_until(page, lambda f: f["id"] == "photo")
    tab_until(page, lambda f: f["tag"] == "SUMMARY")
    page.keyboard.press("Space")
    assert page.locator("#coordinates").get_attribute("open") is not None
    tab_until(page, lambda f: f["id"] == "lat")
    page.keyboard.type("48.1246")
    tab_until(page, lambda f: f["id"] == "lon")
    page.keyboard.type("-1.2082")
    expect(page.locator("#pin-status")).to_contain_text("48.12460, -1.20820")
    tab_until(page, lambda f: f["id"] == "send")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "is now placed on the map" in page.inner_text("main")


# --- the web channel (/signaler) ------------------------------------------------------------


@pytest.fixture
def french_phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_reporting_on_the_website_keyboard_only_on_a_phone(french_phone, live):
    """One walk of /signaler at 390 px, in French, with the keyboard: every step is checked
    by axe and reflows (nothing scrolls sideways); no JavaScript is needed on the way."""
    page = french_phone
    settings = live.rt.settings  # e-mail on, for the last page's form (nothing is sent)
    object.__setattr__(settings, "SMTP_URL", "smtp://127.0.0.1:9")
    object.__setattr__(settings, "MAIL_FROM", "mairie@vitre.example")
    try:
        walk_the_web_report(page, live)
    finally:
        object.__setattr__(settings, "SMTP_URL", "")
        object.__setattr__(settings, "MAIL_FROM", "")


def walk_the_web_report(page, live) -> None:
    from tests.browser.test_console_phone import WIDTHS as REFLOW
    from tests.helpers import run_jobs

    def checked(where: str) -> None:
        assert_accessible(page, lang="fr", where=f"/signaler, {where}")
        widths = page.evaluate(REFLOW)
        assert widths["scroll"] <= widths["inner"], f"{where}: {widths}"

    def press_on(matches, key: str = "Enter") -> None:
        tab_until(page, matches)
        with page.expect_navigation():
            page.keyboard.press(key)
        run_jobs(live.rt)  # the worker's part (the photo, the address)

    page.goto(f"{live.url}/signaler")
    checked("first page")
    press_on(lambda f: f["text"] == "Choisir dans la liste des problèmes", "Space")
    checked("the menu")
    press_on(lambda f: f["text"] == "Nid-de-poule")
    tab_until(page, lambda f: f["id"] == "text")
    page.keyboard.type("Un trou profond devant le 12")
    press_on(lambda f: f["text"] == "Envoyer")
    checked("the photo step")
    page.set_input_files("#photo", files=[{"name": "trou.jpg", "mimeType": "image/jpeg",
                                           "buffer": jpeg_with_gps()}])  # fmt: skip
    press_on(lambda f: f["text"] == "Envoyer la photo")
    if page.locator("text=Un instant").count():
        checked("waiting for the worker")
        press_on(lambda f: f["text"] == "Continuer")
    tab_until(page, lambda f: f["id"] == "text")
    page.keyboard.type("12 rue de la Poterie")
    press_on(lambda f: f["text"] == "Envoyer")
    checked("the summary")
    press_on(lambda f: f["text"] == "Envoyer")
    assert "est enregistré" in page.inner_text("main")
    checked("the reference and how to follow it")
    tab_until(page, lambda f: f["id"] == "email")
    page.keyboard.type("pas-une-adresse@")
    page.evaluate("() => document.getElementById('email').removeAttribute('type')")
    press_on(lambda f: f["text"] == "M’envoyer un lien de confirmation")
    assert "ne semble pas correcte" in page.inner_text("main")
    checked("an address refused")
