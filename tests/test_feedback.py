"""'Is it really fixed?' after a report is resolved, and the silence watchdog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.cli import cli
from models.db import utcnow
from models.report import get_report, report_events
from services import reports
from services.feedback import remind_silent_reports
from tests.helpers import TalkingCitizen, make_report


def resolved(rt) -> tuple[TalkingCitizen, int]:
    citizen = TalkingCitizen(rt)
    number = citizen.file_report()
    with rt.db.transaction() as session:
        reports.change_status(session, number, "resolved", message="Rebouché ce matin.")
    return citizen, number


def test_resolution_asks_if_it_is_really_fixed(rt) -> None:
    citizen, _ = resolved(rt)
    message = citizen.new_messages()[-1]
    assert "a été résolu" in message.text and message.text.endswith("Est-ce vraiment réglé\u202f?")
    assert [label for _, label in message.choices] == ["Oui, réglé", "Non", "En partie"]
    assert citizen.state == "is_fixed"


@pytest.mark.parametrize("answer", [dict(text="1"), dict(text="oui"), dict(choice="yes")])
def test_yes_records_satisfaction(rt, answer) -> None:
    citizen, number = resolved(rt)
    if "choice" in answer:
        answer = dict(choice=f"fixed:{number}:yes")
    assert "Merci de votre confirmation" in citizen.texts(**answer)
    with rt.db.reading() as session:
        assert get_report(session, number).status == "resolved"
        assert report_events(session, number)[-1].kind == "feedback"


@pytest.mark.parametrize(("answer", "verdict"), [("2", "no"), ("non", "no"), ("3", "partly")])
def test_no_reopens_with_the_citizens_words(rt, answer, verdict) -> None:
    citizen, number = resolved(rt)
    assert "Qu’est-ce qui ne va pas encore" in citizen.texts(answer)
    assert f"{'#'}{number} est rouvert" in citizen.texts("Le trou est revenu après la pluie")
    with rt.db.reading() as session:
        report = get_report(session, number)
        event = report_events(session, number)[-1]
    assert report.status == "in_progress" and report.reopened_count == 1
    assert event.kind == "reopened" and event.public_message == "Le trou est revenu après la pluie"
    assert event.detail == {"verdict": verdict} and event.internal_note is None


def test_buttons_work_even_mid_conversation(rt) -> None:
    citizen, number = resolved(rt)
    citizen.say("menu")
    citizen.say(choice="cat:graffiti")  # now describing another problem
    assert "Merci de votre confirmation" in citizen.texts(choice=f"fixed:{number}:yes")


def test_not_asked_when_the_category_says_so(rt) -> None:
    from models.catalog import category_by_code

    with rt.db.transaction() as session:
        category = category_by_code(session, "nid-de-poule")
        category.ask_if_fixed = False
        session.add(category)
    citizen, _ = resolved(rt)
    assert citizen.new_messages()[-1].choices == []


def test_answer_after_the_report_was_reopened_by_an_agent(rt) -> None:
    citizen, number = resolved(rt)
    with rt.db.transaction() as session:
        reports.change_status(session, number, "in_progress")
    citizen.new_messages()
    assert "n’est plus indiqué comme résolu" in citizen.texts(choice=f"fixed:{number}:no")


def test_silent_report_gets_one_honest_reminder_per_period(rt) -> None:
    citizen = TalkingCitizen(rt)
    number = citizen.file_report()
    with rt.db.transaction() as session:
        report = get_report(session, number)
        report.created_at = utcnow() - timedelta(hours=80)  # pothole SLA: 72 h
        session.add(report)
        make_report(session, created_at=utcnow() - timedelta(hours=10))  # within its SLA
    assert remind_silent_reports(rt) == 1
    text = citizen.texts()
    assert "est toujours en cours de traitement par le service Voirie" in text
    assert "Nous prévoyons de le traiter d’ici le" in text
    assert remind_silent_reports(rt) == 0  # once per period
    with rt.db.transaction() as session:
        report = get_report(session, number)
        report.last_public_update_at = utcnow() - timedelta(hours=73)
        session.add(report)
    assert remind_silent_reports(rt) == 1


def test_the_reminders_date_is_a_day_of_the_towns_calendar(rt, new_year_in_vitre) -> None:
    citizen = TalkingCitizen(rt)
    number = citizen.file_report()
    with rt.db.transaction() as session:
        report = get_report(session, number)
        report.created_at = datetime(2027, 12, 28, 23, 20, tzinfo=UTC)  # pothole SLA: 72 h
        session.add(report)
    assert remind_silent_reports(rt) == 1
    # A new period of 72 h from now: 23:30 UTC on 3 January, 00:30 on the 4th in Vitré.
    reminder = "\n".join(reply.text for reply in citizen.new_messages())
    assert "Nous prévoyons de le traiter d’ici le 4 janvier 2028." in reminder


def test_remind_command(app, rt) -> None:
    with rt.db.transaction() as session:
        make_report(session, status="acknowledged", created_at=utcnow() - timedelta(days=30))
        make_report(session, status="resolved", created_at=utcnow() - timedelta(days=30))
    result = app.test_cli_runner().invoke(cli, ["remind"])
    assert "1 report(s) past their SLA" in result.output
