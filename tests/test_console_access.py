"""Who may reach what in the console: logged out, agent of another service, agent vs admin,
CSRF, the login's rate limit and the security headers."""

from __future__ import annotations

import pytest

from models.report import report_events
from tests.helpers import (
    PASSWORD,
    admin_id,
    csrf_token,
    log_in_as,
    make_agent,
    report_by,
)

# (label, method, path, expected status, redirected to the login form)
LOGGED_OUT = [
    ("queue page", "GET", "/console/reports", 302, True),
    ("home", "GET", "/console/", 302, True),
    ("report page", "GET", "/console/reports/{n}", 302, True),
    ("map page", "GET", "/console/map", 302, True),
    ("dashboard", "GET", "/console/dashboard", 302, True),
    ("simulator", "GET", "/console/simulator", 302, True),
    ("admin", "GET", "/console/admin/agents", 302, True),
    ("map data", "GET", "/console/reports.json", 401, False),
    ("csv export", "GET", "/console/reports.csv", 401, False),
    ("status action", "POST", "/console/reports/{n}/status", 401, False),
    ("reply action", "POST", "/console/reports/{n}/reply", 401, False),
    ("simulator action", "POST", "/console/simulator/say", 401, False),
    ("zone upload", "POST", "/console/admin/zones", 401, False),
]


@pytest.mark.parametrize(
    ("label", "method", "path", "status", "to_login"), LOGGED_OUT, ids=[r[0] for r in LOGGED_OUT]
)
def test_nothing_is_reachable_logged_out(sqlite_app, label, method, path, status, to_login):
    rt = sqlite_app.extensions["webleads"]
    number = report_by(rt, "marie")
    client = sqlite_app.test_client()
    response = client.open(path.format(n=number), method=method)
    assert response.status_code == status
    if to_login:
        assert response.headers["Location"].startswith("/console/login?next=")


def test_login_page_is_public_and_has_the_two_fields(sqlite_app):
    page = sqlite_app.test_client().get("/console/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="email"' in html and 'name="password"' in html
    assert "Se connecter" in html  # French by default


def test_login_with_the_password_opens_the_queue(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    make_agent(rt, "lea@vitre.example")
    client = sqlite_app.test_client()
    token = csrf_from_login(client)
    response = client.post(
        "/console/login?next=/console/dashboard",
        data={"email": "LEA@vitre.example ", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/console/dashboard"
    assert client.get("/console/reports").status_code == 200


def test_login_never_redirects_off_the_console(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    make_agent(rt, "lea@vitre.example")
    client = sqlite_app.test_client()
    response = client.post(
        "/console/login?next=https://evil.example/",
        data={
            "email": "lea@vitre.example",
            "password": PASSWORD,
            "csrf_token": csrf_from_login(client),
        },
    )
    assert response.headers["Location"] == "/console/reports"


def csrf_from_login(client) -> str:
    import re

    html = client.get("/console/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_login_is_rate_limited_per_email_and_address(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    make_agent(rt, "lea@vitre.example")
    client = sqlite_app.test_client()
    token = csrf_from_login(client)
    for _ in range(5):
        wrong = client.post(
            "/console/login",
            data={"email": "lea@vitre.example", "password": "nope", "csrf_token": token},
        )
        assert wrong.status_code == 401
        assert "Adresse e-mail ou mot de passe incorrect." in wrong.get_data(as_text=True)
    # The right password does not help now: the sixth try is refused politely.
    blocked = client.post(
        "/console/login",
        data={"email": "lea@vitre.example", "password": PASSWORD, "csrf_token": token},
    )
    assert blocked.status_code == 429
    assert "Réessayez dans 15 minutes" in blocked.get_data(as_text=True)
    # Another address is not blocked by someone else's guesses.
    other = sqlite_app.test_client()
    response = other.post(
        "/console/login",
        data={
            "email": "lea@vitre.example",
            "password": PASSWORD,
            "csrf_token": csrf_from_login(other),
        },
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert response.status_code == 302


def test_login_form_without_csrf_is_refused(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    make_agent(rt, "lea@vitre.example")
    response = sqlite_app.test_client().post(
        "/console/login", data={"email": "lea@vitre.example", "password": PASSWORD}
    )
    assert response.status_code == 400


def test_logout_ends_the_session(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, make_agent(rt, "lea@vitre.example"))
    assert (
        client.post("/console/logout", data={"csrf_token": csrf_token(client)}).status_code == 302
    )
    assert client.get("/console/reports").status_code == 302


def test_a_deactivated_agent_is_logged_out(sqlite_app):
    from models.agent import Agent

    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    agent_id = make_agent(rt, "lea@vitre.example")
    log_in_as(client, agent_id)
    assert client.get("/console/reports").status_code == 200
    with rt.db.transaction() as session:
        session.get(Agent, agent_id).active = False
    assert client.get("/console/reports").status_code == 302


# Every action on a report of another service: (label, path, form)
ACTIONS = [
    ("status", "status", {"status-status": "acknowledged", "status-message": "Vu"}),
    ("reply", "reply", {"reply-message": "Bonjour"}),
    ("note", "note", {"note-note": "interne"}),
    ("assign", "assign", {"assign-service": "1", "assign-assignee": ""}),
    ("recategorise", "category", {"recat-category": "4"}),
    ("merge", "merge", {"merge-target": "#1001"}),
]


@pytest.fixture
def outsider(sqlite_app):
    """A report of the roads service, and a logged-in agent of the parks service."""
    rt = sqlite_app.extensions["webleads"]
    report_by(rt, "paul")
    number = report_by(rt, "marie", location=(48.1300, -1.2000))
    client = sqlite_app.test_client()
    log_in_as(client, make_agent(rt, "parcs@vitre.example", services=("espaces-verts",)))
    return rt, client, number


def test_an_agent_of_another_service_cannot_see_the_report(outsider):
    _rt, client, number = outsider
    assert client.get(f"/console/reports/{number}").status_code == 404
    queue = client.get("/console/reports?status=all").get_data(as_text=True)
    assert f"#{number}" not in queue
    assert client.get("/console/reports.json?status=all").get_json()["features"] == []
    csv = client.get("/console/reports.csv?status=all").get_data(as_text=True)
    assert csv.strip().count("\n") == 0  # the header only


@pytest.mark.parametrize(("label", "path", "form"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_an_agent_of_another_service_cannot_act_on_the_report(outsider, label, path, form):
    rt, client, number = outsider
    response = client.post(
        f"/console/reports/{number}/{path}", data={**form, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 404
    with rt.db.reading() as session:
        assert [e.kind for e in report_events(session, number)] == ["created"]


def a_report_with_a_photo(rt) -> tuple[int, int]:
    """A citizen sends a real picture with their report; returns (number, media id)."""
    import io
    import re

    from PIL import Image

    from models.report import media_of_report
    from services.media import store_photo
    from tests.helpers import TalkingCitizen

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(buffer, format="JPEG")
    photo = store_photo(buffer.getvalue(), rt.settings.MEDIA_DIR)
    marie = TalkingCitizen(rt, "marie", name="Marie")
    marie.say("bonjour")
    marie.say(choice="cat:nid-de-poule")
    marie.say("Un trou")
    marie.say(photo=photo)
    marie.say(location=(48.1246, -1.2082))
    number = int(re.search(r"#(\d+)", marie.say(choice="yes")[-1].text).group(1))
    with rt.db.reading() as session:
        return number, media_of_report(session, number)[0].id


def test_a_photo_is_served_only_to_who_may_see_its_report(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    number, media_id = a_report_with_a_photo(rt)
    roads, parks, nobody = (sqlite_app.test_client() for _ in range(3))
    log_in_as(roads, make_agent(rt, "voirie@vitre.example", services=("voirie",)))
    log_in_as(parks, make_agent(rt, "parcs@vitre.example", services=("espaces-verts",)))
    page = roads.get(f"/console/reports/{number}").get_data(as_text=True)
    assert f"/console/media/{media_id}" in page
    photo = roads.get(f"/console/media/{media_id}")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.data[:2] == b"\xff\xd8"
    assert parks.get(f"/console/media/{media_id}").status_code == 404
    assert nobody.get(f"/console/media/{media_id}").status_code == 302
    assert roads.get("/console/media/999999").status_code == 404


def test_an_agent_cannot_reach_the_admin_pages(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, make_agent(rt, "lea@vitre.example"))
    assert client.get("/console/admin/categories").status_code == 403
    assert client.get("/console/admin/agents/1").status_code == 403
    token = csrf_token(client)
    response = client.post(
        "/console/admin/services/new",
        data={"code": "x", "name_fr": "X", "name_en": "X", "csrf_token": token},
    )
    assert response.status_code == 403
    assert "Administration" not in client.get("/console/reports").get_data(as_text=True)


def test_an_action_without_its_csrf_token_is_refused(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    number = report_by(rt, "marie")
    client = sqlite_app.test_client()
    log_in_as(client, admin_id(rt))
    response = client.post(f"/console/reports/{number}/note", data={"note-note": "x"})
    assert response.status_code == 400
    response = client.post("/console/simulator/say", json={"text": "bonjour"})
    assert response.status_code == 400
    with rt.db.reading() as session:
        assert [e.kind for e in report_events(session, number)] == ["created"]


def test_console_pages_carry_the_security_headers(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, admin_id(rt))
    for path in ("/console/login", "/console/reports"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "https://tile.openstreetmap.org" in csp  # the tiles, and nothing else
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
    # Elsewhere the app's own policy, not the console's (tests/test_console_auth.py).
    assert "tile.openstreetmap.org" not in client.get("/healthz").headers["Content-Security-Policy"]


def test_the_console_speaks_english_on_request(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, admin_id(rt))
    assert "Tableau de bord" in client.get("/console/reports").get_data(as_text=True)
    client.get("/console/language/en")
    assert "Dashboard" in client.get("/console/reports").get_data(as_text=True)
