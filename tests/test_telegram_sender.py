"""The Telegram sender: each Reply as the exact request Telegram gets, and each failure."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest

from models.citizen import find_citizen
from models.db import utcnow
from models.messaging import FAILED, QUEUED, SENT, Outbox, messages_for_citizen
from services.channels import PermanentFailure, TemporaryFailure
from services.config import Settings
from tests.telegram_support import CHAT, SECRET, citizen, deliver
from webhooks.telegram.sender import TelegramSender

LOCATION_KEYBOARD = [
    [{"text": "📍 Share my location", "request_location": True}],
    [{"text": "⌨️ Type an address instead"}],
]


@pytest.fixture
def sender(telegram) -> TelegramSender:
    """A sender without a database: buttons are worded in DEFAULT_LANGUAGE (en here)."""
    settings = Settings(DEFAULT_LANGUAGE="en").replaced(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_BASE_URL=telegram.base_url,
    )
    return TelegramSender(settings)


def outbox(payload: dict, address: str = str(CHAT)) -> Outbox:
    return Outbox(id=1, citizen_id=1, channel="telegram", address=address, payload=payload)


RENDERING = [
    ("plain", {"text": "Hello"}, [("sendMessage", {"text": "Hello"})]),
    (
        "markup-is-text",
        {"text": "<b>12 & 14</b> *rue* _de_ [la](x) `Gare`"},
        [("sendMessage", {"text": "<b>12 & 14</b> *rue* _de_ [la](x) `Gare`"})],
    ),
    (
        "short-choices-one-row",
        {"text": "Sure?", "choices": [["yes", "Yes"], ["no", "No"]]},
        [
            (
                "sendMessage",
                {
                    "text": "Sure?",
                    "reply_markup": {
                        "inline_keyboard": [
                            [
                                {"text": "Yes", "callback_data": "yes"},
                                {"text": "No", "callback_data": "no"},
                            ]
                        ]
                    },
                },
            )
        ],
    ),
    (
        "long-choices-one-per-row",
        {"text": "Which?", "choices": [["place:0", "12 Rue de la Poterie 35500 Vitré"],
                                       ["no", "None of these"]]},
        [
            (
                "sendMessage",
                {
                    "text": "Which?",
                    "reply_markup": {
                        "inline_keyboard": [
                            [{"text": "12 Rue de la Poterie 35500 Vitré",
                              "callback_data": "place:0"}],
                            [{"text": "None of these", "callback_data": "no"}],
                        ]
                    },
                },
            )
        ],
    ),
    (
        "request-location",
        {"text": "Where?", "request_location": True},
        [
            (
                "sendMessage",
                {
                    "text": "Where?",
                    "reply_markup": {
                        "keyboard": LOCATION_KEYBOARD,
                        "one_time_keyboard": True,
                        "resize_keyboard": True,
                    },
                },
            )
        ],
    ),
    (
        "request-location-with-skip",
        {"text": "Where?", "request_location": True, "choices": [["skip", "Skip"]]},
        [
            (
                "sendMessage",
                {
                    "text": "Where?",
                    "reply_markup": {
                        "keyboard": [*LOCATION_KEYBOARD, [{"text": "Skip"}]],
                        "one_time_keyboard": True,
                        "resize_keyboard": True,
                    },
                },
            )
        ],
    ),
    (
        "remove-keyboard",
        {"text": "Describe it.", "remove_keyboard": True},
        [("sendMessage", {"text": "Describe it.", "reply_markup": {"remove_keyboard": True}})],
    ),
    (
        "remove-keyboard-and-buttons",
        {"text": "Send?", "choices": [["yes", "Send"]], "remove_keyboard": True},
        [
            (
                "sendMessage",
                {"text": "…", "disable_notification": True,
                 "reply_markup": {"remove_keyboard": True}},
            ),
            ("deleteMessage", {"message_id": 1}),
            (
                "sendMessage",
                {"text": "Send?", "reply_markup": {
                    "inline_keyboard": [[{"text": "Send", "callback_data": "yes"}]]}},
            ),
        ],
    ),
    (
        "edit",
        {"text": "What?\n\n→ Pothole", "edit_message_id": 41},
        [("editMessageText", {"text": "What?\n\n→ Pothole", "message_id": 41})],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "calls"), [r[1:] for r in RENDERING], ids=[r[0] for r in RENDERING]
)
def test_each_reply_is_the_exact_request_telegram_gets(telegram, sender, payload, calls) -> None:
    provider_id = sender.send(outbox(payload))

    assert telegram.calls == [(method, {"chat_id": CHAT, **params}) for method, params in calls]
    expected_id = payload.get("edit_message_id") or telegram.chat_messages(CHAT)[-1]["message_id"]
    assert provider_id == f"{CHAT}:{expected_id}"


def test_user_text_arrives_verbatim(telegram, sender) -> None:
    text = "Tag <script>alert(1)</script> & *étoile* près du n°12 — 🚧"
    sender.send(outbox({"text": text}))
    assert telegram.chat_messages(CHAT)[-1]["text"] == text
    assert "entities" not in telegram.chat_messages(CHAT)[-1]


def test_a_very_long_text_is_cut_to_telegram_limit(telegram, sender) -> None:
    sender.send(outbox({"text": "é" * 5000}))
    text = telegram.chat_messages(CHAT)[-1]["text"]
    assert len(text) <= 4096 and text.endswith("…")


def test_a_redelivered_edit_that_changes_nothing_is_not_a_failure(telegram, sender) -> None:
    message = outbox({"text": "What?\n\n→ Pothole", "edit_message_id": 7})
    assert sender.send(message) == sender.send(message) == f"{CHAT}:7"


FAILURES = [
    ("429", dict(status=429, retry_after=7), TemporaryFailure, 7.0, None),
    ("502", dict(status=502), TemporaryFailure, None, None),
    ("500", dict(status=500), TemporaryFailure, None, None),
    ("403", dict(status=403, description="Forbidden: bot was blocked by the user"),
     PermanentFailure, None, "unreachable"),
    ("chat-not-found", dict(status=400, description="Bad Request: chat not found"),
     PermanentFailure, None, "unreachable"),
    ("other-400", dict(status=400, description="Bad Request: message text is empty"),
     PermanentFailure, None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("injected", "error", "retry_after", "flag"),
    [r[1:] for r in FAILURES],
    ids=[r[0] for r in FAILURES],
)
def test_telegram_errors_become_retry_or_give_up(
    telegram, sender, injected, error, retry_after, flag
) -> None:
    telegram.fail_next(1, method="sendMessage", **injected)
    with pytest.raises(error) as excinfo:
        sender.send(outbox({"text": "Hello"}))
    if error is TemporaryFailure:
        assert excinfo.value.retry_after == retry_after
    else:
        assert excinfo.value.citizen_flag == flag


def test_telegram_unreachable_is_temporary(telegram, sender) -> None:
    telegram.set_down()
    try:
        with pytest.raises(TemporaryFailure, match="NetworkError"):
            sender.send(outbox({"text": "Hello"}))
    finally:
        telegram.set_down(False)
    assert sender.send(outbox({"text": "Hello"})).startswith(f"{CHAT}:")


def test_a_choice_too_long_for_a_button_is_refused_without_calling(telegram, sender) -> None:
    with pytest.raises(PermanentFailure, match="callback data"):
        sender.send(outbox({"text": "Pick", "choices": [["x" * 65, "Too long"]]}))
    assert telegram.calls == []


# -- through the outbox worker and the database ---------------------------------------


def citizen_with_one_message_queued(rt):
    """The citizen talked, got the answers, then wrote once more: one reply is queued."""
    talker = citizen(rt)
    talker.say("/start")
    deliver(rt)
    talker.say("/annuler")
    with rt.db.reading() as session:
        queued = [m for m in messages_for_citizen(session, talker.citizen.id) if m.status == QUEUED]
    assert len(queued) == 1
    return talker, queued[0].id


def test_429_is_retried_after_the_time_telegram_asks(tg_rt, telegram) -> None:
    talker, message_id = citizen_with_one_message_queued(tg_rt)
    telegram.fail_next(1, method="sendMessage", status=429, retry_after=1)
    failed_at = utcnow()

    deliver(tg_rt)
    deliver(tg_rt)  # too early: nothing is due

    with tg_rt.db.reading() as session:
        [row] = [m for m in messages_for_citizen(session, talker.citizen.id) if m.id == message_id]
    assert row.status == QUEUED and "RetryAfter" in row.last_error
    assert row.next_attempt_at >= failed_at + timedelta(seconds=0.9)
    assert len(telegram.calls_to("sendMessage")) == 2 + 1  # the earlier two, the refused one

    time.sleep(1.05)
    deliver(tg_rt)

    assert telegram.sent_messages(CHAT)[-1]["text"].startswith("Cancelled")
    assert len(telegram.calls_to("sendMessage")) == 2 + 2  # refused once, then accepted
    with tg_rt.db.reading() as session:
        [row] = [m for m in messages_for_citizen(session, talker.citizen.id) if m.id == message_id]
    assert row.status == SENT


def test_blocked_bot_marks_the_citizen_unreachable_and_stops(tg_rt, telegram) -> None:
    talker, message_id = citizen_with_one_message_queued(tg_rt)
    telegram.block_chat(CHAT)

    deliver(tg_rt)
    deliver(tg_rt)

    assert len(telegram.calls_to("sendMessage")) == 2 + 1  # the earlier two, the refused one
    with tg_rt.db.reading() as session:
        assert find_citizen(session, "telegram", str(CHAT)).unreachable
        rows = messages_for_citizen(session, talker.citizen.id)
    assert [(m.id, m.status) for m in rows if m.status != SENT] == [(message_id, FAILED)]


def test_a_citizen_who_unblocks_the_bot_is_answered_again(tg_rt, telegram) -> None:
    talker, _ = citizen_with_one_message_queued(tg_rt)
    telegram.block_chat(CHAT)
    deliver(tg_rt)
    telegram.unblock_chat(CHAT)  # a blocked bot receives nothing: writing again means unblocked
    talker.say("/aide")
    deliver(tg_rt)
    assert "/mesdemandes" in telegram.sent_messages(CHAT)[-1]["text"]
    with tg_rt.db.reading() as session:
        assert not find_citizen(session, "telegram", str(CHAT)).unreachable


def test_location_buttons_speak_the_citizen_language(tg_rt, telegram) -> None:
    talker = citizen(tg_rt, language_code="fr")
    for said in [dict(text="/start"), dict(choice="cat:nid-de-poule"),
                 dict(text="Un trou profond"), dict(choice="skip")]:  # fmt: skip
        talker.say(**said)
    deliver(tg_rt)
    from services.texts import translate

    keyboard = telegram.sent_messages(CHAT)[-1]["reply_markup"]["keyboard"]
    assert keyboard[0][0]["text"] == translate("fr", "📍 Share my location")
    assert keyboard[1][0]["text"] == translate("fr", "⌨️ Type an address instead")


def test_send_latency(telegram, sender, capsys) -> None:
    """Measures one message through the sender to the fake (printed, not asserted)."""
    sender.send(outbox({"text": "warm-up"}))
    timings = []
    for n in range(25):
        started = time.perf_counter()
        sender.send(outbox({"text": f"Message {n}", "choices": [["yes", "Yes"], ["no", "No"]]}))
        timings.append((time.perf_counter() - started) * 1000)
    with capsys.disabled():
        print(
            f"\nTelegram send latency over {len(timings)} messages: "
            f"median {statistics.median(timings):.2f} ms, "
            f"p90 {sorted(timings)[int(len(timings) * 0.9)]:.2f} ms, "
            f"max {max(timings):.2f} ms"
        )
    assert len(telegram.sent_messages(CHAT)) == 26
