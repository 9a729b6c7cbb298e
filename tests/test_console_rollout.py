"""Admin pages of the rollout: the pilot, Open311 API keys, the launch kit, the audit log."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pypdfium2 as pdfium
import pytest
import zxingcpp

from app.factory import create_app
from models.api_key import all_keys, check_key
from models.db import utcnow
from models.pilot import all_allowed, invite_by_code
from tests.conftest import base_config
from tests.helpers import TalkingCitizen, admin_id, csrf_token, log_in_as, make_agent, report_by

BOT_NAME = "VitreBot"
TOWN_NUMBER = "+33612345678"

# Every new admin page (GET) and action (POST, with a form that would pass).
PAGES = [
    "/console/admin/pilot",
    "/console/admin/api-keys",
    "/console/admin/launch-kit",
    "/console/admin/launch-kit/poster.pdf",
    "/console/admin/audit",
]
ACTIONS = [
    ("pilot off", "/console/admin/pilot/switch", {"switch-on": "0"}),
    ("pilot services", "/console/admin/pilot/services", {"services-services": "voirie"}),
    ("opening date", "/console/admin/pilot/opening", {"opening-opens_on": "1er juin"}),
    ("add code", "/console/admin/pilot/codes", {"invite-code": "gare"}),
    ("deactivate code", "/console/admin/pilot/codes/gare/deactivate", {}),
    ("allow", "/console/admin/pilot/allowlist", {"allow-identity": "0612345678"}),
    ("disallow", "/console/admin/pilot/allowlist/1/remove", {}),
    ("create key", "/console/admin/api-keys", {"name": "GMAO"}),
    ("revoke key", "/console/admin/api-keys/1/revoke", {}),
]
ACTION_IDS = [a[0] for a in ACTIONS]


@pytest.fixture
def town_app(database_url, tmp_path):
    """The app on each backend, with the bot's Telegram name and the town's SMS number."""
    app = create_app(
        {
            **base_config(database_url, tmp_path),
            "TELEGRAM_BOT_USERNAME": BOT_NAME,
            "TWILIO_FROM_NUMBER": TOWN_NUMBER,
        }
    )
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def admin(town_app):
    rt = town_app.extensions["webleads"]
    client = town_app.test_client()
    log_in_as(client, admin_id(rt))
    return rt, client


def post(client, path, **form):
    return client.post(path, data={**form, "csrf_token": csrf_token(client)})


def page_text(client, path: str) -> str:
    return client.get(path).get_data(as_text=True)


def pilot_rules(rt):
    with rt.db.reading() as session:
        return rt.catalog.get(session).pilot


# --- access ----------------------------------------------------------------------------


def test_the_new_pages_are_in_the_admin_tabs(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, admin_id(rt))
    tabs = page_text(client, "/console/admin/categories")
    for label, path in [
        ("Pilote", "/console/admin/pilot"),
        ("Kit de lancement", "/console/admin/launch-kit"),
        ("Clés API Open311", "/console/admin/api-keys"),
        ("Journal d’audit", "/console/admin/audit"),
        ("Messages non remis", "/console/messages"),
    ]:
        assert re.search(rf'href="{path}"[^>]*>{label}</a>', tabs), label
    pilot = page_text(client, "/console/admin/pilot")
    assert 'class="tab active" href="/console/admin/pilot"' in pilot


@pytest.mark.parametrize("path", PAGES)
def test_logged_out_the_pages_lead_to_the_login(sqlite_app, path):
    response = sqlite_app.test_client().get(path)
    assert response.status_code == 302
    assert "/console/login" in response.headers["Location"]


def test_logged_out_the_audit_export_and_the_actions_answer_401(sqlite_app):
    client = sqlite_app.test_client()
    assert client.get("/console/admin/audit.csv").status_code == 401
    for _label, path, form in ACTIONS:
        assert client.post(path, data=form).status_code == 401, path


def test_an_agent_is_refused_every_page_and_action(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, make_agent(rt, "lea@vitre.example"))
    for path in [*PAGES, "/console/admin/audit.csv?since=2026-01-01&until=2026-12-31"]:
        assert client.get(path).status_code == 403, path
    token = csrf_token(client)
    for _label, path, form in ACTIONS:
        assert client.post(path, data={**form, "csrf_token": token}).status_code == 403, path
    with rt.db.reading() as session:
        assert all_keys(session) == [] and invite_by_code(session, "gare") is None
    assert pilot_rules(rt).on


@pytest.mark.parametrize(("label", "path", "form"), ACTIONS, ids=ACTION_IDS)
def test_an_action_without_its_csrf_token_is_refused(sqlite_app, label, path, form):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, admin_id(rt))
    assert client.post(path, data=form).status_code == 400
    rules = pilot_rules(rt)
    assert rules.on and not rules.services and not rules.codes and not rules.opens_on
    with rt.db.reading() as session:
        assert all_keys(session) == [] and all_allowed(session) == []


# --- the pilot -------------------------------------------------------------------------


def test_the_pilot_is_turned_off_and_on_at_once(admin):
    rt, client = admin
    assert pilot_rules(rt).on  # the bot's cache is warm: the change must reload it
    response = post(client, "/console/admin/pilot/switch", **{"switch-on": "0"})
    assert response.status_code == 303
    assert not pilot_rules(rt).on
    page = page_text(client, "/console/admin/pilot")
    assert "Le pilote est arrêté\u202f: le service est ouvert à tous." in page
    assert "Arrêté\u202f: le service est ouvert à tous." in page
    assert "Mettre le pilote en marche" in page
    post(client, "/console/admin/pilot/switch", **{"switch-on": "1"})
    assert pilot_rules(rt).on
    assert post(client, "/console/admin/pilot/switch", **{"switch-on": "maybe"}).status_code == 400


def test_services_and_opening_date_of_the_pilot(admin):
    rt, client = admin
    post(client, "/console/admin/pilot/services", **{"services-services": ["voirie", "proprete"]})
    post(client, "/console/admin/pilot/opening", **{"opening-opens_on": "1er juin 2026"})
    rules = pilot_rules(rt)
    assert rules.services == {"voirie", "proprete"} and rules.opens_on == "1er juin 2026"
    page = page_text(client, "/console/admin/pilot")
    assert "<dt>Services</dt><dd>Propreté, Voirie</dd>" in page
    assert "<dt>Ouverture à tous</dt><dd>1er juin 2026</dd>" in page
    assert re.search(r'value="voirie"[^>]*checked|checked[^>]*value="voirie"', page)
    # The bot offers only those services' categories now.
    menu = TalkingCitizen(rt, "zoe").say("bonjour")[-1]
    assert any(value == "cat:nid-de-poule" for value, _ in menu.choices)
    assert not any(value == "cat:lampadaire" for value, _ in menu.choices)
    response = post(client, "/console/admin/pilot/services", **{"services-services": "piscine"})
    assert response.status_code == 400
    post(client, "/console/admin/pilot/services")  # none ticked: every service
    assert pilot_rules(rt).services == frozenset()


def test_an_invite_code_lets_a_resident_in_and_the_demand_is_counted(admin):
    rt, client = admin
    response = post(
        client,
        "/console/admin/pilot/codes",
        **{"invite-code": "Quartier-Gare", "invite-label": "Réunion"},
    )
    assert response.status_code == 303
    with rt.db.reading() as session:
        invite = invite_by_code(session, "quartier-gare")
    assert (invite.active, invite.label) == (True, "Réunion")
    page = page_text(client, "/console/admin/pilot")
    assert f"https://t.me/{BOT_NAME}?start=quartier-gare" in page
    assert f"sms:{TOWN_NUMBER}?body=QUARTIER-GARE" in page  # the SMS prepared with the code
    assert "Seulement les habitants avec un code d’invitation" in page

    zoe = TalkingCitizen(rt, "zoe", name="Zoé")
    assert "premier groupe d’habitants" in zoe.texts("bonjour")  # refused, and counted
    assert "Votre invitation est acceptée" in zoe.texts("quartier-gare")
    page = page_text(client, "/console/admin/pilot?days=7")
    demand = page.split('id="demand-table"')[1].split("</table>")[0]
    assert "Pas invité" in demand and "Simulateur" in demand
    assert re.search(r'<td class="num">1</td>', demand)
    admitted = page.split('id="admitted-table"')[1].split("</table>")[0]
    assert "Code d’invitation quartier-gare" in admitted

    post(client, "/console/admin/pilot/codes/quartier-gare/deactivate")
    with rt.db.reading() as session:
        assert not invite_by_code(session, "quartier-gare").active
    assert pilot_rules(rt).codes == frozenset()
    response = post(client, "/console/admin/pilot/codes/nowhere/deactivate")
    assert response.status_code == 303  # the PilotError comes back as a message
    refusal = "Aucun code d’invitation «\u202fnowhere\u202f»."
    assert refusal in page_text(client, "/console/admin/pilot")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ab", "De 3 à 32 lettres, chiffres"),
        ("12345", "De 3 à 32 lettres, chiffres"),
        ("bonjour à tous", "De 3 à 32 lettres, chiffres"),
        ("stop", "Le bot comprend déjà ce mot"),
        ("", "Ce champ est requis"),
    ],
)
def test_an_unusable_invite_code_is_refused_in_the_form(sqlite_app, code, error):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, admin_id(rt))
    response = post(client, "/console/admin/pilot/codes", **{"invite-code": code})
    assert response.status_code == 400
    form = response.get_data(as_text=True).split('id="invite-form"')[1].split("</form>")[0]
    assert error in form
    assert pilot_rules(rt).codes == frozenset()


def test_the_allowlist_takes_numbers_and_telegram_users(admin):
    rt, client = admin
    post(
        client,
        "/console/admin/pilot/allowlist",
        **{"allow-identity": "06 12 34 56 78", "allow-label": "Mme Durand"},
    )
    post(client, "/console/admin/pilot/allowlist", **{"allow-identity": "352706512"})
    with rt.db.reading() as session:
        entries = {(a.channel, a.address): a for a in all_allowed(session)}
    assert set(entries) == {("sms", "+33612345678"), ("telegram", "352706512")}
    page = page_text(client, "/console/admin/pilot")
    allowlist = page.split('id="pilot-allowlist"')[1].split("</table>")[0]
    assert "+33 6 ** ** ** 78" in allowlist and "Mme Durand" in allowlist
    assert "612345678" not in allowlist  # the number stays masked
    response = post(client, "/console/admin/pilot/allowlist", **{"allow-identity": "bonjour"})
    assert response.status_code == 400
    refused = response.get_data(as_text=True)
    assert "Ni un numéro de téléphone, ni un identifiant, ni une adresse de" in refused
    entry = entries[("sms", "+33612345678")]
    post(client, f"/console/admin/pilot/allowlist/{entry.id}/remove")
    with rt.db.reading() as session:
        assert [(a.channel, a.address) for a in all_allowed(session)] == [("telegram", "352706512")]
    assert post(client, "/console/admin/pilot/allowlist/999999/remove").status_code == 404


# --- Open311 API keys ------------------------------------------------------------------


def test_an_api_key_is_shown_once_and_works_until_revoked(admin):
    rt, client = admin
    response = post(client, "/console/admin/api-keys", name="GMAO voirie")
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    key = re.search(r'id="new-key-value">(wl_[\w-]+)<', page).group(1)
    assert "Copiez-la maintenant\u202f: elle ne sera plus jamais affichée." in page
    with rt.db.transaction() as session:
        assert check_key(session, key).name == "GMAO voirie"
    listing = page_text(client, "/console/admin/api-keys")
    assert key not in listing and key[:9] in listing  # only the hint, from now on
    duplicate = post(client, "/console/admin/api-keys", name="GMAO voirie")
    assert duplicate.status_code == 400
    assert "Une clé porte déjà ce nom." in duplicate.get_data(as_text=True)
    assert post(client, "/console/admin/api-keys", name="  ").status_code == 400
    with rt.db.reading() as session:
        (row,) = all_keys(session)
    post(client, f"/console/admin/api-keys/{row.id}/revoke")
    with rt.db.transaction() as session:
        assert check_key(session, key) is None
    assert "révoquée le" in page_text(client, "/console/admin/api-keys")
    assert post(client, "/console/admin/api-keys/999999/revoke").status_code == 404


# --- the launch kit --------------------------------------------------------------------


def qr_codes(pdf: bytes) -> list[str]:
    """Renders the PDF's pages and decodes their QR codes."""
    document = pdfium.PdfDocument(pdf)
    try:
        return sorted(
            r.text
            for page in document
            for r in zxingcpp.read_barcodes(page.render(scale=2).to_pil())
        )
    finally:
        document.close()


@pytest.mark.parametrize(
    ("document", "filename"),
    [
        ("poster", "affiche-A4-vitre.pdf"),
        ("flyer", "flyer-A5-vitre.pdf"),
        ("guide", "guide-agents-vitre.pdf"),
    ],
)
def test_the_launch_kit_downloads_are_pdfs(admin, document, filename):
    _rt, client = admin
    page = page_text(client, "/console/admin/launch-kit")
    assert f"/console/admin/launch-kit/{document}.pdf" in page
    response = client.get(f"/console/admin/launch-kit/{document}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"] == f"attachment; filename={filename}"


def test_the_poster_carries_the_chosen_invite_code(admin):
    _rt, client = admin
    post(client, "/console/admin/pilot/codes", **{"invite-code": "gare"})
    post(client, "/console/admin/pilot/codes", **{"invite-code": "chateau"})
    page = page_text(client, "/console/admin/launch-kit?code=chateau")
    assert f"https://t.me/{BOT_NAME}?start=chateau" in page
    response = client.get("/console/admin/launch-kit/poster.pdf?code=chateau")
    assert response.headers["Content-Disposition"].endswith("affiche-A4-vitre-chateau.pdf")
    assert qr_codes(response.data) == sorted(
        [
            f"https://t.me/{BOT_NAME}?start=chateau",
            f"sms:{TOWN_NUMBER}?body=Bonjour",
            "https://webleads.example.org/reports",  # the public site's
        ]
    )
    # Without a choice, the pilot's first code while invitations are needed.
    automatic = client.get("/console/admin/launch-kit/flyer.pdf")
    assert f"https://t.me/{BOT_NAME}?start=gare" in qr_codes(automatic.data)
    assert client.get("/console/admin/launch-kit/poster.pdf?code=nope").status_code == 404
    assert client.get("/console/admin/launch-kit/leaflet.pdf").status_code == 404


def test_without_a_channel_the_launch_kit_says_what_is_missing(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, admin_id(rt))
    assert "Rien à imprimer pour l’instant" in page_text(client, "/console/admin/launch-kit")
    response = client.get("/console/admin/launch-kit/poster.pdf")
    assert response.status_code == 303
    assert "Le kit de lancement ne peut pas être créé" in page_text(
        client, response.headers["Location"]
    )


# --- the audit log ---------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # for spreadsheets
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_the_audit_log_exports_the_agents_actions(admin):
    rt, client = admin
    number = report_by(rt, "marie")
    post(
        client,
        f"/console/reports/{number}/status",
        **{"status-status": "acknowledged", "status-message": "Vu, merci."},
    )
    post(client, f"/console/reports/{number}/note", **{"note-note": "=cmd|calc"})
    page = page_text(client, "/console/admin/audit")
    today = utcnow().date()
    assert 'type="date"' in page and 'action="/console/admin/audit.csv"' in page
    since, until = (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()
    response = client.get(f"/console/admin/audit.csv?since={since}&until={until}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    header, *rows = read_csv(response)
    assert header == [
        "Quand", "Agent", "Signalement", "Action", "Statut de départ", "Nouveau statut",
        "Message public", "Note interne",
    ]  # fmt: skip
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("admin@vitre.example", f"#{number}", "status"),
        ("admin@vitre.example", f"#{number}", "note"),
    ]
    assert rows[0][4:7] == ["new", "acknowledged", "Vu, merci."]
    assert rows[1][7] == "'=cmd|calc"  # a formula is defused
    later = (today + timedelta(days=2)).isoformat()
    empty = client.get(f"/console/admin/audit.csv?since={later}&until={later}")
    assert read_csv(empty) == [header]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("since=2026-03-10&until=2026-03-01", "La fin précède le début."),
        ("since=&until=2026-03-01", "Ce champ est requis"),
        ("since=hier&until=2026-03-01", "date"),
    ],
)
def test_the_audit_period_is_validated(sqlite_app, query, error):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, admin_id(rt))
    response = client.get(f"/console/admin/audit.csv?{query}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert error in response.get_data(as_text=True)
