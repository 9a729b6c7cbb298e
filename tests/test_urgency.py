"""Urgent reports: a category, an answer or the words make a report urgent, through
services.reports.set_priority; it opens the queue and the resident is told what happens.

The demo's questions (app/seed.py seed_questions) are seeded here only: the tests' town
walks its other conversations without them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.seed import seed_questions
from models.audit import AdminChange
from models.catalog import category_by_code
from models.db import utcnow
from models.report import Report, ReportEvent
from tests.helpers import (
    TalkingCitizen,
    add_reports,
    admin_id,
    csrf_token,
    log_in_as,
    make_agent,
)
from tests.sms_support import Phone, make_sms_app
from tests.test_console_queue import numbers_on


@pytest.fixture
def fr_sms(database_url, tmp_path, twilio):
    """The town in French by SMS, with the demo's questions."""
    app = make_sms_app(database_url, tmp_path, twilio, DEFAULT_LANGUAGE="fr")
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        seed_questions(session)
    rt.catalog.invalidate()
    yield app
    rt.db.dispose()


DAY = timedelta(days=1)


def _number(done: str) -> int:
    return int(done.split("#", 1)[1].split(" ", 1)[0])


def _history(rt, number: int) -> list[dict]:
    with rt.db.reading() as session:
        events = session.scalars(
            select(ReportEvent).where(
                ReportEvent.report_id == number, ReportEvent.kind == "prioritised"
            )
        )
        return [e.detail for e in events]


def test_a_pothole_deeper_than_10_cm_by_sms_is_urgent_first_in_the_queue_and_said(fr_sms, twilio):
    rt = fr_sms.extensions["webleads"]
    (older,) = add_reports(rt, [{"category": "nid-de-poule", "created_at": utcnow() - DAY}])
    phone = Phone(fr_sms, twilio)
    phone.text("Bonjour")
    phone.inbox()
    phone.text("1")  # Nid-de-poule
    phone.inbox()
    question = phone.says("Gros trou devant le numéro 12")
    assert question == "Le trou fait-il plus de 10 cm ?\n1 Oui\n2 Non\n3 Passer"
    assert "MMS" in phone.says("oui")  # then the photo, as before
    phone.says("passer")
    assert phone.says("12 rue de la Poterie").startswith("Votre signalement :")
    done, priority = phone.says("1").split("\n---\n")[0].split("\n")
    number = _number(done)
    assert priority == (
        "Votre signalement est traité en priorité : le service Voirie est alerté et vise "
        "une intervention sous 4 heures."  # SMS has no narrow no-break space
    )
    with rt.db.reading() as session:
        report = session.get(Report, number)
        assert report.priority == "urgent"
        assert [(a["code"], a["value"]) for a in report.answers] == [("deeper_than_10cm", "yes")]
    assert _history(rt, number) == [
        {"priority": "urgent", "from_priority": "normal",
         "reason": {"answer": ["deeper_than_10cm"]}}
    ]  # fmt: skip
    client = fr_sms.test_client()
    log_in_as(client, make_agent(rt, "voirie@vitre.example"))
    queue = client.get("/console/reports").get_data(as_text=True)
    assert numbers_on(queue) == [number, older]  # urgent first, though filed later
    assert "Le trou fait-il plus de 10\u202fcm\u202f? <strong>oui</strong>" in queue


@pytest.mark.parametrize(
    ("category", "description", "reason", "numbers_first"),
    [
        ("espaces-verts", "Un gros arbre est tombé sur le trottoir",
         {"danger_words": "arbre tombé"}, False),
        ("lampadaire", "Le câble électrique du lampadaire pend à terre", {"danger_to_people": True},
         True),
        ("dechets", "Des sacs poubelle éventrés", {"category": "dechets"}, False),
    ],
    ids=["a danger word", "a danger to people", "the category's flag"],
)  # fmt: skip
def test_the_words_or_the_category_make_a_report_urgent(
    app, category, description, reason, numbers_first
) -> None:
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        category_by_code(session, "dechets").urgent_by_default = True
    rt.catalog.invalidate()
    me = TalkingCitizen(rt)
    me.say("bonjour")
    me.say(choice=f"cat:{category}")
    after_description = me.texts(description)
    assert after_description.startswith("Si quelqu’un est en danger") == numbers_first
    me.say(choice="skip")
    me.say(location=(48.1246, -1.2082))
    (done,) = me.say(choice="yes")
    thanks, priority = done.text.split("\n")
    assert priority.startswith("Votre signalement est traité en priorité\u202f:")
    number = _number(thanks)  # and the emergency numbers not again: said once, at once
    assert _history(rt, number)[0]["reason"] == reason


def test_an_urgent_report_has_its_own_deadline(app) -> None:
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        category_by_code(session, "dechets").urgent_by_default = True
    rt.catalog.invalidate()
    filed = utcnow()
    urgent = TalkingCitizen(rt).file_report("cat:dechets", "Sacs poubelle éventrés")
    (normal,) = add_reports(rt, [{"category": "dechets", "created_at": filed}])
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    with time_machine.travel(filed + timedelta(hours=5), tick=False):  # urgent: 4 h; else 48
        overdue = client.get("/console/reports?overdue=1").get_data(as_text=True)
        page = client.get(f"/console/reports/{urgent}").get_data(as_text=True)
    assert numbers_on(overdue) == [urgent] and normal != urgent
    assert "En retard" in page


def test_the_town_edits_its_danger_words_audited(app) -> None:
    rt = app.extensions["webleads"]
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    page = client.get("/console/admin/danger-words").get_data(as_text=True)
    assert "arbre tombé\nbranche tombée\n" in page  # the shipped ones, to start from
    words = {"words": "nid de frelons\ninondation", "csrf_token": csrf_token(client)}
    assert client.post("/console/admin/danger-words", data=words).status_code == 303
    with rt.db.reading() as session:
        change = session.scalars(select(AdminChange).where(AdminChange.thing == "danger words"))
        assert change.one().changes["danger_words"][1] == ["nid de frelons", "inondation"]
    urgent = TalkingCitizen(rt, "lea").file_report("cat:espaces-verts", "Un nid de gros frelons")
    normal = TalkingCitizen(rt, "noe").file_report("cat:espaces-verts", "Un arbre est tombé", None)
    with rt.db.reading() as session:
        assert session.get(Report, urgent).priority == "urgent"
        assert session.get(Report, normal).priority == "normal"  # no longer in the list
