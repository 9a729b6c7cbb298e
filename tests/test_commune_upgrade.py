"""A running town that adds a neighbouring commune: the first `webleads commune add` makes
the town its first commune (its INSEE code, name and boundary), with its reports, so the
town stays in the list, in routing and in Open311's jurisdiction_id."""

from __future__ import annotations

import json
import re

import pytest

from app.cli import cli
from models.daily_figure import open_figures
from models.report import count_reports, get_report
from tests.helpers import TalkingCitizen, rectangle

# East of Vitré's real boundary (app/data/vitre-boundary.geojson ends at -1.148).
ETRELLES_BOX = (-1.14, 48.05, -1.05, 48.20)
IN_ETRELLES = (48.12, -1.10)
IN_VITRE = (48.1246, -1.2082)  # 12 rue de la Poterie


@pytest.fixture
def demo_then_etrelles(app, tmp_path):
    """`webleads seed-demo` (Vitré alone, with its demo reports), then Étrelles added."""
    rt = app.extensions["webleads"]
    runner = app.test_cli_runner()
    seeded = runner.invoke(cli, ["seed-demo"])
    assert seeded.exit_code == 0, seeded.output
    with rt.db.reading() as session:
        filed = count_reports(session)
        backlog = open_figures(session, None)
    boundary = tmp_path / "etrelles.geojson"
    boundary.write_text(json.dumps(rectangle(*ETRELLES_BOX)))
    added = runner.invoke(
        cli, ["commune", "add", "35109", "--name", "Étrelles", "--boundary", str(boundary)]
    )
    assert added.exit_code == 0, added.output
    return rt, runner, added.output, filed, backlog


def test_the_town_becomes_the_first_commune_with_its_reports(demo_then_etrelles) -> None:
    rt, runner, said, filed, backlog = demo_then_etrelles
    assert f"Vitré (35360), is now a commune too, with {filed} of its reports" in said
    listing = runner.invoke(cli, ["commune", "list"]).output
    assert re.search(rf"35360  Vitré +{filed} report\(s\)", listing), listing
    assert "35109  Étrelles" in listing
    with rt.db.reading() as session:
        idea = get_report(session, 1001 + filed - 1)  # the demo's idea has no place
        assert idea.lat is None and idea.commune == "35360"
        # The dashboard's rows follow the reports to their commune.
        assert open_figures(session, None, ("35360",)) == backlog != {}
        assert open_figures(session, None) == backlog


def test_open311_lists_the_towns_reports_under_its_code(demo_then_etrelles, client) -> None:
    _, _, _, filed, _ = demo_then_etrelles
    vitre = client.get("/open311/v2/requests.json?jurisdiction_id=35360")
    assert vitre.status_code == 200
    assert sorted(int(r["service_request_id"]) for r in vitre.get_json()) == list(
        range(1001, 1001 + filed)
    )
    assert client.get("/open311/v2/requests.json?jurisdiction_id=35109").get_json() == []
    services = client.get("/open311/v2/services.json")
    assert services.status_code == 400 and "35360" in services.get_json()[0]["description"]


def test_new_reports_go_to_their_commune(demo_then_etrelles) -> None:
    rt, *_ = demo_then_etrelles
    in_vitre = TalkingCitizen(rt, "ouest").file_report(location=IN_VITRE)
    in_etrelles = TalkingCitizen(rt, "est").file_report(location=IN_ETRELLES)
    with rt.db.reading() as session:
        assert get_report(session, in_vitre).commune == "35360"
        assert get_report(session, in_etrelles).commune == "35109"


def test_a_town_without_an_insee_code_is_left_as_it_was(app, tmp_path) -> None:
    """No town_insee in the settings: nothing to make a commune of (as before)."""
    from models.settings import set_setting

    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        set_setting(session, "town_insee", None)
    boundary = tmp_path / "etrelles.geojson"
    boundary.write_text(json.dumps(rectangle(*ETRELLES_BOX)))
    runner = app.test_cli_runner()
    added = runner.invoke(
        cli, ["commune", "add", "35109", "--name", "Étrelles", "--boundary", str(boundary)]
    )
    assert added.exit_code == 0 and "is now a commune too" not in added.output
    listing = runner.invoke(cli, ["commune", "list"]).output
    assert "35109  Étrelles" in listing and "Vitré" not in listing


def test_a_second_commune_may_not_take_the_towns_name(demo_then_etrelles, tmp_path) -> None:
    _, runner, *_ = demo_then_etrelles
    boundary = tmp_path / "other.geojson"
    boundary.write_text(json.dumps(rectangle(-1.05, 48.05, -1.00, 48.20)))
    taken = runner.invoke(
        cli, ["commune", "add", "35999", "--name", "Vitré", "--boundary", str(boundary)]
    )
    assert taken.exit_code != 0 and "The commune 35360 is named 'Vitré'" in taken.output
    assert "35360  Vitré" in runner.invoke(cli, ["commune", "list"]).output
