"""What the newcomer's review saw on the report page and in the admin, in French: the
status select's default, the assignment line, dates, a merged duplicate, the engine's
refusals, nearby reports to merge with, the zones and the pilot pages; the public page of
a duplicate; the agents' guide."""

from __future__ import annotations

import json
import re

import pytest

from models.report import get_report
from services.launchkit import GUIDE
from tests.helpers import (
    TalkingCitizen,
    add_reports,
    admin_id,
    csrf_token,
    log_in_as,
    make_agent,
)


@pytest.fixture
def desk(app):
    """A logged-in roads agent, Léa Martin."""
    rt = app.extensions["webleads"]
    client = app.test_client()
    agent_id = make_agent(rt, "lea@vitre.example", name="Léa Martin")
    log_in_as(client, agent_id)
    return rt, client


def post(client, path: str, **form):
    return client.post(path, data={**form, "csrf_token": csrf_token(client)})


def page(client, number: int) -> str:
    return client.get(f"/console/reports/{number}").get_data(as_text=True)


def selected_status(html: str) -> tuple[str, str]:
    """The status form's chosen option: (value, label)."""
    form = html[html.index('id="status-form"') :]
    form = form[: form.index("</select>")]
    for attrs, label in re.findall(r"<option([^>]*)>([^<]*)</option>", form):
        if "selected" in attrs:
            return re.search(r'value="([^"]*)"', attrs).group(1), label
    return "", ""


@pytest.mark.parametrize(
    ("status", "chosen"),
    [
        ("new", ("acknowledged", "Pris en compte")),
        ("acknowledged", ("in_progress", "En cours")),
        ("in_progress", ("resolved", "Résolu")),
        ("resolved", ("", "Résolu (statut actuel)")),
    ],
)
def test_the_status_select_offers_the_next_step_never_a_step_back(desk, status, chosen):
    rt, client = desk
    (number,) = add_reports(rt, [{"status": status}])
    assert selected_status(page(client, number)) == chosen


def test_choosing_no_status_changes_nothing(desk):
    rt, client = desk
    (number,) = add_reports(rt, [{"status": "resolved"}])
    post(client, f"/console/reports/{number}/status", **{"status-status": ""})
    with rt.db.reading() as session:
        assert get_report(session, number).status == "resolved"


def test_the_assignment_reads_on_one_line_in_french(desk):
    rt, client = desk
    (number,) = add_reports(rt, [{}])
    lea = make_agent(rt, "claire@vitre.example", name="Claire Martin")
    with rt.db.reading() as session:
        roads = get_report(session, number).service_id
    post(client, f"/console/reports/{number}/assign", **{"assign-service": roads,
                                                          "assign-assignee": lea})  # fmt: skip
    html = page(client, number)
    change = re.search(r'<p class="change">(.*?)</p>', html, re.S).group(1)
    assert change == "Service\u202f: Voirie · agent\u202f: Claire Martin"


def test_dates_are_short_and_local(desk):
    rt, client = desk
    (number,) = add_reports(rt, [{}])
    html = page(client, number)
    assert "heure normale" not in html and "heure d’été" not in html
    filed = re.search(r"<dt>Déposé</dt><dd>([^<]*)</dd>", html)
    assert filed and re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", filed.group(1)), html[:200]


def test_a_merged_duplicate_says_where_it_went_not_that_it_was_dealt_with(desk):
    rt, client = desk
    kept, duplicate = add_reports(rt, [{}, {}])
    post(client, f"/console/reports/{duplicate}/merge", **{"merge-target": f"#{kept}"})
    html = page(client, duplicate)
    assert f"Fusionné avec #{kept}" in html
    assert "Traité en" not in html and "délai tenu" not in html


def test_the_engines_refusals_are_in_french(desk):
    rt, client = desk
    kept, merged, third = add_reports(rt, [{}, {}, {}])
    post(client, f"/console/reports/{merged}/merge", **{"merge-target": f"#{kept}"})
    post(client, f"/console/reports/{third}/merge", **{"merge-target": f"#{merged}"})
    html = page(client, third)
    assert f"#{merged} est lui-même fusionné avec #{kept}." in html
    assert "is itself merged" not in html
    with rt.db.reading() as session:
        category = get_report(session, third).category_id
    post(client, f"/console/reports/{third}/category", **{"recat-category": category})
    html = page(client, third)
    assert f"Le signalement #{third} est déjà dans cette catégorie." in html
    post(client, f"/console/reports/{third}/merge", **{"merge-target": f"#{third}"})
    assert f"#{third} n’est pas un autre signalement." in page(client, third)


def test_the_merge_form_offers_the_open_reports_of_the_same_category_nearby(desk):
    rt, client = desk
    here, near, far, other_kind, done = add_reports(
        rt,
        [
            {"lat": 48.1246, "lon": -1.2082},
            {"lat": 48.1250, "lon": -1.2080, "address": "14 Rue de la Poterie"},  # ~50 m
            {"lat": 48.1400, "lon": -1.2082},  # 1.7 km
            {"lat": 48.1247, "lon": -1.2082, "category": "trottoir"},
            {"lat": 48.1247, "lon": -1.2082, "status": "resolved"},
        ],
    )
    html = page(client, here)
    nearby = html[html.index('id="merge-nearby"') : html.index("</fieldset>")]
    assert "Signalements ouverts de la même catégorie à proximité" in nearby
    offered = [int(n) for n in re.findall(r'name="merge-pick" value="(\d+)"', nearby)]
    assert offered == [near]
    assert "14 Rue de la Poterie" in nearby and "m ·" in nearby
    post(client, f"/console/reports/{here}/merge", **{"merge-pick": str(near)})
    with rt.db.reading() as session:
        assert get_report(session, here).duplicate_of_id == near
    assert far and other_kind and done


def test_zones_read_in_french(app):
    rt = app.extensions["webleads"]
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    html = client.get("/console/admin/zones").get_data(as_text=True)
    table = html[html.index("<tbody>") : html.index("</tbody>")]
    assert "Limite de la commune" in table and "Polygone" in table
    assert not re.search(r">(boundary|pilot|Polygon|MultiPolygon)<", html)
    assert '<option selected value="pilot">Zone pilote</option>' in html


def test_the_pilot_that_restricts_nothing_does_not_offer_to_open_to_everyone(app):
    rt = app.extensions["webleads"]
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    with rt.db.reading() as session:
        rules = rt.catalog.get(session).pilot
    assert rules.on and not rules.restricts  # the demo town's pilot
    html = client.get("/console/admin/pilot").get_data(as_text=True)
    assert "ouvert à tous" in html
    assert "Arrêter le pilote : ouvrir à tous" not in html
    assert ">Arrêter le pilote</button>" in html


def test_a_duplicates_public_page_links_to_the_report_that_carries_on(app):
    rt = app.extensions["webleads"]
    marie = TalkingCitizen(rt, "marie", name="Marie")
    kept = marie.file_report()
    lucie = TalkingCitizen(rt, "lucie", name="Lucie")
    duplicate = lucie.file_report(location=(48.1300, -1.2000))
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    post(client, f"/console/reports/{duplicate}/merge", **{"merge-target": f"#{kept}"})
    html = app.test_client().get(f"/reports/{duplicate}").get_data(as_text=True)
    assert f'Ce signalement a été fusionné avec <a href="/reports/{kept}">#{kept}</a>.' in html
    assert f'href="/reports/{kept}#follow"' in html
    assert "il n'y aura plus de nouvelles" not in html
    english = app.test_client().get(f"/reports/{duplicate}?lang=en").get_data(as_text=True)
    assert f'This report was merged with <a href="/reports/{kept}?lang=en">#{kept}</a>.' in (
        english
    )


def test_the_agents_guide_says_the_queue_opens_most_urgent_first():
    lines = dict(GUIDE)["Travailler la file"]
    assert any("plus urgents" in line and "en retard" in line for line in lines)
    assert json.dumps(lines, ensure_ascii=False).count("urgent") >= 1
