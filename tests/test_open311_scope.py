"""Open311 keys carry a scope: a view (the public one, exactly what a keyless read gets, or
the town's full record) and communes (none: all). A key limited to some communes neither
reads nor files outside them; keys made before scopes keep reading the full record."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from app.cli import cli
from models import migrate
from models.api_key import KeyView, create_key, key_by_name
from models.audit import admin_changes
from models.db import Database
from services import moderation
from tests.helpers import EAST, WEST, admin_id, csrf_token, log_in_as, make_report

BASE = "/open311/v2"
PRIVATE = "Trou devant chez Marie Curie, appelez le 06 12 34 56 78"


def new_key(runner, *args: str) -> str:
    """Creates a key with `webleads api-key create` and returns it."""
    result = runner.invoke(cli, ["api-key", "create", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def numbers(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(int(r["service_request_id"]) for r in response.get_json())


def post(client, **form):
    return client.post(f"{BASE}/requests.json", data={"service_code": "lampadaire", **form})


# --- the view --------------------------------------------------------------------------


@pytest.fixture
def shown_and_hidden(rt) -> tuple[int, int]:
    """A report with a phone number in the citizen's words, and a hidden one."""
    with rt.db.transaction() as session:
        shown = make_report(session, "nid-de-poule", description=PRIVATE).id
        hidden = make_report(session, "graffiti", description=PRIVATE).id
    with rt.db.transaction() as session:
        moderation.hide(session, hidden, agent_id=None)
    return shown, hidden


def test_a_new_key_reads_exactly_what_a_keyless_read_gets(app, client, shown_and_hidden):
    shown, hidden = shown_and_hidden
    key = new_key(app.test_cli_runner(), "journal")
    for path in ("/requests.json", "/requests.xml", f"/requests/{shown}.json"):
        keyless = client.get(BASE + path)
        with_key = client.get(f"{BASE}{path}{'&' if '?' in path else '?'}api_key={key}")
        assert with_key.get_data() == keyless.get_data(), path
    assert numbers(client.get(f"{BASE}/requests.json?api_key={key}")) == [shown]
    assert "06 12" not in client.get(f"{BASE}/requests.json?api_key={key}").get_data(as_text=True)
    one = client.get(f"{BASE}/requests/{hidden}.json?api_key={key}")
    assert one.status_code == 404 and one.get_json()[0]["code"] == 404


def test_a_full_key_reads_the_towns_record(app, client, shown_and_hidden):
    shown, hidden = shown_and_hidden
    key = new_key(app.test_cli_runner(), "CRM voirie", "--full")
    assert numbers(client.get(f"{BASE}/requests.json?api_key={key}")) == [shown, hidden]
    found = client.get(f"{BASE}/requests/{hidden}.json?api_key={key}").get_json()
    assert found[0]["description"] == PRIVATE


def test_keys_made_before_scopes_keep_reading_the_full_record(tmp_path):
    """A deployment at 0014 with a key: the upgrade makes it `full`, for every commune."""
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(db.engine, "0014_daily_figures")
    with db.transaction() as session:
        session.execute(
            text(
                "INSERT INTO apikey (name, key_hash, hint, active, created_at)"
                " VALUES ('CRM', 'h', 'wl_abc', true, '2026-01-01 00:00:00')"
            )
        )
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        old = key_by_name(session, "CRM")
        assert (old.view, old.communes, old.reads_full_record) == ("full", [], True)
        made_now, _ = create_key(session, "SIG")
        assert (made_now.view, made_now.communes) == (KeyView.PUBLIC, [])
    db.dispose()


# --- the communes ----------------------------------------------------------------------


@pytest.fixture
def vitre_and_etrelles(communes, app) -> tuple[int, int]:
    """A report in Vitré (35360) and one in Étrelles (35109)."""
    rt, _ = communes
    with rt.db.transaction() as session:
        west = make_report(session, "nid-de-poule", lat=WEST[0], lon=WEST[1])
        east = make_report(session, "nid-de-poule", lat=EAST[0], lon=EAST[1])
        west.commune, east.commune = "35360", "35109"
        return west.id, east.id


def test_a_key_of_one_commune_reads_only_its_reports(communes, client, vitre_and_etrelles):
    west, east = vitre_and_etrelles
    _, runner = communes
    key = new_key(runner, "journal-etrelles", "--commune", "35109", "--full")
    assert numbers(client.get(f"{BASE}/requests.json?jurisdiction_id=35109&api_key={key}")) == [
        east
    ]
    assert numbers(client.get(f"{BASE}/requests.json?jurisdiction_id=35360&api_key={key}")) == []
    by_ids = f"{BASE}/requests.json?jurisdiction_id=35360&service_request_id={west}&api_key={key}"
    assert numbers(client.get(by_ids)) == []
    for insee in ("35360", "35109"):
        other = client.get(f"{BASE}/requests/{west}.json?jurisdiction_id={insee}&api_key={key}")
        assert other.status_code == 404 and other.get_json()[0]["code"] == 404
    mine = client.get(f"{BASE}/requests/{east}.json?jurisdiction_id=35109&api_key={key}")
    assert mine.status_code == 200 and mine.get_json()[0]["description"] == "x"
    # Without the key, Vitré's reports are there for anyone: only the key is limited.
    assert numbers(client.get(f"{BASE}/requests.json?jurisdiction_id=35360")) == [west]


def test_a_key_of_one_commune_files_only_there(communes, client):
    rt, runner = communes
    key = new_key(runner, "journal-etrelles", "--commune", "35109")
    in_vitre = {"lat": str(WEST[0]), "long": str(WEST[1])}
    refused = post(client, api_key=key, jurisdiction_id="35109", **in_vitre)
    assert refused.status_code == 403
    assert refused.get_json() == [
        {"code": 403, "description": "This api_key files requests only in 35109, not in "
                                     "jurisdiction_id 35360."}
    ]  # fmt: skip
    by_address = post(client, api_key=key, jurisdiction_id="35360", address_string="Place")
    assert by_address.status_code == 403
    xml = client.post(
        f"{BASE}/requests.xml",
        data={
            "service_code": "lampadaire",
            "api_key": key,
            "jurisdiction_id": "35360",
            "address_string": "Place",
        },
    )
    assert xml.status_code == 403 and b"<errors><error><code>403</code>" in xml.get_data()
    filed = post(client, api_key=key, jurisdiction_id="35109", lat=str(EAST[0]), long=str(EAST[1]))
    assert filed.status_code == 200
    number = int(filed.get_json()[0]["service_request_id"])
    with rt.db.reading() as session:
        from models.report import count_reports, get_report

        assert get_report(session, number).commune == "35109"
        assert count_reports(session) == 1  # the refused ones left nothing behind
    # A key of every commune files in Vitré as before.
    everywhere = new_key(runner, "CRM")
    assert post(client, api_key=everywhere, jurisdiction_id="35360", **in_vitre).status_code == 200


def test_a_key_for_an_unknown_commune_is_refused(communes):
    _, runner = communes
    result = runner.invoke(cli, ["api-key", "create", "SIG", "--commune", "99999"])
    assert result.exit_code != 0 and "No commune 99999" in result.output
    assert "SIG" not in runner.invoke(cli, ["api-key", "list"]).output


def test_the_scope_is_listed_and_audited_from_the_command_line(communes):
    rt, runner = communes
    new_key(runner, "journal-etrelles", "--commune", "35109")
    new_key(runner, "CRM", "--full")
    listing = runner.invoke(cli, ["api-key", "list"]).output
    assert re.search(r"journal-etrelles .* public view, 35109", listing), listing
    assert re.search(r"CRM .* full record, every commune", listing), listing
    with rt.db.reading() as session:
        changes = {c.name: c.changes for c in admin_changes(session) if c.thing == "api key"}
    assert changes["journal-etrelles"]["view"] == [None, "public"]
    assert changes["journal-etrelles"]["communes"] == [None, ["35109"]]
    assert changes["CRM"]["view"] == [None, "full"]
    assert changes["CRM"]["communes"] == [None, "all"]


def test_the_console_makes_a_scoped_key(communes, app):
    rt, _ = communes
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    page = client.get("/console/admin/api-keys").get_data(as_text=True)
    assert "Lit le dossier complet de la commune" in page and "Étrelles (35109)" in page
    form = {"name": "GMAO", "full": "y", "communes": ["35109", "35360"]}
    created = client.post(
        "/console/admin/api-keys", data={**form, "csrf_token": csrf_token(client)}
    )
    assert created.status_code == 201
    form = {"name": "Journal", "communes": ["35109"]}
    created = client.post(
        "/console/admin/api-keys", data={**form, "csrf_token": csrf_token(client)}
    )
    assert created.status_code == 201
    listing = created.get_data(as_text=True)
    assert re.search(r"le dossier complet,\s+35109, 35360", listing)
    assert re.search(r"la vue publique,\s+35109", listing)
    with rt.db.reading() as session:
        gmao, journal = key_by_name(session, "GMAO"), key_by_name(session, "Journal")
        changes = {c.name: c.changes for c in admin_changes(session) if c.thing == "api key"}
    assert (gmao.view, gmao.communes) == ("full", ["35109", "35360"])
    assert (journal.view, journal.communes) == ("public", ["35109"])
    assert changes["GMAO"]["communes"] == [None, ["35109", "35360"]]
    unknown = {"name": "X", "communes": ["99999"], "csrf_token": csrf_token(client)}
    assert client.post("/console/admin/api-keys", data=unknown).status_code == 400
