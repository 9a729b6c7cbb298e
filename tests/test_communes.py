"""One deployment for several communes: each report belongs to the commune whose boundary
holds it and goes to that commune's service or the shared one; agents see their communes;
Open311 speaks jurisdiction_id; a lone town is unchanged."""

from __future__ import annotations

from app.cli import cli
from models.catalog import category_by_code, service_by_code
from models.report import get_report
from tests.helpers import EAST, WEST, TalkingCitizen, log_in_as, make_agent


def file_at(rt, sender: str, place: tuple[float, float]) -> int:
    return TalkingCitizen(rt, sender).file_report(location=place)


def test_a_report_belongs_to_its_commune_and_goes_to_its_service(communes) -> None:
    rt, runner = communes
    west, east = file_at(rt, "ouest", WEST), file_at(rt, "est", EAST)
    with rt.db.reading() as session:
        in_vitre, in_etrelles = get_report(session, west), get_report(session, east)
        shared = category_by_code(session, "nid-de-poule").service_id
        own = service_by_code(session, "voirie-etrelles").id
    assert (in_vitre.commune, in_vitre.service_id) == ("35360", shared)
    assert (in_etrelles.commune, in_etrelles.service_id) == ("35109", own)
    listing = runner.invoke(cli, ["commune", "list"]).output
    assert "35109  Étrelles" in listing and "1 category(ies) on its own services" in listing


def test_a_place_outside_every_commune_is_refused(communes) -> None:
    rt, _ = communes
    citizen = TalkingCitizen(rt, "loin")
    citizen.to_location_question()
    answer = citizen.texts(location=(48.50, -1.60))
    assert "en dehors de la zone couverte" in answer and citizen.state == "location"


def test_an_agent_attached_to_a_commune_sees_only_its_reports(communes, app) -> None:
    rt, runner = communes
    west, east = file_at(rt, "ouest", WEST), file_at(rt, "est", EAST)
    agent = make_agent(rt, "agent@vitre.fr", services=("voirie",))
    assert runner.invoke(cli, ["commune", "attach", "agent@vitre.fr", "35360"]).exit_code == 0
    client = app.test_client()
    log_in_as(client, agent)
    queue = client.get("/console/reports").get_data(as_text=True)
    assert f"#{west}" in queue and f"#{east}" not in queue
    assert client.get(f"/console/reports/{west}").status_code == 200
    assert client.get(f"/console/reports/{east}").status_code == 404


def test_the_queue_and_the_dashboard_are_per_commune_and_for_all(communes, app) -> None:
    rt, _ = communes
    west, east = file_at(rt, "ouest", WEST), file_at(rt, "est", EAST)
    from tests.helpers import admin_id

    client = app.test_client()
    log_in_as(client, admin_id(rt))
    everyone = client.get("/console/reports").get_data(as_text=True)
    assert f"#{west}" in everyone and f"#{east}" in everyone
    only = client.get("/console/reports?commune=35109").get_data(as_text=True)
    assert f"#{east}" in only and f"#{west}" not in only
    csv = client.get("/console/reports.csv?commune=35109&status=all").get_data(as_text=True)
    assert str(east) in csv and f"\n{west}," not in csv
    dashboard = client.get("/console/dashboard?commune=35109")
    assert dashboard.status_code == 200 and "Étrelles" in dashboard.get_data(as_text=True)


def test_open311_needs_the_jurisdiction_when_there_are_several(communes, app) -> None:
    rt, _ = communes
    file_at(rt, "ouest", WEST)
    east = file_at(rt, "est", EAST)
    client = app.test_client()
    missing = client.get("/open311/v2/services.json")
    assert missing.status_code == 400 and "jurisdiction_id" in missing.json[0]["description"]
    assert client.get("/open311/v2/services.json?jurisdiction_id=99999").status_code == 404
    assert client.get("/open311/v2/services.json?jurisdiction_id=35109").status_code == 200
    found = client.get("/open311/v2/requests.json?jurisdiction_id=35109").json
    assert [r["service_request_id"] for r in found] == [str(east)]


def test_a_lone_town_answers_open311_without_a_jurisdiction(client) -> None:
    assert client.get("/open311/v2/services.json").status_code == 200
