"""The public view of a report, and Open311's keyless reads made of it: reports full of
personal data go in through the real conversation, the console and the status function;
no name, number, chat id or typed address comes out of any keyless Open311 answer."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest

from app.cli import cli
from app.factory import create_app
from models.api_key import KeyView, create_key
from models.catalog import category_by_code
from models.citizen import Citizen
from models.console import ResponseTemplate
from models.db import utcnow
from models.report import Report, get_report
from services import crew_links, feedback, links, moderation, reports
from services.public_view import Redaction, public_label, public_report, street_of
from tests.conftest import base_config
from tests.helpers import TalkingCitizen, admin_id, csrf_token, log_in_as, make_agent

BASE = "/open311/v2"
HUGO, HUGO_CHAT = "Hugo Lemoine", "3527065"
SOPHIE, SOPHIE_CHAT = "Sophie Marchand", "8811223344"
HUGO_PHONE = "+33612345678"
TYPED = "chez Hugo Lemoine 06 12 34 56 78"  # by SMS, never placed by a geocoder
TEMPLATE = (
    "Bonjour {name}, votre signalement {ref} ({category}, {address}) est pris en charge "
    "par le service {service}."
)
# What must never come out of a keyless read: words (any case) and numbers (any spacing).
WORDS = ["Hugo", "Lemoine", "Sophie", "Marchand", HUGO_CHAT, SOPHIE_CHAT, "hugo.lemoine@",
         "chez Hugo", "appelez-moi"]  # fmt: skip
NUMBERS = ["612345678", "711223344", HUGO_CHAT, SOPHIE_CHAT]
DIGIT_RUNS = re.compile(r"\+?\d[\d .-]*\d")


def leaks(body: str) -> list[str]:
    """The personal data found in a response body."""
    text = html.unescape(body)
    found = [word for word in WORDS if word.lower() in text.lower()]
    runs = [re.sub(r"\D", "", run) for run in DIGIT_RUNS.findall(text)]
    found += [n for n in NUMBERS if any(n in run for run in runs)]
    return found


def console_note_with_template(client, number: int) -> str:
    """Writes the response template, filled as the console's page offers it, as a public
    note (what the public page shows of the agents' words besides a status change)."""
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    data = re.search(r'<script type="application/json" id="templates-data">(.*?)</script>', page)
    body = next(t["body"] for t in json.loads(data.group(1)) if t["title"] == "Pris en charge")
    response = client.post(
        f"/console/reports/{number}/public-note",
        data={"pubnote-text": body, "action": "publish", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 303
    return body


@pytest.fixture
def town(app):
    """Three reports whose every text names someone; returns their numbers."""
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        session.add(ResponseTemplate(title="Pris en charge", body=TEMPLATE))
    hugo = TalkingCitizen(rt, HUGO_CHAT, channel="telegram", name=HUGO)
    pinned = hugo.file_report(description="Trou énorme, appelez-moi au 06 12 34 56 78")
    sophie = TalkingCitizen(rt, SOPHIE_CHAT, channel="telegram", name=SOPHIE)
    for step in ({"text": "bonjour"}, {"choice": "cat:nid-de-poule"}, {"text": "Gros trou"},
                 {"choice": "skip"}, {"location": (48.12461, -1.20821)},
                 {"choice": f"follow:{pinned}"}):  # fmt: skip
        sophie.say(**step)
    typed = report_by_sms(rt, "cat:lampadaire", "Lampadaire éteint devant chez moi", TYPED)
    resolved = TalkingCitizen(rt, "5550001", channel="telegram", name="Sophie").file_report(
        category_choice="cat:graffiti", description="Tag", location=(48.1220, -1.2100)
    )

    client = app.test_client()
    log_in_as(client, admin_id(rt))
    with rt.db.transaction() as session:
        reports.change_status(
            session,
            pinned,
            "acknowledged",
            message="Merci Hugo ! Nous passerons demain ; au besoin nous vous appellerons au "
            "06 12 34 56 78 ou écrirons à hugo.lemoine@example.org.",
            note="Voir avec M. Lemoine",
        )
        reports.change_status(session, resolved, "resolved", message="Bonjour Sophie, c'est fait.")
    sent = {n: console_note_with_template(client, n) for n in (pinned, typed)}
    # The SMS citizen drops a pin from the link: the geocoder is off, the typed text stays.
    with rt.db.reading() as session:
        author = get_report(session, typed).citizen_id
    token = links.mint_token(rt.settings.SECRET_KEY, typed, author)
    pin = client.post(f"/r/{token}", data={"lat": "48.1246", "lon": "-1.2082"})
    assert pin.status_code == 200
    with rt.db.transaction() as session:
        citizen = session.get(Citizen, get_report(session, resolved).citizen_id)
        feedback.reopen(session, get_report(session, resolved), citizen, "no",
                        "Toujours là, appelez-moi au 07 11 22 33 44")  # fmt: skip
    return {"pinned": pinned, "typed": typed, "resolved": resolved, "sent": sent}


def report_by_sms(rt, category: str, description: str, address: str) -> int:
    """Hugo files a report by SMS, typing its address (the geocoder is off: kept as typed)."""
    phone = TalkingCitizen(rt, HUGO_PHONE, channel="sms", name=None)
    for step in ({"text": "Bonjour"}, {"choice": category}, {"text": description},
                 {"choice": "skip"}, {"text": address}):  # fmt: skip
        phone.say(**step)
    done = phone.texts(choice="yes")
    return int(re.search(r"#(\d+)", done).group(1))


def keyless_urls(town: dict) -> list[str]:
    """Every read Open311 answers without a key, each format, each filter, each request."""
    today = utcnow().date()
    filters = [
        "",
        "?status=open",
        "?status=closed",
        "?status=open,closed",
        "?service_code=nid-de-poule,lampadaire,graffiti",
        f"?service_request_id={town['pinned']},{town['typed']},{town['resolved']}",
        f"?start_date={today - timedelta(days=1)}&end_date={today + timedelta(days=1)}",
    ]
    urls = ["/openapi.json"]
    for fmt in ("json", "xml"):
        urls += [f"/discovery.{fmt}", f"/services.{fmt}", f"/services/nid-de-poule.{fmt}"]
        urls += [f"/requests.{fmt}{query}" for query in filters]
        urls += [f"/requests/{town[k]}.{fmt}" for k in ("pinned", "typed", "resolved")]
    return [BASE + url for url in urls]


def test_no_keyless_open311_answer_holds_personal_data(app, town) -> None:
    rt = app.extensions["webleads"]
    client = app.test_client()
    with rt.db.transaction() as session:
        _, key = create_key(session, "CRM", view=KeyView.FULL)
    # The data is really there: the town's own tool reads it.
    keyed = client.get(f"{BASE}/requests.json?api_key={key}").get_data(as_text=True)
    assert {"Hugo", "Lemoine", "chez Hugo", "appelez-moi", "612345678"} <= set(leaks(keyed))
    assert "Bonjour Hugo Lemoine, votre signalement" in keyed  # as the citizen received it

    found = {}
    for url in keyless_urls(town):
        response = client.get(url)
        assert response.status_code == 200, url
        found[url] = leaks(response.get_data(as_text=True))
    assert {url: data for url, data in found.items() if data} == {}

    # What stays public: the category, the pin, the status, the agents' words.
    by_id = {int(r["service_request_id"]): r for r in client.get(f"{BASE}/requests.json").json}
    pinned, typed = by_id[town["pinned"]], by_id[town["typed"]]
    assert pinned["status_notes"] == (
        f"Votre signalement #{town['pinned']} (Nid-de-poule) est pris en charge par le "
        "service Voirie."
    )
    assert typed["status_notes"] == (
        f"Votre signalement #{town['typed']} (Lampadaire en panne, …) est pris en charge par "
        "le service Éclairage public."
    )
    assert typed["address"] is None and (typed["lat"], typed["long"]) == (48.1246, -1.2082)
    assert pinned["description"] is None and pinned["media_url"] is None


def test_the_public_view_of_a_report(app, town) -> None:
    rt = app.extensions["webleads"]
    with rt.db.reading() as session:
        view = public_report(session, town["pinned"])
        resolved = public_report(session, town["resolved"])
        assert public_report(session, 999999) is None
    assert view.ref == f"#{town['pinned']}" and view.category_code == "nid-de-poule"
    assert view.status_names == {"fr": "pris en compte", "en": "acknowledged"}
    assert view.service_names["fr"] == "Voirie" and view.media_ids == ()
    assert [(e.status, e.words) for e in view.history] == [
        ("new", None),
        ("acknowledged", "Merci … ! Nous passerons demain ; au besoin nous vous appellerons au "
                         "… ou écrirons à ….",),
        (None, f"Votre signalement #{town['pinned']} (Nid-de-poule) est pris en charge par le "
               "service Voirie."),
    ]  # fmt: skip
    # Reopened by its citizen: the status changes, the citizen's words stay out.
    assert [(e.status, e.words) for e in resolved.history][-1] == ("in_progress", None)
    assert resolved.updated_at >= resolved.created_at


def test_a_typed_address_placed_later_is_shown_as_its_street(app, database_url, tmp_path, addok):
    """The geocoder was off when the citizen typed; the worker placed the report later."""
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        session.add(ResponseTemplate(title="Pris en charge", body=TEMPLATE))
    number = report_by_sms(rt, "cat:nid-de-poule", "Trou", "12 rue de la Poterie")
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    console_note_with_template(client, number)
    with rt.db.reading() as session:
        assert public_report(session, number).place.label is None  # not placed yet
    worker = create_app({**base_config(database_url, tmp_path), "GEOCODER": "ban",
                         "GEOCODER_URL": addok.base_url})  # fmt: skip
    result = worker.test_cli_runner().invoke(cli, ["geo", "retry"], catch_exceptions=False)
    worker.extensions["webleads"].db.dispose()
    assert "1 report(s) placed" in result.output
    with rt.db.reading() as session:
        view = public_report(session, number)
        assert get_report(session, number).address == "12 rue de la Poterie"  # as typed
    assert view.place.label == "Rue de la Poterie 35500 Vitré"
    assert view.latest_words == (
        f"Votre signalement #{number} (Nid-de-poule, Rue de la Poterie 35500 Vitré) est pris en "
        "charge par le service Voirie."
    )
    found = client.get(f"{BASE}/requests/{number}.json").json[0]
    assert found["address"] == "Rue de la Poterie 35500 Vitré"


# --- the place's name ---------------------------------------------------------------------


def report(**fields) -> Report:
    values = {"lat": 48.1246, "lon": -1.2082, "channel": "telegram", "geolocated": True}
    return Report(category_id=1, service_id=1, description="", **{**values, **fields})


PLACED = {"source": "typed", "label": "12 Rue de la Poterie 35500 Vitré", "score": 0.93}


def pinned(before: list[float] | None) -> dict:
    return {"source": "link", "lat": 48.1246, "lon": -1.2082, "before": before}


LABELS = [
    ("a pin named by the geocoder", report(address="12 Rue de la Poterie 35500 Vitré"), [],
     "Rue de la Poterie 35500 Vitré"),
    ("a pin the geocoder could not name", report(address=None), [], None),
    ("typed, never placed", report(lat=None, lon=None, address=TYPED, geolocated=False), [],
     None),
    ("typed, then placed by the geocoder", report(address="12 rue poterie"), [PLACED],
     "Rue de la Poterie 35500 Vitré"),
    ("typed, then pinned from the link", report(address=TYPED), [pinned(None)], None),
    ("typed, placed, then pinned", report(address=TYPED),
     [PLACED, pinned([48.1246, -1.2082])], None),
    ("placed in the chat, then pinned", report(address="3 Rue Notre-Dame 35500 Vitré"),
     [pinned([48.1246, -1.2082])], "Rue Notre-Dame 35500 Vitré"),
    ("another tool's address", report(channel="open311", address="chez M. Martin"), [], None),
]  # fmt: skip


@pytest.mark.parametrize(("label", "row", "placings", "shown"), LABELS, ids=[x[0] for x in LABELS])
def test_the_place_is_named_only_by_a_geocoder(label, row, placings, shown) -> None:
    assert public_label(row, placings) == shown


@pytest.mark.parametrize(
    ("label", "street"),
    [
        ("12 Rue de la Poterie 35500 Vitré", "Rue de la Poterie 35500 Vitré"),
        ("12 bis Rue de la Poterie 35500 Vitré", "Rue de la Poterie 35500 Vitré"),
        ("12-14 Boulevard Louis Giroux, Vitré", "Boulevard Louis Giroux, Vitré"),
        ("Rue de la Poterie 35500 Vitré", "Rue de la Poterie 35500 Vitré"),
        ("12", None),
    ],
)
def test_the_street_is_the_label_without_its_number(label, street) -> None:
    assert street_of(label) == street


# --- the agents' words --------------------------------------------------------------------

PEOPLE = [
    Citizen(channel="telegram", address=HUGO_CHAT, display_name=HUGO),
    Citizen(channel="sms", address=HUGO_PHONE, display_name=None),
    Citizen(channel="telegram", address="42", display_name="Jo"),
]
WORDS_CASES = [
    ("Bonjour Hugo Lemoine, c'est réparé.", "C'est réparé."),
    ("Bonjour,\nl'équipe passe lundi.", "L'équipe passe lundi."),
    ("Hello Hugo! Fixed.", "Fixed."),
    ("Merci M. LEMOINE pour votre appel.", "Merci M. … pour votre appel."),
    ("Rappel au 0612345678 ou +33 6 12 34 56 78.", "Rappel au … ou …."),
    ("Écrivez à hugo.lemoine@example.org", "Écrivez à …"),
    (f"Votre identifiant {HUGO_CHAT} est noté.", "Votre identifiant … est noté."),
    (f"Adresse : {TYPED}.", "Adresse : …."),
    ("Jo, la rue Jourdan est fermée.", "…, la rue Jourdan est fermée."),
    ("Bonjour nous passons #1042 le 12/03 à 9 h, 35500 Vitré.",
     "Bonjour nous passons #1042 le 12/03 à 9 h, 35500 Vitré."),
    ("Bonjour Hugo,", None),
    ("", None),
]  # fmt: skip


@pytest.mark.parametrize(("said", "public"), WORDS_CASES, ids=[c[0][:30] for c in WORDS_CASES])
def test_the_agents_words_lose_names_numbers_and_typed_address(said, public) -> None:
    assert Redaction(PEOPLE, TYPED, None).remove(said) == public


def test_a_geocoded_address_in_the_words_becomes_its_street() -> None:
    address = "12 Rue de la Poterie 35500 Vitré"
    redaction = Redaction(PEOPLE, address, street_of(address))
    assert redaction.remove(f"Bonjour, nous passons au {address}.") == (
        "Nous passons au Rue de la Poterie 35500 Vitré."
    )


# --- a category's "public by default" -----------------------------------------------------

# The review's report: a name in lower case and two phone numbers in spellings that passed.
REVIEWED = "Trou devant chez marie dupont, rappelez moi au 06/11/22/33/44 ou +33 (0)6 11 22 33 44"
REVIEWED_PUBLIC = "Trou devant chez …, rappelez moi au … ou …"


def description_shown(client, number: int) -> tuple[str | None, str | None]:
    """The description as the public site's page and keyless Open311 show it (None: not)."""
    page = html.unescape(client.get(f"/reports/{number}").get_data(as_text=True))
    found = re.search(r"Trou devant[^<]*", page)
    return (found.group().strip() if found else None), client.get(
        f"{BASE}/requests/{number}.json"
    ).json[0]["description"]


def test_a_public_by_default_description_waits_until_an_agent_opens_the_report(app) -> None:
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        category_by_code(session, "nid-de-poule").description_public = True
    number = TalkingCitizen(rt, "4410001", channel="telegram", name="Yann").file_report(
        description=REVIEWED
    )
    public = app.test_client()
    assert description_shown(public, number) == (None, None)  # nobody has read it yet

    agent = app.test_client()
    log_in_as(agent, admin_id(rt))
    page = agent.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "Public, with the citizen" in page or "Public, avec les mots" in page
    assert description_shown(public, number) == (REVIEWED_PUBLIC, REVIEWED_PUBLIC)
    # An agent's explicit choice still wins over the category's default.
    with rt.db.transaction() as session:
        moderation.withhold_text(session, number, agent_id=None)
    assert description_shown(public, number) == (None, None)


def test_an_agents_action_in_a_chat_or_the_console_counts_as_seen_a_publication_needs_none(
    app,
) -> None:
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        category_by_code(session, "nid-de-poule").description_public = True
    acted = TalkingCitizen(rt, "4410002", channel="telegram", name="Yann").file_report(
        description=REVIEWED
    )
    published = TalkingCitizen(rt, "4410003", channel="telegram", name="Anne").file_report(
        description="Trou devant la boulangerie", location=(48.1300, -1.2000)
    )
    public = app.test_client()
    assert description_shown(public, acted) == (None, None)

    agent_id = make_agent(rt, "paul@ville.fr", services=("voirie",))
    with rt.db.transaction() as session:
        code = crew_links.issue_code(session, agent_id, rt.settings.SECRET_KEY)
    crew = TalkingCitizen(rt, "paul-phone", name="Paul", language_code="en")
    assert "Linked" in crew.texts(f"/agent {code}")
    assert "Note added" in crew.texts(f"note {acted} vu sur place")
    assert description_shown(public, acted) == (REVIEWED_PUBLIC, REVIEWED_PUBLIC)

    # An action posted from the console (a list's button) counts as seen as well.
    agent = app.test_client()
    log_in_as(agent, admin_id(rt))
    taken = TalkingCitizen(rt, "4410004", channel="telegram", name="Luc").file_report(
        description="Trou devant chez luc", location=(48.1200, -1.2150)
    )
    assert description_shown(public, taken) == (None, None)
    note = {"note-note": "vu", "csrf_token": csrf_token(agent)}
    assert agent.post(f"/console/reports/{taken}/note", data=note).status_code == 303
    assert description_shown(public, taken) == ("Trou devant chez …", "Trou devant chez …")

    with rt.db.transaction() as session:
        moderation.publish(session, published, agent_id=None)  # from the CLI, unseen
    assert description_shown(public, published) == (
        "Trou devant la boulangerie",
        "Trou devant la boulangerie",
    )


@pytest.mark.parametrize(
    ("language", "warning"),
    [
        ("fr", ["dès qu’un agent a ouvert un signalement", "peuvent rester"]),
        ("en", ["once an agent has opened a report", "may remain"]),
    ],
)
def test_the_category_form_says_what_public_by_default_publishes(app, language, warning):
    rt = app.extensions["webleads"]
    with rt.db.reading() as session:
        category_id = category_by_code(session, "nid-de-poule").id
    admin = app.test_client()
    log_in_as(admin, admin_id(rt))
    with admin.session_transaction() as session:
        session["console_lang"] = language
    page = html.unescape(
        admin.get(f"/console/admin/categories/{category_id}").get_data(as_text=True)
    )
    assert all(words in page for words in warning), page
    assert 'aria-describedby="description_public-help"' in page
