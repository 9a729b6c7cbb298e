"""The public site (issue 15): each page in both languages, cache headers, the list's
filters and keyset pages, the map's bounded GeoJSON, the feed, the town's figures, and the
moderation (publish, hide, withhold, redact, approve a photo) from the console and the CLI,
with Open311's keyless reads following the same rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
import time_machine

from app.cli import cli
from models.catalog import category_by_code
from models.db import utcnow
from models.public_queries import figures_by_service
from models.report import Media, add_media, attach_media, get_report, report_events
from public.views import MAP_LIMIT, PAGE_SIZE
from services import moderation, reports
from services.audit import audit_rows
from services.channels import follow_link
from services.media import store_photo
from tests.helpers import (
    TalkingCitizen,
    admin_id,
    csrf_token,
    jpeg_with_gps,
    log_in_as,
    make_agent,
    make_report,
)

PRIVATE = "Trou devant chez Marie Curie, appelez le 06 12 34 56 78"
# (page, a word of each language that only that language's page shows)
PAGES = ["/", "/reports", "/reports/{n}", "/reports?status=open&period=year"]
# The menu, in each language (every page has it).
WORDS = {"fr": "Comment signaler", "en": "How to report"}


@pytest.fixture
def filed(app) -> int:
    rt = app.extensions["webleads"]
    return TalkingCitizen(rt, "marie", name="Marie Curie").file_report(description=PRIVATE)


def html_lang(body: str) -> str:
    return re.search(r'<html lang="(\w+)"', body).group(1)


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("path", PAGES)
def test_each_page_in_each_language(app, filed, path, lang) -> None:
    client = app.test_client()
    url = path.format(n=filed) + ("" if lang == "fr" else ("&" if "?" in path else "?") + "lang=en")
    response = client.get(url)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:300]
    assert html_lang(body) == lang and response.headers["Content-Language"] == lang
    assert WORDS[lang] in body and WORDS["en" if lang == "fr" else "fr"] not in body
    # A proxy may keep it a minute; a repeat with its ETag is a 304 with no body.
    assert response.headers["Cache-Control"] == "public, max-age=60"
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert "Marie" not in body and "06 12" not in body


def test_the_report_page_says_what_where_when_and_how_to_follow(app, filed) -> None:
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        reports.change_status(
            session, filed, "in_progress", message="Bonjour Marie, une équipe passe jeudi."
        )
    body = app.test_client().get(f"/reports/{filed}?lang=en").get_data(as_text=True)
    assert f"Report #{filed}: Pothole" in body
    assert "In progress" in body and "Une équipe passe jeudi." in body  # the agent's words
    assert "Marie" not in body and PRIVATE not in body  # the description is not public
    assert "Following opens soon." in body  # no chat channel configured in this app


def test_follow_links_per_kind_of_invite() -> None:
    assert follow_link("https://t.me/VitreBot?start=follow_1042", 1042) == (
        "https://t.me/VitreBot?start=follow_1042",
        None,
    )
    assert follow_link("sms:+33757000000?body=Bonjour", 1042) == (
        "sms:+33757000000?body=SUIVRE+1042",
        "SUIVRE 1042",
    )
    assert follow_link("https://wa.me/33757000000?text=Bonjour", 7) == (
        "https://wa.me/33757000000?text=SUIVRE+7",
        "SUIVRE 7",
    )
    assert follow_link("https://example.org/", 7) is None


def test_hidden_reports_answer_404_everywhere(app, filed) -> None:
    rt = app.extensions["webleads"]
    client = app.test_client()
    with rt.db.transaction() as session:
        moderation.hide(session, filed, agent_id=None)
    assert client.get(f"/reports/{filed}").status_code == 404
    assert client.get(f"/open311/v2/requests/{filed}.json").status_code == 404
    for url in ("/reports", "/reports.atom", "/open311/v2/requests.json"):
        assert f"{filed}" not in client.get(url).get_data(as_text=True), url
    geo = client.get("/reports.geojson?bbox=-1.3,48.0,-1.1,48.2").json
    assert geo["features"] == [] and geo["total"] == 0
    with rt.db.transaction() as session:
        moderation.publish(session, filed, agent_id=None)
    assert client.get(f"/reports/{filed}").status_code == 200


def test_publish_withhold_and_redact_the_citizens_words(app, filed) -> None:
    rt = app.extensions["webleads"]
    client = app.test_client()
    with rt.db.transaction() as session:
        moderation.publish(session, filed, agent_id=None)
    body = client.get(f"/reports/{filed}").get_data(as_text=True)
    # Published: the words are there, without the author's name or any number.
    assert "Trou devant chez" in body and "Marie" not in body and "06 12" not in body
    api = client.get(f"/open311/v2/requests/{filed}.json").json[0]
    assert "Trou devant chez" in api["description"] and "Curie" not in api["description"]
    with rt.db.transaction() as session:
        moderation.redact(session, filed, "Nid-de-poule profond sur la chaussée.", agent_id=None)
    body = client.get(f"/reports/{filed}").get_data(as_text=True)
    assert "Nid-de-poule profond sur la chaussée." in body and "Trou devant" not in body
    with rt.db.transaction() as session:
        moderation.withhold_text(session, filed, agent_id=None)
    body = client.get(f"/reports/{filed}").get_data(as_text=True)
    assert "Nid-de-poule profond" not in body and "Trou devant" not in body
    with pytest.raises(reports.ReportError), rt.db.transaction() as session:
        moderation.redact(session, filed, "   ", agent_id=None)


def test_a_category_can_make_its_descriptions_public_by_default_once_seen(app) -> None:
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        category_by_code(session, "graffiti").description_public = True
    tagged = TalkingCitizen(rt, "paul", name="Paul").file_report(
        category_choice="cat:graffiti", description="Tag sur le mur de l'école"
    )
    pothole = TalkingCitizen(rt, "anne", name="Anne").file_report(description="Trou rue X")
    client = app.test_client()
    shown = "Tag sur le mur de l&#39;école"
    assert shown not in client.get(f"/reports/{tagged}").get_data(as_text=True)  # unseen
    agent = app.test_client()
    log_in_as(agent, admin_id(rt))
    assert agent.get(f"/console/reports/{tagged}").status_code == 200
    assert shown in client.get(f"/reports/{tagged}").get_data(as_text=True)
    assert "Trou rue X" not in client.get(f"/reports/{pothole}").get_data(as_text=True)


def test_photos_are_public_only_once_approved(app, filed) -> None:
    rt = app.extensions["webleads"]
    client = app.test_client()
    stored = store_photo(jpeg_with_gps(), rt.settings.MEDIA_DIR)
    with rt.db.transaction() as session:
        media_id = add_media(session, stored, None)
        attach_media(session, [media_id], filed)
    url = f"/reports/{filed}/photos/{media_id}"
    assert url not in client.get(f"/reports/{filed}").get_data(as_text=True)
    assert client.get(url).status_code == 404
    with rt.db.transaction() as session:
        moderation.approve_photo(session, filed, media_id, approved=True, agent_id=None)
    assert url in client.get(f"/reports/{filed}").get_data(as_text=True)
    served = client.get(url)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert client.get(f"/reports/{filed + 1}/photos/{media_id}").status_code == 404
    api = client.get(f"/open311/v2/requests/{filed}.json").json[0]
    assert api["media_url"].endswith(url)
    with rt.db.transaction() as session:
        moderation.hide(session, filed, agent_id=None)
    assert client.get(url).status_code == 404  # a hidden report's photos go with it


def test_the_list_filters_and_pages_by_keyset(app) -> None:
    rt = app.extensions["webleads"]
    long_ago = utcnow() - timedelta(days=400)
    with rt.db.transaction() as session:
        numbers = [make_report(session).id for _ in range(PAGE_SIZE + 5)]
        fixed = make_report(session, "lampadaire", status="resolved").id
        old = make_report(session, created_at=long_ago).id
    client = app.test_client()
    first = client.get("/reports").get_data(as_text=True)
    shown = [int(n) for n in re.findall(r'href="/reports/(\d+)"', first)]
    assert shown == sorted([*numbers, fixed, old], reverse=True)[:PAGE_SIZE]
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(next_url).get_data(as_text=True)
    rest = [int(n) for n in re.findall(r'href="/reports/(\d+)"', second)]
    assert set(rest).isdisjoint(shown) and len(shown) + len(rest) == len(numbers) + 2
    assert 'rel="next"' not in second

    def listed(query: str) -> set[int]:
        body = client.get(f"/reports?{query}").get_data(as_text=True)
        return {int(n) for n in re.findall(r'href="/reports/(\d+)"', body)}

    assert listed("status=fixed") == {fixed}
    assert listed("category=lampadaire") == {fixed}
    assert old not in listed("status=open&period=year") and fixed not in listed("status=open")
    assert listed("status=nonsense&category=nonsense&before=abc")  # unknown filters: none


def test_the_map_is_bounded_with_a_count(app) -> None:
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        for i in range(MAP_LIMIT + 5):
            make_report(session, lat=48.12 + i * 1e-5, lon=-1.21)
        make_report(session, lat=43.6, lon=1.44)  # Toulouse: outside the box
    client = app.test_client()
    geo = client.get("/reports.geojson?bbox=-1.3,48.0,-1.1,48.2").json
    assert len(geo["features"]) == MAP_LIMIT and geo["total"] == MAP_LIMIT + 5
    assert geo["truncated"] is True and geo["more"] is False
    feature = geo["features"][0]
    assert set(feature["properties"]) == {"ref", "status", "category", "url"}
    small = client.get("/reports.geojson?bbox=-1.211,48.1199,-1.209,48.12001").json
    assert small["total"] == len(small["features"]) == 2 and small["truncated"] is False
    for bad in ("", "1,2,3", "a,b,c,d", "10,48,-10,49", "nan,1,2,3", "-1,95,1,96"):
        assert client.get(f"/reports.geojson?bbox={bad}").status_code == 400, bad


def test_the_atom_feed(app, filed) -> None:
    body = app.test_client().get("/reports.atom").get_data(as_text=True)
    feed = ElementTree.fromstring(body)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = feed.findall("a:entry", ns)
    assert [e.find("a:id", ns).text.rsplit("/", 1)[1] for e in entries] == [str(filed)]
    assert "Nid-de-poule" in entries[0].find("a:title", ns).text
    assert "Marie" not in body


def test_the_figures_per_service(app) -> None:
    rt = app.extensions["webleads"]
    march = datetime(2025, 3, 1, tzinfo=UTC)
    with rt.db.transaction() as session:
        for hours in (2, 4, 30):  # filed in March, resolved after that many hours
            report = make_report(session, created_at=march + timedelta(days=3))
            report.status = "resolved"
            report.resolved_at = report.created_at + timedelta(hours=hours)
        closed = make_report(session, "lampadaire", created_at=march + timedelta(days=4))
        closed.status, closed.closed_at = "closed", closed.created_at + timedelta(hours=1)
        make_report(session, created_at=march + timedelta(days=5))
        make_report(session, created_at=march - timedelta(days=1))  # February
        roads = category_by_code(session, "nid-de-poule").service_id
        lights = category_by_code(session, "lampadaire").service_id
    with rt.db.reading() as session:
        figures = {
            f.service_id: f for f in figures_by_service(session, march, march.replace(month=4))
        }
    assert (figures[roads].received, figures[roads].dealt_with) == (4, 3)
    assert figures[roads].median_hours == pytest.approx(4.0)
    assert (figures[lights].received, figures[lights].dealt_with) == (1, 1)
    assert figures[lights].median_hours is None  # closed without action is not "resolved"


@pytest.mark.parametrize(
    ("lang", "caption"), [("fr", "Signalements ce mois-ci"), ("en", "Reports this month")]
)
def test_the_town_page_shows_the_figures(app, filed, lang, caption) -> None:
    body = app.test_client().get(f"/?lang={lang}").get_data(as_text=True)
    month = body.split(caption, 1)[1].split("</table>", 1)[0]
    assert re.search(r'row">[^<]+</th>\s*<td>1</td><td>0</td><td>–</td>', month), month


def test_the_town_page_does_not_count_hidden_reports(app) -> None:
    """A hidden report does not exist for the public: not in the list, not in the figures."""
    rt = app.extensions["webleads"]
    now = datetime(2026, 3, 15, 12, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        with rt.db.transaction() as session:
            make_report(session, "nid-de-poule", created_at=now - timedelta(hours=1))
            hidden = make_report(session, "lampadaire", status="resolved", description=PRIVATE,
                                 created_at=now - timedelta(hours=3))  # fmt: skip
            hidden.resolved_at = now - timedelta(hours=1)
            hidden.hidden = True
        body = app.test_client().get("/").get_data(as_text=True)
    for caption in ("Signalements ce mois-ci", "Signalements cette année"):
        table = body.split(caption, 1)[1].split("</table>", 1)[0]
        # Only the visible pothole: one received, none dealt with, no lighting row.
        assert re.search(r"Tous les services</th><td>1</td><td>0</td>", table), table
        assert "Éclairage public" not in table


def test_this_month_and_this_year_follow_the_towns_calendar(app, new_year_in_vitre) -> None:
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        new_year = make_report(session, created_at=datetime(2027, 12, 31, 23, 10, tzinfo=UTC)).id
        december = make_report(session, created_at=datetime(2027, 12, 31, 11, 0, tzinfo=UTC)).id
    client = app.test_client()
    body = client.get("/?lang=en").get_data(as_text=True)
    for caption in ("Reports this month", "Reports this year"):
        table = body.split(caption, 1)[1].split("</table>", 1)[0]
        assert re.search(r'row">Roads</th>\s*<td>1</td>', table), (caption, table)
    for period in ("month", "year"):
        listed = client.get(f"/reports?period={period}").get_data(as_text=True)
        assert f'href="/reports/{new_year}"' in listed, period
        assert f'href="/reports/{december}"' not in listed, period
    # and the dates it shows are the town's: filed at 00:10 on 1 January in Vitré
    assert "filed on 01/01/2028" in client.get("/reports?lang=en").get_data(as_text=True)
    page = client.get(f"/reports/{new_year}").get_data(as_text=True)
    assert "01/01/2028" in page and "31/12/2027" not in page


def test_moderation_from_the_console_is_audited(app, filed) -> None:
    rt = app.extensions["webleads"]
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    token = csrf_token(client)
    page = client.get(f"/console/reports/{filed}").get_data(as_text=True)
    assert 'id="public-form"' in page and 'value="publish"' in page

    def act(action: str, text: str = ""):
        return client.post(
            f"/console/reports/{filed}/public",
            data={"action": action, "public-text": text, "csrf_token": token},
        )

    assert act("publish").status_code == 303
    assert act("redact", "Chaussée abîmée.").status_code == 303
    assert act("hide").status_code == 303
    assert act("nonsense").status_code == 303
    assert client.get(f"/reports/{filed}").status_code == 404
    with rt.db.reading() as session:
        report = get_report(session, filed)
        assert (report.hidden, report.public_text) == (True, "Chaussée abîmée.")
        rows = [r for r in audit_rows(session) if r.action == "moderated"]
    assert [r.report for r in rows] == [f"#{filed}"] * 3
    assert all(r.agent != "(command line)" for r in rows)
    assert [re.search(r"action: ([^;]+)", r.internal_note).group(1) for r in rows] == [
        "published",
        "public text written",
        "hidden",
    ]
    page = client.get(f"/console/reports/{filed}").get_data(as_text=True)
    assert "Hidden from the public site." in page or "Masqué du site public." in page


def test_the_command_line_publishes_and_hides(app, filed) -> None:
    runner = app.test_cli_runner()
    hidden = runner.invoke(cli, ["report", "hide", f"#{filed}"])
    assert hidden.exit_code == 0 and "hidden" in hidden.output
    assert app.test_client().get(f"/reports/{filed}").status_code == 404
    published = runner.invoke(cli, ["report", "publish", str(filed)])
    assert published.exit_code == 0, published.output
    assert "Trou devant chez" in app.test_client().get(f"/reports/{filed}").get_data(as_text=True)
    unknown = runner.invoke(cli, ["report", "hide", "999999"])
    assert unknown.exit_code != 0 and "no report" in unknown.output.lower()
    with app.extensions["webleads"].db.reading() as session:
        assert all(
            r.agent == "(command line)" for r in audit_rows(session) if r.action == "moderated"
        )


def test_a_photo_of_another_report_cannot_be_approved(app, filed) -> None:
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        other = make_report(session).id
        media = Media(
            report_id=other, sha256="0" * 64, path="x.jpg", content_type="image/jpeg", size=1
        )
        session.add(media)
        session.flush()
        media_id = media.id
    with pytest.raises(reports.ReportError), rt.db.transaction() as session:
        moderation.approve_photo(session, filed, media_id, approved=True, agent_id=None)


def language_link(body: str) -> str:
    return re.search(r'<a href="([^"]+)" lang="(?:en|fr)" hreflang=', body).group(1)


@pytest.mark.parametrize("value", ["abc", "1", "99999999999999999999", ""])
def test_a_number_in_the_query_string_is_not_the_report_shown(app, filed, value) -> None:
    # `?number=abc` was a 500 (the language link was built with it); `?number=1` made that
    # link point at report #1.
    response = app.test_client().get(f"/reports/{filed}?number={value}&status=open")
    assert response.status_code == 200
    link = language_link(response.get_data(as_text=True))
    assert link.startswith(f"/reports/{filed}?") and "number=" not in link
    assert "lang=en" in link and "status=open" in link


CONTROLS = "Équipe\x0b demain\x01 matin\x1b"


def feed_summaries(app) -> list[str]:
    body = app.test_client().get("/reports.atom").get_data(as_text=True)
    feed = ElementTree.fromstring(body)  # not well-formed: ParseError
    ns = {"a": "http://www.w3.org/2005/Atom"}
    return [e.find("a:summary", ns).text for e in feed.findall("a:entry", ns)]


def test_an_agent_note_with_control_characters_leaves_the_feed_valid(app, filed) -> None:
    rt = app.extensions["webleads"]
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    form = {"pubnote-text": CONTROLS, "action": "publish", "csrf_token": csrf_token(client)}
    assert client.post(f"/console/reports/{filed}/public-note", data=form).status_code == 303
    assert feed_summaries(app)[0].endswith("Équipe demain matin")
    with rt.db.reading() as session:  # dropped as it came in
        assert "\x0b" not in str([e.public_message for e in report_events(session, filed)])


def test_words_stored_with_control_characters_leave_the_feed_valid(app, filed) -> None:
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:  # stored before the console cleaned its forms
        reports.change_status(session, filed, "in_progress", message=CONTROLS + "\ufffe")
    assert feed_summaries(app)[0].endswith("Équipe demain matin")


# --- the maps: the place drawn without JavaScript, the town's outline, the tile server ----


def drawing_of(body: str) -> tuple[list[tuple[float, float]], tuple[float, float]]:
    """The outline's points and the pin's centre, from the page's own SVG."""
    svg = re.search(r'<svg id="place-drawing"[^>]*>.*?</svg>', body, re.S)
    assert svg, "no drawing of the place"
    assert "hidden" not in svg.group(0).split(">", 1)[0]  # shown as the page comes
    path = re.search(r'<path class="outline" d="([^"]+)"', svg.group(0)).group(1)
    outline = [tuple(map(float, p)) for p in re.findall(r"([\d.]+),([\d.]+)", path)]
    pin = re.search(r'<circle class="pin[^"]*" cx="([\d.]+)" cy="([\d.]+)"', svg.group(0))
    return outline, (float(pin.group(1)), float(pin.group(2)))


def test_the_report_page_draws_its_place_in_the_town_without_javascript(app) -> None:
    from shapely.geometry import Point, Polygon

    rt = app.extensions["webleads"]
    centre = TalkingCitizen(rt, "marie", name="Marie").file_report(location=(48.1246, -1.2082))
    north_east = TalkingCitizen(rt, "paul", name="Paul").file_report(
        description="Un trou profond route de Fougères", location=(48.1500, -1.1700)
    )
    unplaced = TalkingCitizen(rt, "lucie", name="Lucie").file_report(location=None)
    client = app.test_client()
    body = client.get(f"/reports/{centre}").get_data(as_text=True)
    outline, pin = drawing_of(body)
    # The dot is inside the town's outline, where the report is.
    assert len(outline) >= 4 and Polygon(outline).contains(Point(pin))
    assert "Pointillés\u202f: la limite de la commune." in body
    _, other = drawing_of(client.get(f"/reports/{north_east}").get_data(as_text=True))
    assert other[0] > pin[0] and other[1] < pin[1]  # east is right, north is up
    # The map that replaces the drawing loads its outline from the public site.
    assert 'id="place-map"' in body and 'data-outline="/town.geojson"' in body
    # A report with no public place has no drawing (and no map).
    assert "place-drawing" not in client.get(f"/reports/{unplaced}").get_data(as_text=True)


def test_the_town_outline_answers_the_public_and_the_console_without_personal_data(
    app, filed
) -> None:
    client = app.test_client()
    response = client.get("/town.geojson")  # no session: the public site's maps
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    outline = response.get_json()
    (feature,) = outline["features"]
    assert feature["properties"] == {"name": "Vitré"}
    assert feature["geometry"]["type"] == "Polygon"
    assert len(feature["geometry"]["coordinates"][0]) >= 4
    assert "Marie" not in response.get_data(as_text=True)
    assert str(filed) not in response.get_data(as_text=True)  # no report in it
    # The console's maps are told where to find it, and the console's policy lets them.
    rt = app.extensions["webleads"]
    log_in_as(client, make_agent(rt, "lea@vitre.example"))
    page = client.get("/console/map")
    assert 'data-outline="/town.geojson"' in page.get_data(as_text=True)
    assert "connect-src 'self'" in page.headers["Content-Security-Policy"]
    assert 'data-tiles-failed="Fond de carte indisponible"' in page.get_data(as_text=True)


def test_every_map_takes_its_tiles_from_one_setting(database_url, tmp_path, twilio) -> None:
    from app.factory import create_app
    from tests.conftest import base_config
    from tests.sms_support import sms_settings

    tiles = "https://tuiles.vitre.example/{z}/{x}/{y}.png"
    app = create_app({
        **base_config(database_url, tmp_path), **sms_settings(twilio),
        "MAP_TILES_URL": tiles, "MAP_TILES_ATTRIBUTION": "© Ville de Vitré, OpenStreetMap",
    })  # fmt: skip
    try:
        rt = app.extensions["webleads"]
        client = app.test_client()
        public = client.get("/reports")
        assert f'data-tile-url="{tiles}"' in public.get_data(as_text=True)
        assert "© Ville de Vitré, OpenStreetMap" in public.get_data(as_text=True)
        assert "https://tuiles.vitre.example" in public.headers["Content-Security-Policy"]
        log_in_as(client, make_agent(rt, "lea@vitre.example"))
        console = client.get("/console/simulator")
        assert f'data-tile-url="{tiles}"' in console.get_data(as_text=True)
        assert "https://tuiles.vitre.example" in console.headers["Content-Security-Policy"]
        assert "tile.openstreetmap.org" not in console.headers["Content-Security-Policy"]
        from tests.sms_support import Phone
        from tests.test_link_page import report_with_link

        _, path = report_with_link(Phone(app, twilio))
        link = client.get(path)
        assert f'data-tiles="{tiles}"' in link.get_data(as_text=True)
        assert "https://tuiles.vitre.example" in link.headers["Content-Security-Policy"]
    finally:
        app.extensions["webleads"].db.dispose()


def test_the_outline_has_each_commune_of_an_intercommunality(communes, app) -> None:
    outline = app.test_client().get("/town.geojson").get_json()
    names = sorted(f["properties"]["name"] for f in outline["features"])
    assert names == ["Vitré", "Étrelles"]
