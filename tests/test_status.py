"""Status changes: the transition table, events, personalised messages to followers."""

from __future__ import annotations

import pytest

from models.messaging import messages_for_report
from models.report import STATUSES, TRANSITIONS, get_report, report_events
from services import reports
from tests.helpers import TalkingCitizen

# (from, to, allowed)
LIFECYCLE = [
    ("new", "acknowledged", True),
    ("new", "in_progress", True),
    ("new", "resolved", True),
    ("acknowledged", "in_progress", True),
    ("in_progress", "resolved", True),
    ("resolved", "in_progress", True),  # reopened
    ("closed", "acknowledged", True),  # reopened
    ("new", "new", False),
    ("resolved", "acknowledged", False),
    ("duplicate", "in_progress", False),
    ("resolved", "resolved", False),
]


@pytest.mark.parametrize(("start", "to", "allowed"), LIFECYCLE)
def test_transition_table(start: str, to: str, allowed: bool) -> None:
    assert (to in TRANSITIONS[start]) is allowed


def test_every_status_has_rules_and_a_display_name() -> None:
    from services.texts import STATUS_NAMES

    assert set(TRANSITIONS) == set(STATUSES) == set(STATUS_NAMES)


def file(rt, **kwargs) -> tuple[TalkingCitizen, int]:
    citizen = TalkingCitizen(rt, **kwargs)
    return citizen, citizen.file_report()


def test_status_change_reaches_each_follower_in_their_language(rt) -> None:
    marie, number = file(rt)
    john = TalkingCitizen(rt, "john", name="John", language_code="en")
    john.say("hello")
    john.say(choice="cat:nid-de-poule")
    john.say("Huge hole")
    john.say(choice="skip")
    offer = john.say(location=(48.12461, -1.20821))
    assert f"#{number}" in offer[-1].text
    john.say(choice=f"follow:{number}")
    with rt.db.transaction() as session:
        reports.change_status(session, number, "in_progress", message="Une équipe arrive lundi.")
    to_marie = marie.texts()
    to_john = john.texts()
    assert to_marie.startswith("Bonjour Marie, le traitement de votre signalement #")
    assert "Nid-de-poule" in to_marie and "service Voirie" in to_marie
    assert "Message du service Voirie\u202f: Une équipe arrive lundi." in to_marie
    # John follows Marie's report: it is not his, and he reads it as the public would.
    assert to_john.startswith(f"Hello John, work on the report #{number} you follow (Pothole")
    assert "Roads service" in to_john


def test_status_change_writes_the_event_and_step_timestamp(rt) -> None:
    _, number = file(rt)
    with rt.db.transaction() as session:
        reports.change_status(session, number, "acknowledged", note="équipe B")
    with rt.db.reading() as session:
        report = get_report(session, number)
        events = report_events(session, number)
        messages = messages_for_report(session, number)
    assert report.status == "acknowledged" and report.acknowledged_at is not None
    assert (events[-1].from_status, events[-1].to_status) == ("new", "acknowledged")
    assert events[-1].internal_note == "équipe B"
    assert len(messages) == 1 and "équipe B" not in messages[0].payload["text"]


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        ("new", None, "cannot become new"),
        ("closed", None, "needs a public message"),
        ("fixed", None, "Unknown status"),
        ("duplicate", None, "needs the number"),
    ],
)
def test_refused_changes_say_why_and_change_nothing(rt, status, message, error) -> None:
    _, number = file(rt)
    with pytest.raises(reports.ReportError, match=error), rt.db.transaction() as session:
        reports.change_status(session, number, status, message=message)
    with rt.db.reading() as session:
        assert get_report(session, number).status == "new"
        assert messages_for_report(session, number) == []


def test_merge_as_duplicate_moves_followers(rt) -> None:
    marie, first = file(rt)
    paul = TalkingCitizen(rt, "paul", name="Paul")
    paul.say("bonjour")
    paul.say(choice="cat:nid-de-poule")
    paul.say("Encore un trou")
    paul.say(choice="skip")
    paul.say("rue de Paris")
    second = int(paul.texts(choice="yes").split("#")[1].split()[0])
    with rt.db.transaction() as session:
        reports.change_status(session, second, "duplicate", duplicate_of=first)
    assert f"même problème que #{first}" in paul.texts()
    with rt.db.transaction() as session:
        reports.change_status(session, first, "resolved")
    assert "résolu" in paul.texts() and "résolu" in marie.texts()


def test_opted_out_follower_gets_nothing(rt) -> None:
    citizen, number = file(rt, sender="+33611111111", channel="sms")
    citizen.say("STOP")
    citizen.new_messages()
    with rt.db.transaction() as session:
        reports.change_status(session, number, "resolved")
    assert citizen.new_messages() == []


def test_agent_reply_without_status_change(rt) -> None:
    citizen, number = file(rt)
    with rt.db.transaction() as session:
        reports.reply(session, number, "Pouvez-vous préciser le numéro de la rue ?")
    text = citizen.texts()
    assert "le service Voirie vous écrit" in text and "préciser le numéro" in text


def test_a_notice_never_greets_twice(rt) -> None:
    """An agent's words that greet the citizen (a response template often does) are the
    only greeting: the notice leaves its own out, and says whose words they are."""
    marie, number = file(rt)
    with rt.db.transaction() as session:
        reports.change_status(session, number, "in_progress",
                              message="Bonjour Marie, une équipe passe lundi.")  # fmt: skip
    text = marie.texts()
    assert text.startswith(f"Le traitement de votre signalement #{number}"), text
    assert text.count("Bonjour") == 1
    assert "Message du service Voirie\u202f: Bonjour Marie, une équipe passe lundi." in text


def test_the_last_change_is_a_day_of_the_towns_calendar(rt, new_year_in_vitre) -> None:
    marie = TalkingCitizen(rt, "marie")
    number = marie.file_report()
    assert "Dernier changement\u202f: 01/01/2028." in marie.texts(f"suivi {number}")
