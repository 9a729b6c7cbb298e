"""Admin pages: services, categories, agents, templates, zones, through forms with validation."""

from __future__ import annotations

import io
import json

import pytest

from models.agent import agent_by_email, services_of_agent
from models.catalog import category_by_code, service_by_code
from models.console import all_templates
from models.zone import all_zones
from services.security import verify_password
from tests.helpers import admin_id, csrf_token, log_in_as


@pytest.fixture
def admin(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, admin_id(rt))
    return rt, client


def post(client, path, **form):
    return client.post(path, data={**form, "csrf_token": csrf_token(client)})


def test_a_new_category_reaches_the_bot_menu_at_once(admin):
    rt, client = admin
    with rt.db.reading() as session:
        rt.catalog.get(session)  # warm the bot's cache
        roads = service_by_code(session, "voirie").id
    response = post(
        client,
        "/console/admin/categories/new",
        code="banc",
        name_fr="Banc cassé",
        name_en="Broken bench",
        service_id=str(roads),
        kind="problem",
        sla_hours="96",
        photo_required="y",
        active="y",
    )
    assert response.status_code == 303
    with rt.db.reading() as session:
        category = category_by_code(session, "banc")
        assert (category.sla_hours, category.photo_required) == (96, True)
        assert "banc" in rt.catalog.get(session).by_code
    post(
        client,
        f"/console/admin/categories/{category.id}",
        code="banc",
        name_fr="Banc public cassé",
        name_en="Broken bench",
        service_id=str(roads),
        kind="problem",
        sla_hours="96",
    )  # "active" left unticked: the category leaves the menu
    with rt.db.reading() as session:
        assert category_by_code(session, "banc").name_fr == "Banc public cassé"
        assert "banc" not in rt.catalog.get(session).by_code


@pytest.mark.parametrize(
    ("label", "changes", "error"),
    [
        ("zero SLA", {"sla_hours": "0"}, "compris entre 1 et 8760"),
        ("bad code", {"code": "Banc Cassé"}, "Minuscules, chiffres et tirets."),
        ("taken code", {"code": "graffiti"}, "déjà utilisé"),
        ("no name", {"name_fr": ""}, "Ce champ est requis"),
    ],
)
def test_category_form_validation(admin, label, changes, error):
    rt, client = admin
    form = {
        "code": "banc",
        "name_fr": "Banc",
        "name_en": "Bench",
        "service_id": "1",
        "kind": "problem",
        "sla_hours": "72",
        **changes,
    }
    response = post(client, "/console/admin/categories/new", **form)
    page = response.get_data(as_text=True)
    if response.status_code == 303:  # an error found on saving comes back as a message
        page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert error in page
    with rt.db.reading() as session:
        assert category_by_code(session, "banc") is None


def test_services_are_created_and_listed(admin):
    rt, client = admin
    post(
        client,
        "/console/admin/services/new",
        code="eau",
        name_fr="Eau",
        name_en="Water",
        active="y",
    )
    assert "Eau" in client.get("/console/admin/services").get_data(as_text=True)
    with rt.db.reading() as session:
        assert service_by_code(session, "eau").active


def test_agents_are_created_with_their_services_and_deactivated(admin):
    rt, client = admin
    with rt.db.reading() as session:
        parks = service_by_code(session, "espaces-verts").id
    post(
        client,
        "/console/admin/agents/new",
        email="Jardin@vitre.example",
        name="Jules",
        role="agent",
        services=str(parks),
        password="pelouse-2026!",
        active="y",
    )
    with rt.db.reading() as session:
        jules = agent_by_email(session, "jardin@vitre.example")
        assert verify_password(jules.password_hash, "pelouse-2026!")
        assert services_of_agent(session, jules.id) == [parks]
    post(
        client,
        f"/console/admin/agents/{jules.id}",
        email="jardin@vitre.example",
        name="Jules",
        role="agent",
        services=str(parks),
    )  # not "active"
    with rt.db.reading() as session:
        jules = agent_by_email(session, "jardin@vitre.example")
        assert not jules.active and verify_password(jules.password_hash, "pelouse-2026!")


def test_an_agent_needs_a_password_and_an_admin_keeps_their_role(admin):
    rt, client = admin
    response = post(client, "/console/admin/agents/new", email="x@vitre.example", role="agent")
    assert (
        "Un nouvel agent a besoin d’un mot de passe."
        in client.get(
            response.headers["Location"] if response.status_code == 303 else "/console/admin/agents"
        ).get_data(as_text=True)
        or response.status_code == 400
    )
    with rt.db.reading() as session:
        assert agent_by_email(session, "x@vitre.example") is None
    me = admin_id(rt)
    post(
        client, f"/console/admin/agents/{me}", email="admin@vitre.example", role="agent", active="y"
    )
    with rt.db.reading() as session:
        assert agent_by_email(session, "admin@vitre.example").role == "admin"


def test_response_templates_check_their_placeholders(admin):
    rt, client = admin
    bad = post(
        client,
        "/console/admin/templates/new",
        title="Erreur",
        status="",
        category_id="",
        body="Bonjour {nom}",
        active="y",
    )
    assert bad.status_code == 400 and "Champ(s) inconnu(s)\u202f: nom" in bad.get_data(as_text=True)
    post(
        client,
        "/console/admin/templates/new",
        title="Pris en compte",
        status="acknowledged",
        category_id="",
        body="Bonjour {name}, le service {service} a bien reçu {ref}.",
        active="y",
    )
    with rt.db.reading() as session:
        (template,) = all_templates(session)
    assert (template.status, template.category_id) == ("acknowledged", None)


SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[-1.22, 48.11], [-1.19, 48.11], [-1.19, 48.14], [-1.22, 48.14], [-1.22, 48.11]]
    ],
}
BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[-1.22, 48.11], [-1.19, 48.14], [-1.19, 48.11], [-1.22, 48.14], [-1.22, 48.11]]
    ],
}


def upload(client, name: str, content: bytes, kind: str = "pilot"):
    return client.post(
        "/console/admin/zones",
        data={
            "csrf_token": csrf_token(client),
            "name": name,
            "kind": kind,
            "geojson": (io.BytesIO(content), "zone.geojson"),
        },
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    ("label", "content", "error"),
    [
        ("self-intersecting", json.dumps(BOWTIE).encode(), "n’est pas valide"),
        (
            "a point",
            b'{"type": "Point", "coordinates": [-1.2, 48.1]}',
            "Polygon ou un MultiPolygon",
        ),
        ("not json", b"<kml/>", "Ce n’est pas un fichier JSON."),
        (
            "lat/lon swapped",
            json.dumps(
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[48.11, -1.22], [48.14, -1.22], [48.14, 191.0], [48.11, -1.22]]
                    ],
                }
            ).encode(),
            "longitude, latitude",
        ),
    ],
)
def test_zone_upload_refuses_what_is_not_a_polygon(admin, label, content, error):
    rt, client = admin
    before = len(_zones(rt))
    response = upload(client, "Mauvaise", content)
    assert response.status_code == 400 and error in response.get_data(as_text=True)
    assert len(_zones(rt)) == before


def _zones(rt):
    with rt.db.reading() as session:
        return all_zones(session)


def test_zone_upload_stores_the_polygon(admin):
    rt, client = admin
    feature = {"type": "Feature", "properties": {}, "geometry": SQUARE}
    response = upload(client, "Centre-ville", json.dumps(feature).encode())
    assert response.status_code == 303
    zone = next(z for z in _zones(rt) if z.name == "Centre-ville")
    assert (zone.kind, zone.geometry["type"], zone.active) == ("pilot", "Polygon", True)
    post(client, f"/console/admin/zones/{zone.id}/toggle")
    assert not next(z for z in _zones(rt) if z.name == "Centre-ville").active
    assert "Centre-ville" in client.get("/console/admin/zones").get_data(as_text=True)
