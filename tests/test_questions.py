"""A category's short questions: edited in the console (audited), asked in the chat on
every channel after the description, skippable, answers checked politely, kept on the
report and served by Open311 as the service definition's attributes."""

from __future__ import annotations

import threading

import pytest
from georeport import GeoReport
from sqlalchemy import select
from werkzeug.serving import make_server

from app.seed import seed_questions
from models.api_key import KeyView, create_key
from models.audit import AdminChange
from models.catalog import category_by_code, service_by_code
from models.report import Report
from tests.helpers import TalkingCitizen, a_photo, admin_id, csrf_token, log_in_as

BASE = "/open311/v2"


@pytest.fixture
def town(app):
    """The tests' town with the demo's questions (pothole: yes/no, streetlight: words,
    sign: a choice)."""
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        seed_questions(session)
    rt.catalog.invalidate()
    return rt


def _to_question(me: TalkingCitizen, category: str, description: str) -> str:
    me.say("bonjour")
    me.say(choice=f"cat:{category}")
    return me.texts(description)


def _file(me: TalkingCitizen) -> Report:
    """From the photo question on: no photo, the pin, send."""
    me.say(choice="skip")
    me.say(location=(48.1246, -1.2082))
    number = int(me.texts(choice="yes").split("#", 1)[1].split(" ", 1)[0])
    with me.rt.db.reading() as session:
        return session.get(Report, number)


def test_a_skipped_question_files_the_report_as_usual(town) -> None:
    me = TalkingCitizen(town)
    assert _to_question(me, "nid-de-poule", "Un trou devant la poste") == (
        "Le trou fait-il plus de 10\u202fcm\u202f?"
    )
    assert [label for _, label in me.say("passer")[0].choices] == ["Passer"]  # the photo's
    report = _file(me)
    assert (report.priority, report.answers) == ("normal", None)
    # a message read as a report: its category confirmed, the question, then what is missing
    paul = TalkingCitizen(town, "paul")
    paul.say("Il y a un gros trou dans la chaussée devant le 12 rue de la Poterie")
    assert paul.texts(choice="guess:yes") == "Le trou fait-il plus de 10\u202fcm\u202f?"
    assert paul.texts("oui").startswith("Pouvez-vous ajouter une photo")  # the place is known


def test_a_number_that_is_not_one_is_asked_again_once_with_an_example(town) -> None:
    with town.db.transaction() as session:
        category = category_by_code(session, "trottoir")
        category.questions = [{"code": "width_cm", "kind": "number", "fr": "Largeur en cm\u202f?",
                               "en": "Width in cm?", "urgent_above": 50}]  # fmt: skip
    town.catalog.invalidate()
    me = TalkingCitizen(town)
    assert _to_question(me, "trottoir", "Une dalle soulevée") == (
        "Largeur en cm\u202f?\n(ou répondez PASSER pour passer cette question)"
    )
    again = me.texts("très large")
    assert again.startswith("Merci de répondre par un nombre, par exemple 55.\nLargeur en cm")
    assert "photo" in me.texts("environ 80 cm")
    report = _file(me)
    assert report.answers[0]["value"] == 80 and report.priority == "urgent"  # above 50
    # a second answer that is no number either: the conversation goes on without it
    me2 = TalkingCitizen(town, "paul")
    _to_question(me2, "trottoir", "Une dalle soulevée")
    assert me2.texts(photo=a_photo()).startswith("Merci pour la photo.\nLargeur en cm")
    me2.say("beaucoup")
    assert me2.texts("énormément").startswith("Ce n’est pas grave, continuons.\n")
    assert me2.state == "location"  # the photo came with the question


def test_the_console_edits_the_questions_audited_and_the_next_conversation_asks_them(
    town, app
) -> None:
    client = app.test_client()
    log_in_as(client, admin_id(town))
    with town.db.reading() as session:
        category = category_by_code(session, "graffiti")
        form = {
            "code": "graffiti",
            "name_fr": category.name_fr,
            "name_en": category.name_en,
            "service_id": str(category.service_id),
            "kind": "problem",
            "sla_hours": "120",
            "active": "y",
            "urgent_sla_hours": "6",
            "q1_kind": "choice",
            "q1_fr": "Quel support\u202f?",
            "q1_en": "On what?",
            "q1_options": "Mur / Wall\nMonument / Monument\nVéhicule / Vehicle",
            "q1_urgent": "Monument",
            "q2_kind": "",
        }
    bad = {**form, "q1_urgent": "Statue", "csrf_token": csrf_token(client)}
    bad = client.post(f"/console/admin/categories/{category.id}", data=bad)
    assert "«\u202fStatue\u202f» n’est pas un de ses choix" in bad.get_data(as_text=True)
    response = client.post(
        f"/console/admin/categories/{category.id}", data={**form, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 303
    with town.db.reading() as session:
        change = session.scalars(select(AdminChange).where(AdminChange.name == "graffiti")).one()
    assert change.changes["questions"][1][0]["fr"] == "Quel support\u202f?"
    page = client.get(f"/console/admin/categories/{category.id}").get_data(as_text=True)
    assert "Mur / Wall\nMonument / Monument" in page  # the form shows them back

    me = TalkingCitizen(town)
    question = me.say("bonjour") and me.say(choice="cat:graffiti") and me.say("Un tag énorme")
    assert question[0].text == "Quel support\u202f?"
    assert [label for _, label in question[0].choices] == [
        "Mur", "Monument", "Véhicule", "Passer"
    ]  # fmt: skip
    report = _file(me) if me.say("2") else None  # typed like on SMS: the second choice
    assert report.answers[0]["label_fr"] == "Monument" and report.priority == "urgent"
    page = client.get(f"/console/reports/{report.id}").get_data(as_text=True)
    assert "<dt>Quel support\u202f?</dt><dd>Monument</dd>" in page
    assert "par le bot" in page  # why it is urgent, in its history


def test_open311_serves_the_questions_as_attributes_and_takes_answers(town, app) -> None:
    client = app.test_client()
    services = client.get(f"{BASE}/services.json").get_json()
    metadata = {s["service_code"]: s["metadata"] for s in services}
    assert metadata["nid-de-poule"] is True and metadata["graffiti"] is False
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:  # the real client reads it
        definition = GeoReport(f"http://127.0.0.1:{server.server_port}{BASE}")
        sign = definition.get_service_definition("signalisation")
    finally:
        server.shutdown()
    assert sign["attributes"] == [
        {
            "variable": True,
            "code": "what_is_damaged",
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": None,
            "order": 1,
            "description": "Qu’est-ce qui est touché\u202f?",
            "values": [
                {"key": "traffic_light", "name": "Feu tricolore"},
                {"key": "sign", "name": "Panneau"},
                {"key": "marking", "name": "Marquage au sol"},
            ],
        }
    ]
    pothole = client.get(f"{BASE}/services/nid-de-poule.xml").get_data(as_text=True)
    assert "<datatype>singlevaluelist</datatype>" in pothole and "<key>yes</key>" in pothole
    with town.db.transaction() as session:
        _, key = create_key(session, "CRM", view=KeyView.FULL)
    form = {"api_key": key, "service_code": "signalisation", "lat": "48.1246", "long": "-1.2082",
            "description": "Feu éteint au carrefour"}  # fmt: skip
    refused = client.post(f"{BASE}/requests.json",
                          data={**form, "attribute[what_is_damaged]": "tree"})  # fmt: skip
    assert refused.status_code == 400
    filed = client.post(f"{BASE}/requests.json",
                        data={**form, "attribute[what_is_damaged]": "traffic_light"})  # fmt: skip
    number = int(filed.get_json()[0]["service_request_id"])
    with town.db.reading() as session:
        report = session.get(Report, number)
        assert report.priority == "urgent" and report.answers[0]["value"] == "traffic_light"
        assert service_by_code(session, "voirie").id == report.service_id
