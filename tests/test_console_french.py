"""The console in French shows no English: every page, every flash, every refusal.

The English words looked for come from the product's own msgids (the console's catalog
and the bot's), less every word its French texts use too (service, photo, message...).
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.seed import seed_demo_reports
from models.catalog import category_by_code, service_by_code
from models.report import get_report
from services import reports
from tests.helpers import admin_id, csrf_token, log_in_as, make_agent

ROOT = Path(__file__).parent.parent
CATALOGS = [
    ROOT / "console/translations/fr/LC_MESSAGES/messages.po",
    ROOT / "services/translations/fr/LC_MESSAGES/messages.po",
]
# Words both languages write, and names: never a sign of English on the page.
ALLOWED = {
    "api", "csv", "ok", "sms", "telegram", "whatsapp", "open311", "geojson", "json", "wgs",
    "pdf", "png", "jpeg", "qr", "url", "sla", "id", "https", "http", "www", "email", "e",
    "mail", "p90", "a4", "a5", "admin", "agent", "agents", "simple", "code", "codes", "minute",
    "minutes", "total", "type", "format", "dev", "twilio", "bot", "stop", "menu", "flyer",
    "logo", "pilot", "normal", "graffiti", "simulation", "notes", "note", "on", "en", "a", "i",
    "s", "d", "m", "h", "n", "x",
}  # fmt: skip
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sdr]|\{[a-z_]*\}|<[^>]*>|https?://\S+|\S+@\S+")
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(PLACEHOLDER.sub(" ", text))}


def english_words() -> set[str]:
    """Distinctive English words: those of the msgids that no French msgstr uses."""
    english, french = set(), set()
    for path in CATALOGS:
        with path.open("rb") as f:
            for message in read_po(f):
                if not message.id or not message.string:
                    continue
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                english |= {w for i in ids for w in _words(i) if "'" not in w}
                french |= {w for s in strings for w in _words(s)}
    return english - french - ALLOWED


ENGLISH = english_words()


class _Visible(HTMLParser):
    """The text a user reads on the page: the text nodes, and what the browser shows of
    the attributes (titles, placeholders, labels, alt texts, buttons' values). What a field
    holds (an input's value, a text area's text) is the town's data, not the console's; nor
    is a `<code>` (an API key's random letters once read "my" as an English word)."""

    SHOWN = ("title", "placeholder", "aria-label", "alt")

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "textarea", "code"):
            self._skip += 1
        attrs = dict(attrs)
        self.parts += [attrs[a] for a in self.SHOWN if attrs.get(a)]
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "textarea", "code"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def english_in(text: str) -> list[str]:
    return sorted(_words(text) & ENGLISH)


def visible(response) -> str:
    body = response.get_data(as_text=True)
    kind = response.mimetype
    if kind == "text/html":
        parser = _Visible()
        parser.feed(body)
        return "\n".join(parser.parts)
    if kind in ("text/csv", "text/tab-separated-values"):
        return body.splitlines()[0] if body else ""  # the column names
    return body


@pytest.fixture
def town(sqlite_app):
    """The demo town with its demo reports (one merged into another, as in the review),
    an admin and a roads agent logged in on two clients."""
    rt = sqlite_app.extensions["webleads"]
    with rt.db.transaction() as session:
        seed_demo_reports(session)
    with rt.db.transaction() as session:
        numbers = sorted(r.id for r in _open_reports(session))
        merged, into = numbers[-1], numbers[-2]
        reports.change_status(session, merged, "duplicate", message="Même trou.", duplicate_of=into)
    admin = sqlite_app.test_client()
    log_in_as(admin, admin_id(rt))
    agent = sqlite_app.test_client()
    log_in_as(agent, make_agent(rt, "lea@vitre.example", name="Léa Martin"))
    return rt, admin, agent, merged, into


def _open_reports(session):
    from sqlmodel import select

    from models.report import Report

    roads = service_by_code(session, "voirie").id
    return session.exec(
        select(Report).where(Report.service_id == roads, Report.status.in_(("new", "acknowledged")))
    ).all()


def _fill(rule: str, ids: dict) -> str | None:
    path = rule
    for name in re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule):
        if name not in ids:
            return None
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(ids[name]), path)
    return path


def _pages(app, ids: dict) -> list[str]:
    """Every GET page of the console, its ids filled from the seeded data."""
    skip = {"console.static", "console.language", "console.media", "console.login"}
    paths = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or "GET" not in rule.methods:
            continue
        if rule.endpoint in skip or rule.rule.endswith((".pdf", ".json")):
            continue
        if rule.endpoint == "console.admin_audit_csv":
            paths.append(rule.rule + "?since=2026-01-01&until=2026-12-31")
            continue
        if "<section>" in rule.rule:
            for section in ids["sections"]:
                path = _fill(rule.rule, {**ids, "section": section})
                paths += [path] if path else []
            continue
        path = _fill(rule.rule, ids)
        assert path is not None, f"no id to fill {rule.rule}"
        paths.append(path)
    return sorted(set(paths))


def _ids(rt, admin_client, merged: int, into: int) -> dict:
    from console.admin import SECTIONS

    with rt.db.reading() as session:
        roads = service_by_code(session, "voirie").id
        pothole = category_by_code(session, "nid-de-poule").id
    return {
        "number": into,
        "agent_id": admin_id(rt),
        "item_id": None,
        "sections": list(SECTIONS),
        "service": roads,
        "category": pothole,
        "merged": merged,
    }


def test_every_console_page_is_in_french(town):
    rt, admin, agent, merged, into = town
    ids = _ids(rt, admin, merged, into)
    found = {}
    for client in (admin, agent):
        for path in [
            *_pages(admin.application, ids),
            f"/console/reports/{merged}",
            "/console/admin/services/new",
            "/console/admin/categories/new",
            "/console/admin/agents/new",
            "/console/admin/templates/new",
            f"/console/admin/services/{ids['service']}",
            f"/console/admin/categories/{ids['category']}",
            "/console/reports?status=closed",
            "/console/reports?overdue=1",
        ]:
            response = client.get(path, follow_redirects=True)
            assert response.status_code in (200, 403, 404), path
            if response.status_code == 200 and english_in(visible(response)):
                found[path] = english_in(visible(response))
    assert not found, json.dumps(found, indent=1, ensure_ascii=False)


def _post(client, path, **form):
    response = client.post(
        path, data={**form, "csrf_token": csrf_token(client)}, follow_redirects=True
    )
    return visible(response)


def report_actions(number: int, merged: int, ids: dict) -> list[tuple[str, dict]]:
    """Each action of the report page, with good input and with bad."""
    base = f"/console/reports/{number}"
    return [
        (f"{base}/status", {"status-status": "acknowledged", "status-message": "Vu."}),
        (f"{base}/status", {"status-status": "new"}),
        (f"{base}/status", {"status-status": "closed"}),
        (f"{base}/status", {"status-status": "nowhere"}),
        (f"{base}/status", {}),
        (f"{base}/reply", {"reply-message": "Une équipe passe demain."}),
        (f"{base}/reply", {"reply-message": "  "}),
        (f"{base}/note", {"note-note": "Rappeler le riverain."}),
        (f"{base}/note", {"note-note": ""}),
        (f"{base}/assign", {"assign-service": str(ids["service"]), "assign-assignee": ""}),
        (f"{base}/assign", {"assign-service": "999999", "assign-assignee": ""}),
        (f"{base}/assign", {"assign-service": str(ids["service"]), "assign-assignee": "999999"}),
        (f"{base}/category", {"recat-category": str(ids["category"])}),
        (f"{base}/category", {"recat-category": "999999"}),
        (f"{base}/merge", {"merge-target": str(merged), "merge-message": "Même problème."}),
        (f"{base}/merge", {"merge-target": str(number), "merge-message": "Même problème."}),
        (f"{base}/merge", {"merge-target": "999999", "merge-message": "Même problème."}),
        (f"{base}/merge", {"merge-target": "abc", "merge-message": "Même problème."}),
        (f"{base}/merge", {"merge-target": ""}),
        (f"{base}/public", {"action": "publish"}),
        (f"{base}/public", {"action": "redact", "public-text": ""}),
        (f"{base}/public", {"action": "redact", "public-text": "Un trou dans la chaussée."}),
        (f"{base}/public", {"action": "approve:999999"}),
        (f"{base}/public", {"action": "withhold"}),
        (f"{base}/public", {"action": "hide"}),
        (f"{base}/public", {"action": "nothing"}),
        (f"{base}/status", {"status-status": "resolved", "status-message": "Rebouché."}),
        (f"{base}/status", {"status-status": "resolved", "status-message": "Rebouché."}),
        (f"{base}/category", {"recat-category": str(ids["category"])}),
        ("/console/messages/999999/retry", {}),
        ("/console/phone/code", {}),
        ("/console/phone/unlink", {}),
    ]


def admin_actions() -> list[tuple[str, dict]]:
    geojson = json.dumps(
        {
            "type": "Polygon",
            "coordinates": [[[-1.23, 48.11], [-1.18, 48.11], [-1.18, 48.14], [-1.23, 48.11]]],
        }
    )
    actions = [(f"/console/admin/{s}/new", {}) for s in ("services", "categories", "agents")]
    return [
        *actions,
        ("/console/admin/templates/new", {"title": "", "body": ""}),
        ("/console/admin/services/new", {"code": "voirie", "name_fr": "Voirie", "name_en": "R"}),
        ("/console/admin/agents/new", {"email": "pas-un-courriel", "role": "agent"}),
        ("/console/admin/api-keys", {}),
        ("/console/admin/api-keys", {"name": "Portail"}),
        ("/console/admin/api-keys/999999/revoke", {}),
        ("/console/admin/pilot/switch", {"switch-on": "1"}),
        ("/console/admin/pilot/switch", {"switch-on": "2"}),
        ("/console/admin/pilot/switch", {"switch-on": "0"}),
        ("/console/admin/pilot/services", {}),
        ("/console/admin/pilot/opening", {"opening-opens_on": "demain"}),
        ("/console/admin/pilot/opening", {"opening-opens_on": "2026-12-24"}),
        ("/console/admin/pilot/codes", {"invite-code": ""}),
        ("/console/admin/pilot/codes", {"invite-code": "quartier-gare", "invite-label": "Gare"}),
        ("/console/admin/pilot/codes", {"invite-code": "quartier-gare"}),
        ("/console/admin/pilot/codes/inconnu/deactivate", {}),
        ("/console/admin/pilot/allowlist", {"allow-identity": "n'importe quoi"}),
        ("/console/admin/pilot/allowlist", {"allow-identity": "+33612345678"}),
        ("/console/admin/pilot/allowlist/999999/remove", {}),
        ("/console/admin/zones", {"name": "Centre", "kind": "pilot"}),
        (
            "/console/admin/zones",
            {"name": "Centre", "kind": "pilot", "geojson": (io.BytesIO(b"{}"), "z.geojson")},
        ),
        (
            "/console/admin/zones",
            {
                "name": "Centre",
                "kind": "pilot",
                "geojson": (io.BytesIO(geojson.encode()), "z.geojson"),
            },
        ),
        ("/console/admin/zones/999999/toggle", {}),
        ("/console/admin/launch-kit/logo", {}),
        ("/console/admin/launch-kit/logo", {"logo": (io.BytesIO(b"not a picture"), "logo.png")}),
    ]


def test_every_flash_and_refusal_is_in_french(town):
    rt, admin, agent, merged, into = town
    ids = _ids(rt, admin, merged, into)
    found = {}
    for client, actions in (
        (agent, report_actions(into, merged, ids)),
        (admin, report_actions(into - 1, merged, ids) + admin_actions()),
    ):
        for path, form in actions:
            words = english_in(_post(client, path, **form))
            if words:
                found[f"{path} {form}"] = words
    assert not found, json.dumps(found, indent=1, ensure_ascii=False, default=str)


def test_the_known_english_refusals_now_read_in_french(town):
    """The review's two: a merge into a report itself merged, a category it already has."""
    rt, _admin, agent, merged, into = town
    with rt.db.reading() as session:
        category = get_report(session, into).category_id
    page = _post(agent, f"/console/reports/{into}/category", **{"recat-category": str(category)})
    assert f"Le signalement #{into} est déjà dans cette catégorie." in page
    page = _post(
        agent,
        f"/console/reports/{into}/merge",
        **{"merge-target": str(merged), "merge-message": "x"},
    )
    assert f"#{merged} est lui-même fusionné avec #{into}." in page
    assert "merged into" not in page and "already in that category" not in page


def test_the_word_list_holds_english_and_not_french():
    assert {"already", "merged", "into", "category", "status", "the", "report"} <= ENGLISH
    assert not {"service", "photo", "message", "description", "public"} & ENGLISH
