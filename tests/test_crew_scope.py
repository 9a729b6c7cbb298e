"""An agent's field chat sees what their console sees: their services' reports in their
communes, and their services' reports whose commune is not known yet (flagged). The
console's side is tests/test_console_access.py and tests/test_communes.py; the same town
here: agents A (roads, Vitré only), B (roads, Étrelles only), C (street cleaning, every
commune), and potholes going to the shared roads service in both communes."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
import time_machine

from app.cli import cli
from console.dashboard import clear_cache
from models.catalog import service_by_code
from models.messaging import mark_dead, messages_for_report
from models.report import get_report, report_events
from services import crew_digest, crew_links, reports
from services.town_clock import TOWN_ZONE
from tests.helpers import (
    EAST,
    WEST,
    TalkingCitizen,
    add_communes,
    add_reports,
    admin_id,
    log_in_as,
    make_agent,
)

VITRE, ETRELLES = "35360", "35109"


class Town:
    """Vitré and Étrelles, three agents with linked chats, and a report in each commune."""

    def __init__(self, app, tmp_path) -> None:
        self.app = app
        self.rt = rt = app.extensions["webleads"]
        runner = add_communes(app, tmp_path)
        self.agents, self.phones = {}, {}
        for name, services, communes in (
            ("a", ("voirie",), (VITRE,)),
            ("b", ("voirie",), (ETRELLES,)),
            ("c", ("proprete",), ()),
        ):
            email = f"{name}@vitre.example"
            self.agents[name] = make_agent(rt, email, services=services)
            result = runner.invoke(cli, ["commune", "attach", email, *communes])
            assert result.exit_code == 0, result.output
            self.phones[name] = phone = TalkingCitizen(rt, f"{name}-phone", language_code="en")
            with rt.db.transaction() as session:
                code = crew_links.issue_code(session, self.agents[name], rt.settings.SECRET_KEY)
            assert "Linked" in phone.texts(f"/agent {code}")
        self.in_vitre = self.file("ouest", WEST, "Trou rue de la Poterie")
        self.in_etrelles = self.file("est", EAST, "Trou énorme, je suis Paul Martin")

    def file(self, sender: str, place, description: str, category="cat:nid-de-poule") -> int:
        citizen = TalkingCitizen(self.rt, sender)
        return citizen.file_report(category, description, location=place)

    def console(self, name: str):
        client = self.app.test_client()
        log_in_as(client, self.agents[name] if name != "admin" else admin_id(self.rt))
        return client

    def report(self, number: int):
        with self.rt.db.reading() as session:
            return get_report(session, number), [e.kind for e in report_events(session, number)]


@pytest.fixture
def town(app, tmp_path) -> Town:
    return Town(app, tmp_path)


def test_the_town_is_as_the_review_had_it(town) -> None:
    etrelles = town.report(town.in_etrelles)[0]
    assert etrelles.commune == ETRELLES and town.report(town.in_vitre)[0].commune == VITRE
    assert town.console("a").get(f"/console/reports/{town.in_etrelles}").status_code == 404
    assert town.console("b").get(f"/console/reports/{town.in_etrelles}").status_code == 200


# (label, what A's chat says or presses, {n}: the report's number)
ACTIONS = [
    ("take", {"text": "je prends {n}"}),
    ("done", {"text": "fait {n}"}),
    ("done without photo", {"choice": "crew:nophoto:{n}"}),
    ("note", {"text": "note {n} vu en passant"}),
    ("hand back", {"text": "pas pour nous {n} pas chez nous"}),
    ("take button", {"choice": "crew:take:{n}"}),
    ("done button", {"choice": "crew:done:{n}"}),
    ("hand back button", {"choice": "crew:back:{n}"}),
]


def test_a_vitre_agent_cannot_work_an_etrelles_report_from_the_chat(town) -> None:
    phone = town.phones["a"]
    graffiti_in_vitre = town.file("tagueur", WEST, "Tag sur la mairie", "cat:graffiti")

    def answer(said: dict, number: int) -> str:
        return phone.texts(**{k: v.format(n=number) for k, v in said.items()})

    before = town.report(town.in_etrelles)
    for label, said in ACTIONS:
        refusal = answer(said, town.in_etrelles).replace(str(town.in_etrelles), "N")
        # The same words as for another service's report: the report is not named to them.
        other = answer(said, graffiti_in_vitre).replace(str(graffiti_in_vitre), "N")
        assert refusal == other == "You cannot work on report #N (not one of your services).", label
    after = town.report(town.in_etrelles)
    assert (after[0].status, after[0].assigned_agent_id, after[1]) == ("new", None, before[1])


def test_a_shared_location_lists_only_the_agent_s_communes(town) -> None:
    seen_by_a = town.phones["a"].texts(location=EAST)
    assert "No open report of your services within 300 m" in seen_by_a
    assert "Paul Martin" not in seen_by_a
    seen_by_b = town.phones["b"].texts(location=EAST)
    assert f"#{town.in_etrelles} Trou énorme, je suis Paul Martin" in seen_by_b
    assert f"#{town.in_vitre}" in town.phones["a"].texts(location=WEST)


def test_a_report_of_another_commune_assigned_to_the_agent_stays_out_of_their_chat(town) -> None:
    a, phone = town.agents["a"], town.phones["a"]
    with town.rt.db.transaction() as session:
        roads = get_report(session, town.in_etrelles).service_id
        reports.assign(session, town.in_etrelles, service_id=roads, assignee_id=a,
                       agent_id=admin_id(town.rt))  # fmt: skip
    assert phone.new_messages() == []  # no card of it
    assert phone.texts("/taches") == "No open report is assigned to you."
    assert phone.texts("je prends") == "Which report? Write: je prends 1042"
    assert town.report(town.in_etrelles)[0].status == "new"


# The digest asks for 2 December 2026: the reports are filed on the 1st, whatever today is.
@time_machine.travel(datetime(2026, 12, 1, 15, 0, tzinfo=TOWN_ZONE), tick=True)
def test_each_head_s_digest_lists_the_reports_they_see(town) -> None:
    nowhere = TalkingCitizen(town.rt, "sans-lieu").file_report(location=None)
    with town.rt.db.transaction() as session:
        roads = service_by_code(session, "voirie").id
        for name in ("a", "b"):
            crew_digest.set_head(session, town.agents[name], roads)
    with town.rt.db.transaction() as session:
        at = datetime(2026, 12, 2, 9, 0, tzinfo=TOWN_ZONE)
        assert crew_digest.send_due_digests(session, at) == 2
    [for_a] = town.phones["a"].new_messages()
    [for_b] = town.phones["b"].new_messages()
    assert for_a.text.startswith("Good morning. Roads: 2 new since yesterday")
    assert f"#{town.in_vitre}" in for_a.text and f"#{nowhere}" in for_a.text
    assert f"#{town.in_etrelles}" not in for_a.text
    assert f"#{town.in_etrelles}" in for_b.text and f"#{nowhere}" in for_b.text
    assert f"#{town.in_vitre}" not in for_b.text


def test_a_report_without_a_commune_is_seen_and_taken_by_both_communes_agents(town) -> None:
    # A typed address the geocoder did not find: no place, so no commune yet.
    nowhere = TalkingCitizen(town.rt, "sans-lieu").file_report(location=None)
    assert town.report(nowhere)[0].commune is None
    for name in ("a", "b"):
        console = town.console(name)
        queue = console.get("/console/reports").get_data(as_text=True)
        row = re.search(rf'data-number="{nowhere}">(.*?)</tr>', queue, re.S)
        assert row and "Commune à préciser" in row.group(1)
        own, other = (town.in_vitre, town.in_etrelles)[:: 1 if name == "a" else -1]
        assert f'data-number="{own}"' in queue and f'data-number="{other}"' not in queue
        page = console.get(f"/console/reports/{nowhere}")
        assert page.status_code == 200 and "Commune à préciser" in page.get_data(as_text=True)
        assert f"\n{nowhere}," in console.get("/console/reports.csv?status=all").get_data(
            as_text=True
        )
    # A report whose commune is known is not flagged.
    known = town.console("a").get(f"/console/reports/{town.in_vitre}").get_data(as_text=True)
    assert "Commune à préciser" not in known and "Vitré" in known

    assert "is yours" in town.phones["a"].texts(f"je prends {nowhere}")
    assert "is yours" in town.phones["b"].texts(f"je prends {nowhere}")
    assert town.report(nowhere)[0].assigned_agent_id == town.agents["b"]
    # Still another service's report for C (street cleaning).
    assert "cannot work" in town.phones["c"].texts(f"je prends {nowhere}")


def test_a_located_report_without_a_commune_is_near_for_both_communes_agents(town) -> None:
    # Filed before the communes were added: a place, but no commune.
    [before] = add_reports(town.rt, [{"lat": 48.1190, "lon": -1.2010, "description": "Ancien"}])
    for name in ("a", "b"):
        assert f"#{before} Ancien" in town.phones[name].texts(location=(48.1190, -1.2010))
    assert "No open report" in town.phones["c"].texts(location=(48.1190, -1.2010))


def test_the_console_s_messages_list_only_the_agent_s_communes(town) -> None:
    number = town.in_etrelles
    with town.rt.db.transaction() as session:
        reports.change_status(session, number, "acknowledged", message="On passe demain.")
        for message in messages_for_report(session, number):
            if message.event_id is not None:
                mark_dead(session, message.id, "Forbidden: bot was blocked by the user")
    link = f"/console/reports/{number}#thread"
    assert link not in town.console("a").get("/console/messages").get_data(as_text=True)
    assert link in town.console("b").get("/console/messages").get_data(as_text=True)


def dashboard(client, query: str = "") -> tuple[dict, list[str], str]:
    html = client.get(f"/console/dashboard{query}").get_data(as_text=True)
    charts = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', html, re.S).group(1))
    kpis = re.findall(r'<span class="value">([^<]*)</span>', html)
    return charts, kpis, html


def test_the_dashboard_shows_an_agent_nothing_of_another_commune(town) -> None:
    TalkingCitizen(town.rt, "sans-lieu").file_report(location=None)
    assert "Send a photo" in town.phones["b"].texts(f"fait {town.in_etrelles}")
    assert "resolved" in town.phones["b"].texts("sans photo")
    client = town.console("a")
    own = dashboard(client)
    clear_cache(town.app)
    asked = dashboard(client, f"?commune={ETRELLES}")
    assert asked[:2] == own[:2]
    # Vitré's report and the one without a commune; Étrelles' one is B's.
    assert own[1][:3] == ["2", "0", "2"]
    assert f"commune={ETRELLES}" not in own[2]  # not offered either
    # The field share: Étrelles' repair from the field is not A's to see.
    assert 'id="field-share"' not in own[2] and 'id="field-share"' not in asked[2]
    field_b = dashboard(town.console("b"))[2]
    assert re.search(r"<th scope=\"row\">Voirie</th><td>1</td><td>1</td>", field_b)
