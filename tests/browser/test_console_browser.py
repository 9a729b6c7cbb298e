"""The console in a real browser (Chromium) against a live server: an agent's day."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from models.console import ResponseTemplate
from models.messaging import messages_for_report
from models.report import get_report
from services import reports, simulated
from tests.browser.support import log_in, screenshot
from tests.helpers import PASSWORD, TalkingCitizen, make_agent


@dataclass
class Town:
    pothole: int  # Marie's, followed by John
    other_pothole: int
    streetlight: int
    spare: int


@pytest.fixture(scope="module")
def town(live) -> Town:
    rt = live.rt
    make_agent(rt, "voirie@vitre.example", name="Léa Martin")
    marie = TalkingCitizen(rt, "marie", name="Marie")
    pothole = marie.file_report(description="Un trou profond devant le 12")
    john = TalkingCitizen(rt, "john", name="John", language_code="en")
    john.say("hello")
    john.say(choice="cat:nid-de-poule")
    john.say("Huge hole")
    john.say(choice="skip")
    john.say(location=(48.12461, -1.20821))
    john.say(choice=f"follow:{pothole}")
    other = TalkingCitizen(rt, "sophie", name="Sophie").file_report(
        description="Nid-de-poule rue Notre-Dame", location=(48.1300, -1.2000)
    )
    streetlight = TalkingCitizen(rt, "paul", name="Paul").file_report(
        category_choice="cat:lampadaire",
        description="Lampadaire éteint",
        location=(48.1210, -1.2150),
    )
    spare = TalkingCitizen(rt, "alice", name="Alice").file_report(
        description="Chaussée déformée", location=(48.1180, -1.1990)
    )
    done = TalkingCitizen(rt, "bob", name="Bob").file_report(
        category_choice="cat:graffiti", description="Tag sur le mur", location=(48.1220, -1.2100)
    )
    with rt.db.transaction() as session:
        reports.change_status(session, streetlight, "acknowledged")
        reports.change_status(session, done, "resolved", message="Nettoyé.")
        session.add(
            ResponseTemplate(
                title="Intervention programmée",
                status="in_progress",
                body="Bonjour {name}, une équipe du service {service} intervient cette semaine "
                "pour votre signalement {ref}.",
            )
        )
    return Town(pothole, other, streetlight, spare)


def drain(rt, sender: str) -> None:
    """Plays the dev channel's provider: takes every message waiting for the citizen."""
    while simulated.drain(rt, sender):
        pass


def test_login_and_filter_the_queue(page, live, town):
    page.goto(f"{live.url}/console/reports")
    assert "/console/login" in page.url  # nothing without logging in
    screenshot(page, "login")
    log_in(page, live, "voirie@vitre.example", PASSWORD)
    rows = page.locator("table.queue tbody tr")
    numbers = {int(n) for n in rows.evaluate_all("rows => rows.map(r => r.dataset.number)")}
    # Léa works for the roads service: the streetlight is not in her queue.
    assert {town.pothole, town.other_pothole, town.spare} <= numbers
    assert town.streetlight not in numbers
    page.fill("#q", "Notre-Dame")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"q=Notre-Dame"))
    assert rows.evaluate_all("rows => rows.map(r => +r.dataset.number)") == [town.other_pothole]
    page.click("a.tab[data-status=all]")
    assert page.locator("a.tab.active[data-status=all]").count() == 1
    page.goto(f"{live.url}/console/reports")
    screenshot(page, "queue")


def test_change_status_with_a_template_reaches_the_citizen(page, live, town):
    log_in(page, live, "voirie@vitre.example", PASSWORD)
    page.click(f"a.ref:text-is('#{town.pothole}')")
    page.wait_for_url(re.compile(rf"/console/reports/{town.pothole}$"))
    page.select_option("#status-status", "in_progress")
    page.select_option("#status-template", label="Intervention programmée")
    page.click("#status-form button.insert")
    message = page.input_value("#status-message")
    assert message == (
        "Bonjour Marie, une équipe du service Voirie intervient cette semaine "
        f"pour votre signalement #{town.pothole}."
    )
    page.click("#status-form button[type=submit]")
    page.wait_for_selector(".flash-success")
    assert "En cours" in page.inner_text(".subtitle")
    deliveries = page.locator("#thread .event-status li.delivery")
    assert deliveries.count() == 2  # Marie and John, each their own message
    assert set(deliveries.evaluate_all("l => l.map(e => e.dataset.status)")) == {"queued"}
    assert "en attente" in deliveries.first.inner_text()
    with live.rt.db.reading() as session:
        queued = [m for m in messages_for_report(session, town.pothole) if m.status == "queued"]
    assert {m.address for m in queued} == {"marie", "john"}
    drain(live.rt, "marie")  # the channel takes Marie's messages
    page.reload()
    statuses = deliveries.evaluate_all("l => l.map(e => e.dataset.status)")
    assert sorted(statuses) == ["queued", "sent"]
    screenshot(page, "report")


def test_merge_a_duplicate(page, live, town):
    log_in(page, live, "voirie@vitre.example", PASSWORD)
    page.goto(f"{live.url}/console/reports/{town.spare}")
    page.fill("#merge-target", f"#{town.other_pothole}")
    page.click("#merge-form button[type=submit]")
    page.wait_for_selector(".flash-success")
    assert "Doublon" in page.inner_text(".subtitle")
    page.click(f"dd a:text-is('#{town.other_pothole}')")
    assert f"#{town.spare}" in page.inner_text("dl.facts")
    with live.rt.db.reading() as session:
        assert get_report(session, town.spare).duplicate_of_id == town.other_pothole


def test_the_dashboard_draws_its_charts(page, live, town):
    log_in(page, live, "admin@vitre.example", live.admin_password)
    page.goto(f"{live.url}/console/dashboard")
    canvases = page.locator(".charts canvas")
    assert canvases.count() == 4
    page.wait_for_function("() => document.querySelectorAll('.charts canvas').length === 4")
    drawn = page.evaluate(
        """() => Array.from(document.querySelectorAll('.charts canvas')).map(c => {
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let inked = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
            return [c.width, c.height, inked];
        })"""
    )
    for width, height, inked in drawn:
        assert width > 100 and height > 100 and inked > 500
    assert "Voirie" in page.inner_text("table.stats")
    screenshot(page, "dashboard")


def test_the_map_shows_the_filtered_reports(page, live, town):
    log_in(page, live, "voirie@vitre.example", PASSWORD)
    page.goto(f"{live.url}/console/map?status=all")
    page.wait_for_selector("#queue-map[data-loaded]")
    markers = page.locator("#queue-map path.leaflet-interactive")
    assert markers.count() >= 3
    screenshot(page, "map")


def test_the_simulator_files_a_report(page, live, town):
    log_in(page, live, "voirie@vitre.example", PASSWORD)
    page.goto(f"{live.url}/console/simulator")
    bubbles = page.locator("#chat .bubble.bot")

    def send(text: str) -> None:
        count = bubbles.count()
        page.fill("#sim-text", text)
        page.click("#sim-form button[type=submit]")
        page.wait_for_function(
            f"() => document.querySelectorAll('#chat .bubble.bot').length > {count}"
        )

    def tap(label: str) -> None:
        count = bubbles.count()
        page.click(f"#choices button.choice:text-is('{label}')")
        page.wait_for_function(
            f"() => document.querySelectorAll('#chat .bubble.bot').length > {count}"
        )

    send("bonjour")
    tap("Tag ou graffiti")
    send("Un grand tag sur la porte de la médiathèque")
    tap("Passer")
    count = bubbles.count()
    box = page.locator("#sim-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.click("#sim-send-pin")
    page.wait_for_function(f"() => document.querySelectorAll('#chat .bubble.bot').length > {count}")
    tap("Envoyer")
    last = bubbles.last.inner_text()
    number = int(re.search(r"#(\d+)", last).group(1))
    with live.rt.db.reading() as session:
        report = get_report(session, number)
    assert report.channel == "dev" and "médiathèque" in report.description
    assert report.geolocated
    screenshot(page, "simulator")


def test_the_simulator_sends_a_photo_from_its_file_input(page, live, town, tmp_path):
    from models.report import media_of_report
    from tests.helpers import jpeg_with_gps

    picture = tmp_path / "tag.jpg"
    picture.write_bytes(jpeg_with_gps())
    log_in(page, live, "voirie@vitre.example", PASSWORD)
    page.goto(f"{live.url}/console/simulator")
    bubbles = page.locator("#chat .bubble.bot")

    def after(action) -> str:
        count = bubbles.count()
        action()
        page.wait_for_function(
            f"() => document.querySelectorAll('#chat .bubble.bot').length > {count}"
        )
        return bubbles.last.inner_text()

    def send(text: str) -> str:
        page.fill("#sim-text", text)
        return after(lambda: page.click("#sim-form button[type=submit]"))

    send("menu")  # the agent's simulated citizen may have talked before
    after(lambda: page.click("#choices button.choice:text-is('Tag ou graffiti')"))
    send("Un tag sur le banc du square")
    assert "Où est-ce" in after(lambda: page.set_input_files("#sim-photo", str(picture)))
    assert "tag.jpg" in page.locator("#chat .bubble.me").last.inner_text()
    box = page.locator("#sim-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    summary = after(lambda: page.click("#sim-send-pin"))
    if "Est-ce le même" in summary:  # the other simulator test's report is at that spot
        summary = after(lambda: page.locator("#choices button.choice").last.click())
    assert "Photo\u202f: oui" in summary
    done = after(lambda: page.click("#choices button.choice:text-is('Envoyer')"))
    number = int(re.search(r"#(\d+)", done).group(1))
    with live.rt.db.reading() as session:
        assert len(media_of_report(session, number)) == 1


def test_admin_pages(page, live, town):
    log_in(page, live, "admin@vitre.example", live.admin_password)
    page.goto(f"{live.url}/console/admin/categories")
    assert "Nid-de-poule" in page.inner_text("table.admin-list")
    screenshot(page, "admin-categories")


def test_the_pilot_and_its_launch_kit(page, live, town):
    """An admin opens a pilot to one district with an invite code and prints its poster."""
    from contextlib import suppress

    from services import pilot
    from services.audit import Actor

    rt = live.rt
    settings = rt.settings
    rt.settings = settings.replaced(TELEGRAM_BOT_USERNAME="VitreBot")  # the kit prints t.me links
    try:
        log_in(page, live, "admin@vitre.example", live.admin_password)
        page.click("nav.mainnav a:text-is('Administration')")
        page.click("nav.tabs a[data-tab=pilot]")
        state = page.locator("#pilot-state dl")
        page.click("#pilot-switch button")  # on by default, restricting nothing: off first
        page.wait_for_selector(".flash-success")
        assert "Arrêté" in state.inner_text()
        page.click("#pilot-switch button:text-is('Mettre le pilote en marche')")
        page.wait_for_selector(".flash-success")
        page.fill("#invite-code", "Quartier-Gare")
        page.fill("#invite-label", "Réunion de quartier")
        page.click("#invite-form button[type=submit]")
        page.wait_for_selector("tr[data-code=quartier-gare]")
        assert "Seulement les habitants avec un code" in state.inner_text()
        link = page.locator("tr[data-code=quartier-gare] a.deep-link[href^='https://t.me']")
        assert link.get_attribute("href") == "https://t.me/VitreBot?start=quartier-gare"
        screenshot(page, "admin-pilot")

        page.click("nav.tabs a[data-tab=launch-kit]")
        assert "https://t.me/VitreBot?start=quartier-gare" in page.inner_text("#kit-facts")
        with page.expect_download() as download:
            page.click("#download-poster")
        assert download.value.suggested_filename == "affiche-A4-vitre-quartier-gare.pdf"
        with open(download.value.path(), "rb") as pdf:
            assert pdf.read(5) == b"%PDF-"
        screenshot(page, "admin-launch-kit")
    finally:
        rt.settings = settings
        with rt.db.transaction() as session, suppress(pilot.PilotError):
            # The town open again for others.
            pilot.deactivate_code(session, Actor("admin@vitre.example"), "quartier-gare")
        rt.catalog.invalidate()
