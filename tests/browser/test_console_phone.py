"""The console on a phone (WCAG 1.4.10, reflow), in Chromium at 390 × 844 CSS px.

Every page the console serves is visited, as an admin and as an agent: its GET routes from
the app's url_map, those with arguments filled with real ids (a report, an agent, a row of
each admin section). On each, nothing scrolls sideways and the menu, folded under its
toggle, opens to links that fit the screen. The queue is a list of cards, the report's
actions fit, and the menu opens with the keyboard and without JavaScript. On a desk
(1366 px) the menu stays open in one line and the queue stays a table.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest

from models.console import ResponseTemplate
from models.db import utcnow
from models.report import get_report
from tests.browser.axe import assert_accessible
from tests.browser.support import console_pages, log_in, screenshot
from tests.helpers import PASSWORD, TalkingCitizen, admin_id, make_agent

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}

# Everything in the box, measured in the page: how wide the document is, and what sticks out.
WIDTHS = """() => ({
    scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
    out: [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
            + (e.className && typeof e.className === 'string' ? '.' + e.className.trim()
               .split(/\\s+/).join('.') : '')),
})"""

# The menu's links and buttons that a person cannot see or reach: hidden, or off the screen.
MENU_OUT_OF_REACH = """() => [...document.querySelectorAll('#menu .menu-body :is(a, button)')]
    .filter(e => { const r = e.getBoundingClientRect();
                   return !e.checkVisibility() || r.width === 0 || r.left < 0
                          || r.right > window.innerWidth; })
    .map(e => e.innerText.trim())"""


@pytest.fixture(scope="module")
def town(live) -> dict[str, int]:
    """A few reports, one of them overdue and one with a long address; an agent of Voirie."""
    rt = live.rt
    agent = make_agent(rt, "voirie@vitre.example", name="Léa Martin")
    pothole = TalkingCitizen(rt, "marie", name="Marie").file_report(
        description="Un trou profond devant le 12, " + "la roue s'y est prise " * 8
    )
    late = TalkingCitizen(rt, "sophie", name="Sophie").file_report(
        description="Nid-de-poule rue Notre-Dame", location=(48.1300, -1.2000)
    )
    TalkingCitizen(rt, "paul", name="Paul").file_report(
        category_choice="cat:lampadaire", description="Lampadaire éteint",
        location=(48.1210, -1.2150),
    )  # fmt: skip
    with rt.db.transaction() as session:
        report = get_report(session, late)
        report.created_at = report.updated_at = utcnow() - timedelta(days=10)
    with rt.db.transaction() as session:
        session.add(ResponseTemplate(title="Intervention programmée", status="in_progress",
                                     body="Bonjour {name}, intervention pour {ref}."))  # fmt: skip
    return {"pothole": pothole, "late": late, "agent": agent, "admin": admin_id(rt)}


def check_phone_page(page, live, path: str) -> list[str]:
    """Opens the page at 390 px; returns what goes wrong (sideways scroll, a menu link)."""
    response = page.goto(live.url + path)
    assert response.ok, f"{path}: {response.status}"
    assert "text/html" in response.headers["content-type"], path
    page.wait_for_load_state("networkidle")
    problems = []
    widths = page.evaluate(WIDTHS)
    if widths["scroll"] > widths["inner"]:
        problems.append(
            f"{path}: the page is {widths['scroll']} px wide on a {widths['inner']} px screen;"
            f" sticking out: {', '.join(widths['out'])}"
        )
    toggle = page.locator("#menu > summary")
    if not toggle.is_visible():
        problems.append(f"{path}: no menu toggle")
        return problems
    if page.locator("nav.mainnav a").first.is_visible():
        problems.append(f"{path}: the menu is open before it is asked for")
    toggle.click()
    hidden = page.evaluate(MENU_OUT_OF_REACH)
    if hidden:
        problems.append(f"{path}: menu entries out of reach once opened: {hidden}")
    return problems


@pytest.mark.parametrize("who", ["admin", "agent"])
def test_every_console_page_fits_a_phone(browser, live, town, who):
    context = browser.new_context(viewport=PHONE, locale="fr-FR", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    if who == "admin":
        log_in(page, live, "admin@vitre.example", live.admin_password)
    else:
        log_in(page, live, "voirie@vitre.example", PASSWORD)
    admin_only = ("/console/admin", "/console/agents/")
    every = console_pages(live, reports=(town["pothole"], town["late"]), agent=town["agent"])
    paths = [p for p in every if who == "admin" or not p.startswith(admin_only)]
    problems = [problem for path in paths for problem in check_phone_page(page, live, path)]
    context.close()
    assert len(paths) >= (20 if who == "admin" else 8), paths
    assert problems == [], "\n".join(problems)


def test_the_login_page_fits_a_phone(browser, live):
    context = browser.new_context(viewport=PHONE, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live.url}/console/login")
    widths = page.evaluate(WIDTHS)
    box = page.locator("button[type=submit]").bounding_box()
    context.close()
    assert widths["scroll"] <= widths["inner"], widths
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_the_queue_is_a_list_of_cards_on_a_phone(browser, live, town):
    """Each report a card, one under the other: number, category, status, age, place."""
    context = browser.new_context(viewport=PHONE, locale="fr-FR")
    page = context.new_page()
    log_in(page, live, "voirie@vitre.example", PASSWORD)
    screenshot(page, "phone-queue")
    cards = page.evaluate(
        """() => [...document.querySelectorAll('table.queue tbody tr')].map(tr => {
            const box = tr.getBoundingClientRect();
            const part = sel => { const e = tr.querySelector(sel), r = e.getBoundingClientRect();
                return {text: e.innerText.trim(), visible: e.checkVisibility() && r.width > 0,
                        inside: r.left >= box.left - 0.5 && r.right <= box.right + 0.5}; };
            return {number: tr.dataset.number, top: box.top, bottom: box.bottom,
                    left: box.left, right: box.right,
                    parts: {ref: part('.ref'), category: part('.category'),
                            status: part('.status'), age: part('.age'), place: part('.desc')}};
        })"""
    )
    header_height = page.locator("table.queue thead").bounding_box()["height"]
    context.close()
    assert {int(c["number"]) for c in cards} >= {town["pothole"], town["late"]}
    for card in cards:
        assert card["left"] >= 0 and card["right"] <= PHONE["width"], card
        for name, part in card["parts"].items():
            assert part["visible"] and part["inside"] and part["text"], (name, card)
    for above, below in pairwise(cards):
        assert below["top"] >= above["bottom"], "cards stand one under the other"
    late = next(c for c in cards if int(c["number"]) == town["late"])
    assert "En retard" in late["parts"]["status"]["text"]
    assert "il y a 1 semaine" in late["parts"]["age"]["text"]
    assert header_height <= 1  # no column headings over cards (left to screen readers)


def test_the_report_page_actions_fit_a_phone(browser, live, town):
    """Every form of the report page, its fields and its button, within the screen's width."""
    context = browser.new_context(viewport=PHONE, locale="fr-FR")
    page = context.new_page()
    log_in(page, live, "voirie@vitre.example", PASSWORD)
    page.goto(f"{live.url}/console/reports/{town['pothole']}")
    screenshot(page, "phone-report")
    out = page.evaluate(
        """() => [...document.querySelectorAll('main form :is(input, select, textarea, button)')]
            .filter(e => e.type !== 'hidden' && e.checkVisibility())  // a picker with no choice
            .filter(e => { const r = e.getBoundingClientRect();
                           return r.width === 0 || r.left < 0 || r.right > window.innerWidth; })
            .map(e => (e.form && e.form.id) + ' ' + (e.id || e.name || e.innerText))"""
    )
    forms = page.locator("main form").count()
    map_box = page.locator("#report-map").bounding_box()
    context.close()
    assert forms >= 5
    assert out == []
    assert map_box["width"] <= PHONE["width"] and map_box["height"] <= PHONE["height"]


def test_the_menu_opens_with_the_keyboard_on_a_phone(browser, live):
    context = browser.new_context(viewport=PHONE, locale="fr-FR")
    page = context.new_page()
    log_in(page, live, "admin@vitre.example", live.admin_password)
    page.keyboard.press("Tab")  # the brand
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.tagName") == "SUMMARY"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => ({text: document.activeElement.innerText, nav: !!document.activeElement"
        ".closest('nav.mainnav'), shown: document.activeElement.checkVisibility()})"
    )
    assert focused == {"text": "File", "nav": True, "shown": True}
    assert_accessible(page, lang="fr", where="queue on a phone, menu open")
    context.close()


def test_the_menu_opens_without_javascript_on_a_phone(browser, live):
    context = browser.new_context(viewport=PHONE, locale="fr-FR", java_script_enabled=False)
    page = context.new_page()
    log_in(page, live, "admin@vitre.example", live.admin_password)
    assert not page.get_by_role("link", name="Tableau de bord").is_visible()
    page.click("#menu > summary")
    assert page.get_by_role("link", name="Tableau de bord").is_visible()
    assert page.evaluate(MENU_OUT_OF_REACH) == []
    context.close()


def test_on_a_desk_the_menu_is_one_open_line_and_the_queue_a_table(browser, live, town):
    context = browser.new_context(viewport=DESK, locale="fr-FR")
    page = context.new_page()
    log_in(page, live, "admin@vitre.example", live.admin_password)
    screenshot(page, "desk-queue")
    toggle_visible = page.locator("#menu > summary").is_visible()
    out_of_reach = page.evaluate(MENU_OUT_OF_REACH)
    topbar = page.locator("header.topbar").bounding_box()
    heading_visible = page.locator("table.queue thead th").first.is_visible()
    row_display = page.evaluate(
        "() => getComputedStyle(document.querySelector('table.queue tbody tr')).display"
    )
    context.close()
    assert not toggle_visible and out_of_reach == []
    assert topbar["height"] <= 56  # brand, links and account on one line
    assert heading_visible and row_display == "table-row"
