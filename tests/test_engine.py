"""The engine: dedupe, one transaction per message, one citizen's messages in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from bot import flow
from bot.engine import handle
from models.citizen import count_citizens
from models.report import count_reports
from services.types import Inbound
from tests.helpers import TalkingCitizen, run_python


def test_redelivered_message_has_no_second_effect(rt) -> None:
    citizen = TalkingCitizen(rt)
    first = citizen.say("bonjour", external_id="update-1")
    again = citizen.say("bonjour", external_id="update-1")
    assert first and again == []
    assert citizen.state == "menu"


def test_same_external_id_on_another_channel_is_another_message(rt) -> None:
    TalkingCitizen(rt, "a", channel="dev").say("bonjour", external_id="42")
    replies = TalkingCitizen(rt, "+33600000000", channel="sms").say("bonjour", external_id="42")
    assert replies


def test_crash_in_a_step_leaves_nothing_half_written(rt, monkeypatch) -> None:
    citizen = TalkingCitizen(rt)
    for inbound in [
        dict(text="bonjour"),
        dict(choice="cat:nid-de-poule"),
        dict(text="Un trou"),
        dict(choice="skip"),
        dict(location=(48.12, -1.2)),
    ]:
        citizen.say(**inbound)
    from handlers import confirm

    original = confirm.reports.file_report

    def file_then_crash(*args, **kwargs):
        original(*args, **kwargs)  # the report row is written...
        raise RuntimeError("disk on fire")  # ...then the step fails

    monkeypatch.setattr(confirm.reports, "file_report", file_then_crash)
    with pytest.raises(RuntimeError):
        handle(Inbound("dev", "marie", external_id="crash-1", choice="yes"), rt)
    with rt.db.reading() as session:
        assert count_reports(session) == 0
    assert citizen.state == "confirm"
    assert citizen.new_messages() == []
    # The provider redelivers the same message: it is handled now, not deduplicated away.
    monkeypatch.setattr(confirm.reports, "file_report", original)
    handle(Inbound("dev", "marie", external_id="crash-1", choice="yes"), rt)
    with rt.db.reading() as session:
        assert count_reports(session) == 1
    assert citizen.state == "idle"


def test_two_messages_of_one_citizen_do_not_interleave(rt, monkeypatch) -> None:
    """The second message waits for the first: it sees the state the first one left."""
    citizen = TalkingCitizen(rt)
    citizen.say("bonjour")
    from handlers import menu

    real_choose = menu.choose
    entered = threading.Event()

    def slow_choose(ctx, msg):
        entered.set()
        time.sleep(0.6)  # hold the conversation while the second message arrives
        return real_choose(ctx, msg)

    monkeypatch.setitem(flow.FLOW["menu"].accepts, "choice", slow_choose)
    errors = []

    def send(**kwargs):
        try:
            handle(Inbound("dev", "marie", **kwargs), rt)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    first = threading.Thread(target=send, kwargs=dict(external_id="m1", choice="cat:lampadaire"))
    second = threading.Thread(target=send, kwargs=dict(external_id="m2", text="Il clignote"))
    first.start()
    assert entered.wait(5)
    second.start()
    first.join(10)
    second.join(10)
    assert not errors
    # Serialised: the description was taken by the description step, not the menu.
    assert citizen.state == "photo"
    assert citizen.conversation.draft["description"] == "Il clignote"


def test_first_messages_of_many_citizens_at_once(rt) -> None:
    """Concurrent first contacts each create exactly one citizen, none fails."""
    errors = []

    def first_contact(i: int) -> None:
        try:
            handle(Inbound("dev", f"c{i % 5}", external_id=f"e{i}", text="bonjour"), rt)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=first_contact, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    with rt.db.reading() as session:
        assert count_citizens(session) == 5


def test_language_defaults_from_the_client(rt) -> None:
    english = TalkingCitizen(rt, "e", language_code="en-US")
    assert "What would you like to report?" in english.texts("hi")
    unknown = TalkingCitizen(rt, "d", language_code="de")
    assert "Que souhaitez-vous signaler" in unknown.texts("hallo")


@contextmanager
def statements(rt) -> Iterator[list[str]]:
    """The SQL statements sent while inside (BEGIN and COMMIT left out): round trips."""
    sent: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT")):
            sent.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", count)


def test_a_step_costs_two_round_trips_on_postgresql(rt) -> None:
    """On PostgreSQL the message's id, the citizen's lock and state in one statement; the
    conversation saved, the reply queued and the chat's backlog trimmed in another. On
    SQLite four: the id, the citizen with the count of their waiting replies, the
    conversation, the reply; the backlog is trimmed only when the count says it must be
    (test_delivery.py's flooding chat)."""
    citizen = TalkingCitizen(rt)
    citizen.say("bonjour")
    with statements(rt) as sent:
        handle(Inbound("dev", "marie", external_id="step-2", choice="cat:nid-de-poule"), rt)
    assert citizen.state == "description"
    assert len(sent) == (2 if rt.db.is_postgres else 4), sent
    with statements(rt) as sent:
        again = handle(Inbound("dev", "marie", external_id="step-2", choice="cat:nid-de-poule"), rt)
    assert again.duplicate
    assert len(sent) == 1, sent
    assert citizen.state == "description"


def test_first_message_of_a_new_citizen_after_a_redelivery_check(rt) -> None:
    """A first message creates the citizen once; its redelivery creates nothing more."""
    first = handle(Inbound("dev", "nouveau", external_id="first-1", text="bonjour"), rt)
    again = handle(Inbound("dev", "nouveau", external_id="first-1", text="bonjour"), rt)
    assert not first.duplicate and first.state == "menu" and first.replies
    assert again.duplicate and again.citizen_id is None
    with rt.db.reading() as session:
        assert count_citizens(session) == 1


FRESH_PROCESS = """
import sys
from pathlib import Path

from app.factory import create_app
from bot.engine import handle
from services.types import Inbound
from tests.conftest import base_config

url, tmp = sys.argv[1:3]
rt = create_app(base_config(url, Path(tmp))).extensions["webleads"]
handled = handle(Inbound("telegram", "4242", external_id="u1", text="bonjour"), rt)
print(handled.replies)
"""


def test_a_worker_just_started_answers_a_new_citizens_first_message(database_url, tmp_path):
    """The first thing a fresh process does with the ORM is a new citizen's first message
    (a gunicorn worker just booted): it is answered, not failed."""
    run = run_python(FRESH_PROCESS, database_url, str(tmp_path))
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout.split()[-1]) >= 1  # the welcome
