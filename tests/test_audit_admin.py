"""Every admin change writes one audit row where it saves, or is not saved at all.

One table of changes (roles, services, categories and their SLA, templates, zones, the
pilot, API keys), each made as an admin makes it: through the console's forms, or with
the `webleads` command. Each must leave exactly one AdminChange row naming who made it,
what it was about and what changed; and when that row cannot be written (its table is
gone), the change itself must not be saved either.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from unittest.mock import ANY

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.cli import cli
from app.seed import ADMIN_EMAIL
from models.agent import agent_by_email
from models.api_key import key_by_name
from models.audit import AdminChange, admin_changes
from models.catalog import category_by_code, service_by_code
from models.console import all_templates
from models.pilot import allowed_entry, invite_by_code
from models.zone import zone_by_name
from services import admin, pilot
from services.agents import save_agent
from services.audit import Actor
from services.security import verify_password
from tests.helpers import PASSWORD, admin_id, csrf_token, log_in_as

SETUP = Actor("test setup")
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[-1.21, 48.12], [-1.20, 48.12], [-1.20, 48.13], [-1.21, 48.13], [-1.21, 48.12]]
    ],
}
SQUARE_SUMMARY = "Polygon, 5 points, 48.1200..48.1300 N, -1.2100..-1.2000 E"
WIDER = {
    "type": "Polygon",
    "coordinates": [
        [[-1.22, 48.11], [-1.19, 48.11], [-1.19, 48.14], [-1.22, 48.14], [-1.22, 48.11]]
    ],
}
WIDER_SUMMARY = "Polygon, 5 points, 48.1100..48.1400 N, -1.2200..-1.1900 E"
# The settings an admin change may touch: what must stay as it was when one fails.
SETTINGS_TABLES = (
    "service",
    "category",
    "agent",
    "agentservice",
    "responsetemplate",
    "zone",
    "townsetting",
    "pilotinvite",
    "pilotallow",
    "apikey",
)


@dataclass
class Town:
    """The demo town, an admin logged in to the console, and the command line."""

    app: object
    rt: object
    client: object
    admin_id: int
    tmp_path: object

    def post(self, path: str, files: dict | None = None, **form):
        data = {**form, "csrf_token": csrf_token(self.client), **(files or {})}
        return self.client.post(path, data=data)

    def run(self, *args: str):
        return self.app.test_cli_runner().invoke(cli, list(args))

    def get(self, model, item_id):
        with self.rt.db.reading() as session:
            return session.get(model, item_id)

    def read(self, query: Callable, *args):
        with self.rt.db.reading() as session:
            return query(session, *args)

    def setup(self, change: Callable) -> None:
        with self.rt.db.transaction() as session:
            change(session)
        self.rt.catalog.invalidate()


@pytest.fixture
def town(app, tmp_path) -> Town:
    rt = app.extensions["webleads"]
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    return Town(app, rt, client, admin_id(rt), tmp_path)


def by_code(query, code):
    return lambda town: town.read(query, code)


def checked(box: bool) -> dict:
    return {"active": "y"} if box else {}


# --- how an admin makes each change ----------------------------------------------------


def service_form(town: Town, code: str, **changes) -> tuple[str, dict]:
    service = town.read(service_by_code, code)
    values = {"code": code, "name_fr": service.name_fr, "name_en": service.name_en,
              "active": service.active, **changes}  # fmt: skip
    form = {k: v for k, v in values.items() if k != "active"} | checked(values["active"])
    return f"/console/admin/services/{service.id}", form


def category_form(town: Town, code: str, **changes) -> tuple[str, dict]:
    category = town.read(category_by_code, code)
    values = {
        "code": code,
        "name_fr": category.name_fr,
        "name_en": category.name_en,
        "service_id": str(category.service_id),
        "kind": category.kind,
        "sla_hours": str(category.sla_hours),
        "position": str(category.position),
        "photo_required": category.photo_required,
        "ask_if_fixed": category.ask_if_fixed,
        "description_public": category.description_public,
        "active": category.active,
        **changes,
    }
    form = {k: v for k, v in values.items() if not isinstance(v, bool)}
    form |= {k: "y" for k, v in values.items() if v is True}
    return f"/console/admin/categories/{category.id}", form


def agent_form(town: Town, email: str, **changes) -> tuple[str, dict]:
    agent = town.read(agent_by_email, email)
    values = {"email": email, "name": agent.name, "role": agent.role,
              "services": str(town.read(service_by_code, "voirie").id), "active": agent.active,
              **changes}  # fmt: skip
    form = {k: v for k, v in values.items() if k != "active"} | checked(values["active"])
    return f"/console/admin/agents/{agent.id}", form


def a_roads_agent(town: Town) -> None:
    town.setup(lambda s: save_agent(s, SETUP, "lea@vitre.example", PASSWORD, "agent", ["voirie"]))


def a_template(town: Town) -> None:
    town.setup(
        lambda s: admin.save_template(
            s, SETUP, None, title="Merci", status=None, category_id=None, body="Merci !",
            active=True,
        )
    )  # fmt: skip


def template_id(town: Town) -> int:
    (template,) = town.read(all_templates)
    return template.id


def geojson(town: Town, geometry: dict, name: str = "square.geojson"):
    path = town.tmp_path / name
    path.write_text(json.dumps(geometry))
    return path


def boundary_id(town: Town) -> int:
    return town.read(zone_by_name, "Vitré", "boundary").id


def a_pilot_zone(town: Town) -> None:
    town.setup(lambda s: admin.add_zone(s, SETUP, "Centre", "pilot", SQUARE))


def a_code(town: Town) -> None:
    town.setup(lambda s: pilot.add_code(s, SETUP, "centre", "Quartier du centre"))


def allowed(town: Town) -> None:
    town.setup(lambda s: pilot.allow(s, SETUP, "06 12 34 56 78", "Conseil de quartier"))


def a_key(town: Town) -> None:
    town.setup(lambda s: admin.create_api_key(s, SETUP, "CRM voirie"))


def pilot_off(town: Town) -> None:
    town.setup(lambda s: pilot.switch(s, SETUP, False))


@dataclass(frozen=True)
class Change:
    label: str
    by: str  # "console" or "cli"
    act: Callable  # (town) -> the response or the CLI result
    thing: str
    name: str
    action: str
    changes: dict
    saved: Callable  # (town) -> True once the change is in the database
    setup: Callable | None = None


CHANGES = [
    # --- services, categories and their SLA -------------------------------------------
    Change(
        "create a service", "console",
        lambda t: t.post("/console/admin/services/new", code="eau", name_fr="Eau",
                         name_en="Water", active="y"),
        "service", "eau", "created",
        {"code": [None, "eau"], "name_fr": [None, "Eau"], "name_en": [None, "Water"],
         "active": [None, True]},
        lambda t: t.read(service_by_code, "eau") is not None,
    ),
    Change(
        "rename and close a service", "console",
        lambda t: t.post(*service_form(t, "voirie", name_fr="Voirie et trottoirs", active=False)),
        "service", "voirie", "updated",
        {"name_fr": ["Voirie", "Voirie et trottoirs"], "active": [True, False]},
        lambda t: not t.read(service_by_code, "voirie").active,
    ),
    Change(
        "create a category", "console",
        lambda t: t.post("/console/admin/categories/new", code="banc", name_fr="Banc cassé",
                         name_en="Broken bench", kind="problem", sla_hours="96", active="y",
                         service_id=str(t.read(service_by_code, "voirie").id)),
        "category", "banc", "created",
        {"code": [None, "banc"], "name_fr": [None, "Banc cassé"],
         "name_en": [None, "Broken bench"], "service": [None, "voirie"], "kind": [None, "problem"],
         "sla_hours": [None, 96], "photo_required": [None, False], "ask_if_fixed": [None, False],
         "description_public": [None, False], "position": [None, 0], "active": [None, True],
         "keywords": [None, ""], "questions": [None, []], "urgent_by_default": [None, False],
         "urgent_sla_hours": [None, 4]},
        lambda t: t.read(category_by_code, "banc") is not None,
    ),
    Change(
        "change a category's SLA", "console",
        lambda t: t.post(*category_form(t, "nid-de-poule", sla_hours="24")),
        "category", "nid-de-poule", "updated",
        {"sla_hours": [72, 24]},
        lambda t: t.read(category_by_code, "nid-de-poule").sla_hours == 24,
    ),
    Change(
        "move a category to another service", "console",
        lambda t: t.post(*category_form(
            t, "graffiti", service_id=str(t.read(service_by_code, "voirie").id), photo_required=True
        )),
        "category", "graffiti", "updated",
        {"service": ["proprete", "voirie"], "photo_required": [False, True]},
        lambda t: t.read(category_by_code, "graffiti").photo_required,
    ),
    # --- agents and roles ---------------------------------------------------------------
    Change(
        "create an agent", "console",
        lambda t: t.post("/console/admin/agents/new", email="Jardin@Vitre.example", name="Jules",
                         role="agent", password="pelouse-2026!", active="y",
                         services=str(t.read(service_by_code, "espaces-verts").id)),
        "agent", "jardin@vitre.example", "created",
        {"email": [None, "jardin@vitre.example"], "name": [None, "Jules"], "role": [None, "agent"],
         "active": [None, True], "services": [None, ["espaces-verts"]],
         "password": [None, "(set)"]},
        lambda t: t.read(agent_by_email, "jardin@vitre.example") is not None,
    ),
    Change(
        "make an agent admin", "console",
        lambda t: t.post(*agent_form(t, "lea@vitre.example", role="admin")),
        "agent", "lea@vitre.example", "updated",
        {"role": ["agent", "admin"]},
        lambda t: t.read(agent_by_email, "lea@vitre.example").role == "admin",
        setup=a_roads_agent,
    ),
    Change(
        "deactivate an agent and take a service off", "console",
        lambda t: t.post(*agent_form(t, "lea@vitre.example", active=False, services=[])),
        "agent", "lea@vitre.example", "updated",
        {"active": [True, False], "services": [["voirie"], []]},
        lambda t: not t.read(agent_by_email, "lea@vitre.example").active,
        setup=a_roads_agent,
    ),
    Change(
        "reset an agent's password", "console",
        lambda t: t.post(*agent_form(t, "lea@vitre.example", password="nouveau-mot-2026")),
        "agent", "lea@vitre.example", "updated",
        {"password": ["(old)", "(new)"]},
        lambda t: verify_password(
            t.read(agent_by_email, "lea@vitre.example").password_hash, "nouveau-mot-2026"
        ),
        setup=a_roads_agent,
    ),
    Change(
        "create-agent", "cli",
        lambda t: t.run("create-agent", "paul@vitre.example", "--password", PASSWORD,
                        "--role", "agent", "--service", "proprete"),
        "agent", "paul@vitre.example", "created",
        {"email": [None, "paul@vitre.example"], "name": [None, ""], "role": [None, "agent"],
         "active": [None, True], "services": [None, ["proprete"]], "password": [None, "(set)"]},
        lambda t: t.read(agent_by_email, "paul@vitre.example") is not None,
    ),
    Change(
        "create-agent on an existing agent", "cli",
        lambda t: t.run("create-agent", "lea@vitre.example", "--password", "un autre mot 2026",
                        "--role", "admin", "--service", "eclairage"),
        "agent", "lea@vitre.example", "updated",
        {"role": ["agent", "admin"], "services": [["voirie"], ["eclairage", "voirie"]],
         "password": ["(old)", "(new)"]},
        lambda t: t.read(agent_by_email, "lea@vitre.example").role == "admin",
        setup=a_roads_agent,
    ),
    # --- response templates -------------------------------------------------------------
    Change(
        "create a response template", "console",
        lambda t: t.post("/console/admin/templates/new", title="Intervention prévue",
                         status="acknowledged", category_id="", active="y",
                         body="Bonjour {name}, une équipe passe cette semaine."),
        "template", "Intervention prévue", "created",
        {"title": [None, "Intervention prévue"], "status": [None, "acknowledged"],
         "body": [None, "Bonjour {name}, une équipe passe cette semaine."],
         "active": [None, True]},
        lambda t: len(t.read(all_templates)) == 1,
    ),
    Change(
        "edit a response template", "console",
        lambda t: t.post(f"/console/admin/templates/{template_id(t)}", title="Merci",
                         status="", category_id=str(t.read(category_by_code, "graffiti").id),
                         body="Merci {name} !", active="y"),
        "template", "Merci", "updated",
        {"category": [None, "graffiti"], "body": ["Merci !", "Merci {name} !"]},
        lambda t: t.read(all_templates)[0].body == "Merci {name} !",
        setup=a_template,
    ),
    # --- zones --------------------------------------------------------------------------
    Change(
        "upload a pilot zone", "console",
        lambda t: t.post("/console/admin/zones", name="Centre", kind="pilot",
                         files={"geojson": (io.BytesIO(json.dumps(SQUARE).encode()),
                                            "centre.geojson")}),
        "zone", "Centre (pilot)", "created",
        {"kind": [None, "pilot"], "active": [None, True], "geometry": [None, SQUARE_SUMMARY]},
        lambda t: t.read(zone_by_name, "Centre", "pilot") is not None,
    ),
    Change(
        "turn the town's boundary off", "console",
        lambda t: t.post(f"/console/admin/zones/{boundary_id(t)}/toggle"),
        "zone", "Vitré (boundary)", "updated",
        {"active": [True, False]},
        lambda t: not t.read(zone_by_name, "Vitré", "boundary").active,
    ),
    Change(
        "zone import", "cli",
        lambda t: t.run("zone", "import", str(geojson(t, SQUARE)), "--kind", "pilot",
                        "--name", "Gare"),
        "zone", "Gare (pilot)", "created",
        {"kind": [None, "pilot"], "active": [None, True], "geometry": [None, SQUARE_SUMMARY]},
        lambda t: t.read(zone_by_name, "Gare", "pilot") is not None,
    ),
    Change(
        "zone import over an existing zone", "cli",
        lambda t: t.run("zone", "import", str(geojson(t, WIDER)), "--kind", "pilot",
                        "--name", "Centre"),
        "zone", "Centre (pilot)", "updated",
        {"geometry": [SQUARE_SUMMARY, WIDER_SUMMARY]},
        lambda t: t.read(zone_by_name, "Centre", "pilot").geometry == WIDER,
        setup=a_pilot_zone,
    ),
    Change(
        "zone activate --off", "cli",
        lambda t: t.run("zone", "activate", "Centre", "--off"),
        "zone", "Centre (pilot)", "updated",
        {"active": [True, False]},
        lambda t: not t.read(zone_by_name, "Centre", "pilot").active,
        setup=a_pilot_zone,
    ),
    # --- the pilot ----------------------------------------------------------------------
    Change(
        "switch the pilot off", "console",
        lambda t: t.post("/console/admin/pilot/switch", **{"switch-on": "0"}),
        "pilot", "pilot", "updated",
        {"on": [True, False]},
        lambda t: _pilot_is(t, on=False),
    ),
    Change(
        "offer some services only", "console",
        lambda t: t.post("/console/admin/pilot/services", **{"services-services": "voirie"}),
        "pilot", "pilot", "updated",
        {"services": [[], ["voirie"]]},
        lambda t: _pilot_rules(t).services == {"voirie"},
    ),
    Change(
        "say when it opens", "console",
        lambda t: t.post("/console/admin/pilot/opening", **{"opening-opens_on": "1er juin 2026"}),
        "pilot", "pilot", "updated",
        {"opens_on": [None, "1er juin 2026"]},
        lambda t: _pilot_rules(t).opens_on == "1er juin 2026",
    ),
    Change(
        "add an invite code", "console",
        lambda t: t.post("/console/admin/pilot/codes", **{"invite-code": "Gare",
                                                          "invite-label": "Quartier gare"}),
        "invite code", "gare", "created",
        {"active": [None, True], "label": [None, "Quartier gare"]},
        lambda t: t.read(invite_by_code, "gare") is not None,
    ),
    Change(
        "deactivate an invite code", "console",
        lambda t: t.post("/console/admin/pilot/codes/centre/deactivate"),
        "invite code", "centre", "updated",
        {"active": [True, False]},
        lambda t: not t.read(invite_by_code, "centre").active,
        setup=a_code,
    ),
    Change(
        "allow a phone number", "console",
        lambda t: t.post("/console/admin/pilot/allowlist", **{"allow-identity": "06 12 34 56 78",
                                                              "allow-label": "Mme Durand"}),
        "allowlist", "sms ••••••••••78", "created",
        {"channel": [None, "sms"], "label": [None, "Mme Durand"]},
        lambda t: t.read(allowed_entry, "sms", "+33612345678") is not None,
    ),
    Change(
        "take a number off the allowlist", "console",
        lambda t: t.post(
            f"/console/admin/pilot/allowlist/{t.read(allowed_entry, 'sms', '+33612345678').id}"
            "/remove"
        ),
        "allowlist", "sms ••••••••••78", "removed",
        {"channel": ["sms", None], "label": ["Conseil de quartier", None]},
        lambda t: t.read(allowed_entry, "sms", "+33612345678") is None,
        setup=allowed,
    ),
    Change(
        "pilot off", "cli",
        lambda t: t.run("pilot", "off"),
        "pilot", "pilot", "updated",
        {"on": [True, False]},
        lambda t: _pilot_is(t, on=False),
    ),
    Change(
        "pilot on", "cli",
        lambda t: t.run("pilot", "on"),
        "pilot", "pilot", "updated",
        {"on": [False, True]},
        lambda t: _pilot_is(t, on=True),
        setup=pilot_off,
    ),
    Change(
        "pilot services", "cli",
        lambda t: t.run("pilot", "services", "voirie", "eclairage"),
        "pilot", "pilot", "updated",
        {"services": [[], ["eclairage", "voirie"]]},
        lambda t: _pilot_rules(t).services == {"voirie", "eclairage"},
    ),
    Change(
        "pilot opens-on", "cli",
        lambda t: t.run("pilot", "opens-on", "1er juin"),
        "pilot", "pilot", "updated",
        {"opens_on": [None, "1er juin"]},
        lambda t: _pilot_rules(t).opens_on == "1er juin",
    ),
    Change(
        "pilot code add", "cli",
        lambda t: t.run("pilot", "code", "add", "Nord", "--label", "Quartier nord"),
        "invite code", "nord", "created",
        {"active": [None, True], "label": [None, "Quartier nord"]},
        lambda t: t.read(invite_by_code, "nord") is not None,
    ),
    Change(
        "pilot code off", "cli",
        lambda t: t.run("pilot", "code", "off", "CENTRE"),
        "invite code", "centre", "updated",
        {"active": [True, False]},
        lambda t: not t.read(invite_by_code, "centre").active,
        setup=a_code,
    ),
    Change(
        "pilot allow", "cli",
        lambda t: t.run("pilot", "allow", "3527065", "--label", "Yann"),
        "allowlist", "telegram •••••65", "created",
        {"channel": [None, "telegram"], "label": [None, "Yann"]},
        lambda t: t.read(allowed_entry, "telegram", "3527065") is not None,
    ),
    Change(
        "pilot disallow", "cli",
        lambda t: t.run("pilot", "disallow", "+33612345678"),
        "allowlist", "sms ••••••••••78", "removed",
        {"channel": ["sms", None], "label": ["Conseil de quartier", None]},
        lambda t: t.read(allowed_entry, "sms", "+33612345678") is None,
        setup=allowed,
    ),
    # --- Open311 API keys ---------------------------------------------------------------
    Change(
        "create an API key", "console",
        lambda t: t.post("/console/admin/api-keys", name="GMAO voirie"),
        "api key", "GMAO voirie", "created",
        {"active": [None, True], "hint": [None, ANY], "view": [None, "public"],
         "communes": [None, "all"]},
        lambda t: t.read(key_by_name, "GMAO voirie") is not None,
    ),
    Change(
        "revoke an API key", "console",
        lambda t: t.post(f"/console/admin/api-keys/{t.read(key_by_name, 'CRM voirie').id}/revoke"),
        "api key", "CRM voirie", "updated",
        {"active": [True, False]},
        lambda t: not t.read(key_by_name, "CRM voirie").active,
        setup=a_key,
    ),
    Change(
        "api-key create", "cli",
        lambda t: t.run("api-key", "create", "SIG"),
        "api key", "SIG", "created",
        {"active": [None, True], "hint": [None, ANY], "view": [None, "public"],
         "communes": [None, "all"]},
        lambda t: t.read(key_by_name, "SIG") is not None,
    ),
    Change(
        "api-key revoke", "cli",
        lambda t: t.run("api-key", "revoke", "CRM voirie"),
        "api key", "CRM voirie", "updated",
        {"active": [True, False]},
        lambda t: not t.read(key_by_name, "CRM voirie").active,
        setup=a_key,
    ),
]  # fmt: skip


def _pilot_rules(town: Town):
    town.rt.catalog.invalidate()
    with town.rt.db.reading() as session:
        return town.rt.catalog.get(session).pilot


def _pilot_is(town: Town, *, on: bool) -> bool:
    return _pilot_rules(town).on is on


def rows(town: Town) -> list[AdminChange]:
    return town.read(lambda s: admin_changes(s))


def answered(change: Change, outcome) -> None:
    """The console redirected (or showed the new key); the command succeeded."""
    if change.by == "cli":
        assert outcome.exit_code == 0, outcome.output
    else:
        assert outcome.status_code in (201, 303), outcome.get_data(as_text=True)[:2000]


@pytest.mark.parametrize("change", CHANGES, ids=[c.label for c in CHANGES])
def test_each_admin_change_writes_one_audit_row(town: Town, change: Change) -> None:
    if change.setup:
        change.setup(town)
    before = {row.id for row in rows(town)}
    answered(change, change.act(town))
    assert change.saved(town)
    (row,) = [r for r in rows(town) if r.id not in before]
    if change.by == "console":
        assert (row.actor, row.agent_id) == (ADMIN_EMAIL, town.admin_id)
    else:
        assert row.actor.startswith("command line (") and row.agent_id is None
    assert (row.thing, row.name, row.action) == (change.thing, change.name, change.action)
    assert row.changes == change.changes


@pytest.mark.parametrize("change", CHANGES, ids=[c.label for c in CHANGES])
def test_a_change_whose_audit_row_fails_is_not_saved(town: Town, change: Change) -> None:
    if change.setup:
        change.setup(town)
    with town.rt.db.engine.begin() as connection:
        connection.execute(text("DROP TABLE adminchange"))
    settings = snapshot(town)
    outcome = change.act(town)
    if change.by == "cli":
        assert isinstance(outcome.exception, DBAPIError), outcome.output
    else:
        assert outcome.status_code == 503  # the database error, rolled back
    assert snapshot(town) == settings
    assert not change.saved(town)


def snapshot(town: Town) -> dict[str, list]:
    """Every row of every settings table, to see that nothing at all was saved."""
    with town.rt.db.engine.connect() as connection:
        return {
            table: sorted(map(repr, connection.execute(text(f"SELECT * FROM {table}"))))
            for table in SETTINGS_TABLES
        }


# --- what the audit trail keeps, and shows -----------------------------------------------


def redirected(response) -> None:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def test_the_audit_trail_keeps_no_secret_and_no_full_number(town: Town) -> None:
    page = town.post("/console/admin/api-keys", name="SIG").get_data(as_text=True)
    redirected(town.post("/console/admin/pilot/allowlist", **{"allow-identity": "06 12 34 56 78"}))
    redirected(town.post(*agent_form(town, ADMIN_EMAIL, password="un tout nouveau mot")))
    stored = json.dumps([(r.name, r.changes) for r in rows(town)], ensure_ascii=False)
    assert len(rows(town)) == 3
    key = page.split('id="new-key-value">')[1].split("<")[0]
    assert key.startswith("wl_") and key not in stored
    assert "612345678" not in stored and "12 34 56" not in stored
    password_hash = town.read(agent_by_email, ADMIN_EMAIL).password_hash
    assert "un tout nouveau mot" not in stored and password_hash not in stored


def test_saving_without_a_change_writes_nothing(town: Town) -> None:
    redirected(town.post(*category_form(town, "nid-de-poule")))
    assert rows(town) == []


def test_the_audit_page_lists_the_admin_changes(town: Town) -> None:
    redirected(town.post(*category_form(town, "nid-de-poule", sla_hours="24")))
    assert town.run("pilot", "off").exit_code == 0
    page = town.client.get("/console/admin/audit").get_data(as_text=True)
    listed = page.split('id="admin-changes"')[1]
    assert "Modifications de l’administration" in listed
    newest, older = listed.split("<tr data-change=")[1:3]
    assert "ligne de commande (" in newest and "Pilote <strong>pilot</strong>" in newest
    assert "En marche\u202f: oui → non" in newest
    assert ADMIN_EMAIL in older and "Catégorie <strong>nid-de-poule</strong> (modifié)" in older
    assert "Délai (heures)\u202f: 72 → 24" in older
