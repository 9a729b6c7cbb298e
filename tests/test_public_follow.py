"""Following a report from a chat (issue 15): the public page's buttons lead to
`/start follow_1042` (Telegram), `SUIVRE 1042` (SMS, WhatsApp) or `FOLLOW 1042`; the sender
becomes a follower, is told the report's summary, and gets every later update. An unknown,
hidden or closed report gets a clear answer. Through the real webhooks, on both databases."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from models.report import is_follower
from services import moderation, reports
from services.words import parse
from tests.helpers import TalkingCitizen, add_reports
from tests.sms_support import Phone
from tests.telegram_support import CHAT, deliver, post, text_update

UPDATE_IDS = itertools.count(905001)


@pytest.fixture
def pothole(both_app) -> int:
    rt = both_app.extensions["webleads"]
    return TalkingCitizen(rt, "marie", name="Marie").file_report(description="Trou profond")


def telegram_says(app, telegram, text: str) -> str:
    """Yann (the fixtures' Telegram user) sends `text`; returns what the bot then sent."""
    before = len(telegram.sent_messages(CHAT))
    client = app.test_client()
    assert post(client, text_update(text, next(UPDATE_IDS), next(UPDATE_IDS))).status_code == 200
    deliver(app.extensions["webleads"])
    return "\n".join(m["text"] for m in telegram.sent_messages(CHAT)[before:])


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("/start follow_1042", "1042"),
        ("/start@VitreBot follow_7", "7"),
        ("SUIVRE 1042", "1042"),
        ("suivre #1042", "1042"),
        ("Follow 1042", "1042"),
        ("/suivre 1042", "1042"),
        ("suivre", None),
    ],
)
def test_the_follow_words(text, number) -> None:
    command = parse(text)
    assert (command.name, command.arg) == ("follow", number)


def test_the_report_page_offers_each_channels_follow_button(both_app, pothole) -> None:
    body = both_app.test_client().get(f"/reports/{pothole}").get_data(as_text=True)
    assert f'href="https://t.me/VitreBot?start=follow_{pothole}"' in body
    assert f'href="sms:+33939000001?body=SUIVRE+{pothole}"' in body
    assert f"SUIVRE {pothole}" in body


def test_follow_from_telegram_then_get_the_updates(both_app, telegram, pothole) -> None:
    rt = both_app.extensions["webleads"]
    said = telegram_says(both_app, telegram, f"/start follow_{pothole}")
    assert f"You now follow #{pothole} (Pothole, " in said and "registered" in said
    assert "Marie" not in said
    assert telegram_says(both_app, telegram, f"/start follow_{pothole}").startswith(
        f"You already follow #{pothole}"
    )
    with rt.db.transaction() as session:
        reports.change_status(session, pothole, "in_progress", message="Une équipe passe demain.")
    deliver(rt)
    assert "Une équipe passe demain." in telegram.sent_messages(CHAT)[-1]["text"]


def test_follow_by_sms_then_get_the_updates(both_app, twilio, pothole) -> None:
    rt = both_app.extensions["webleads"]
    phone = Phone(both_app, twilio)
    said = phone.says(f"SUIVRE {pothole}")
    assert f"You now follow #{pothole} (Pothole, " in said, said
    with rt.db.transaction() as session:
        reports.change_status(session, pothole, "resolved", message="C'est réparé.")
    assert any("C'est réparé." in text for text in phone.inbox())


@pytest.mark.parametrize("case", ["unknown", "hidden", "closed"])
def test_a_report_that_cannot_be_followed_gets_a_clear_answer(both_app, twilio, pothole, case):
    rt = both_app.extensions["webleads"]
    number = pothole
    with rt.db.transaction() as session:
        if case == "unknown":
            number = 999_999
        elif case == "hidden":
            moderation.hide(session, pothole, agent_id=None)
        else:
            reports.change_status(session, pothole, "closed", message="Hors compétence.")
    phone = Phone(both_app, twilio)
    said = phone.says(f"FOLLOW {number}")
    if case == "closed":
        assert "This report is closed: there will be no more news." in said, said
    else:
        assert f"I find no report #{number}. Check the number." in said, said
    with rt.db.reading() as session:
        from models.report import is_follower

        assert not is_follower(session, pothole, phone.citizen.id)


def test_following_in_the_middle_of_a_report_keeps_the_question(both_app, pothole) -> None:
    rt = both_app.extensions["webleads"]
    anne = TalkingCitizen(rt, "anne", name="Anne")
    anne.to_location_question()
    said = anne.texts(f"SUIVRE {pothole}")
    assert f"Vous suivez maintenant #{pothole}" in said or f"You now follow #{pothole}" in said
    assert anne.state == "location"
    assert re.search(r"(adresse|address|lieu|where)", said, re.IGNORECASE)


@time_machine.travel(datetime(2026, 12, 7, 9, 0, tzinfo=UTC), tick=False)
def test_following_is_capped_per_chat_and_per_hour(rt) -> None:
    """Following is for one's street, not for collecting the town's reports: 5 new follows
    an hour, 20 open reports followed at most (reports.MAX_FOLLOWS_PER_HOUR and
    MAX_FOLLOWED_OPEN); a refusal says so and follows nothing."""
    numbers = add_reports(rt, [{} for _ in range(reports.MAX_FOLLOWED_OPEN + 1)])
    curious = TalkingCitizen(rt, "curieux", name="Oscar", language_code="en")
    for number in numbers[:5]:
        assert "You now follow" in curious.texts(f"SUIVRE {number}")
    refused = curious.texts(f"SUIVRE {numbers[5]}")
    assert "You already follow many reports" in refused and f"#{numbers[5]}" in refused
    followed = 5
    for hour in range(1, 4):  # later hours: five more each, up to the open cap
        later = datetime(2026, 12, 7, 9, 0, tzinfo=UTC) + timedelta(minutes=61 * hour)
        with time_machine.travel(later, tick=False):
            for number in numbers[followed : followed + 5]:
                assert "You now follow" in curious.texts(f"SUIVRE {number}")
            followed += 5
    with time_machine.travel(datetime(2026, 12, 7, 14, 0, tzinfo=UTC), tick=False):
        assert followed == reports.MAX_FOLLOWED_OPEN
        assert "You already follow many reports" in curious.texts(f"SUIVRE {numbers[-1]}")
        with rt.db.reading() as session:
            assert not is_follower(session, numbers[-1], curious.citizen.id)
        # One is dealt with: room for another.
        with rt.db.transaction() as session:
            reports.change_status(session, numbers[0], "resolved")
        assert "You now follow" in curious.texts(f"SUIVRE {numbers[-1]}")
