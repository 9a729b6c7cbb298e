"""Long polling (development without a public URL) and the `webleads telegram` commands."""

from __future__ import annotations

import time

import pytest

from app.cli import cli
from app.factory import create_app
from tests.conftest import base_config
from tests.telegram_support import (
    CHAT,
    SECRET,
    Polling,
    citizen,
    deliver,
    payload,
    telegram_config,
    text_update,
)
from webhooks.telegram.client import client_for

WEBHOOK_URL = "https://webleads.example.org/webhooks/telegram"


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_polling_feeds_the_engine_and_confirms_the_offset(tg_app, tg_rt, telegram) -> None:
    talker = citizen(tg_rt)
    first = telegram.push_update(text_update("/start", 1, 1))
    button = {"text": "Pothole", "callback_data": "cat:nid-de-poule"}
    menu = {
        "message_id": 2,
        "from": telegram.bot_user,
        "chat": {"id": CHAT, "type": "private"},
        "date": 1764130000,
        "text": "What would you like to report?",
        "reply_markup": {"inline_keyboard": [[button]]},
    }
    last = telegram.push_update(
        {"callback_query": {**payload("callback_query")["callback_query"], "message": menu}}
    )

    with Polling(tg_app) as polling:
        wait_until(lambda: talker.citizen is not None and talker.state == "description")
        wait_until(lambda: telegram.pending_updates == [])  # confirmed by the next getUpdates
        took = polling.stop_now()

    polls = telegram.calls_to("getUpdates")
    assert polls[0]["timeout"] == 25
    assert polls[0]["allowed_updates"] == ["message", "edited_message", "callback_query"]
    assert {p.get("offset") for p in polls[1:]} == {last + 1} and first < last
    deliver(tg_rt)  # the outbox worker stops the button's spinner
    assert len(telegram.calls_to("answerCallbackQuery")) == 1
    print(f"\npolling stopped {took * 1000:.0f} ms after the stop event")


def test_a_redelivered_update_is_handled_once(tg_app, tg_rt, telegram) -> None:
    talker = citizen(tg_rt)
    telegram.push_update(text_update("/start", 7, 1))
    with Polling(tg_app):
        wait_until(lambda: telegram.pending_updates == [] and talker.citizen is not None)
    replies = talker.new_messages()
    telegram.push_update(text_update("/start", 7, 1))  # a restart before the offset was confirmed
    with Polling(tg_app):
        wait_until(lambda: telegram.pending_updates == [])
    assert replies and talker.new_messages() == []


def test_polling_stops_promptly_in_a_long_poll(tg_app, telegram) -> None:
    with Polling(tg_app) as polling:
        telegram.wait_for("getUpdates")
        assert polling.stop_now() < 1.0


def test_no_polling_while_a_webhook_is_set(tg_app, telegram) -> None:
    client = client_for(tg_app.extensions["webleads"].settings)
    client.call(lambda bot: bot.set_webhook(WEBHOOK_URL, secret_token=SECRET))
    telegram.push_update(text_update("/start", 9, 1))

    with Polling(tg_app) as polling:
        polling.thread.join(2)
        assert not polling.thread.is_alive()  # it looked, saw the webhook, and left
    assert telegram.calls_to("getUpdates") == []
    assert len(telegram.pending_updates) == 1


# -- webleads telegram ... --------------------------------------------------------------


def invoke(app, *args):
    return app.test_cli_runner().invoke(cli, ["telegram", *args])


@pytest.fixture
def cli_app(sqlite_url, tmp_path, telegram):
    app = create_app({**base_config(sqlite_url, tmp_path), **telegram_config(telegram)})
    yield app
    app.extensions["webleads"].db.dispose()


def test_set_webhook_then_info_then_delete(cli_app, telegram) -> None:
    result = invoke(cli_app, "set-webhook")
    assert result.exit_code == 0, result.output
    assert f"Webhook set: {WEBHOOK_URL}" in result.output

    assert telegram.webhook["url"] == WEBHOOK_URL
    assert telegram.webhook["secret_token"] == SECRET
    assert telegram.webhook["allowed_updates"] == ["message", "edited_message", "callback_query"]
    french = [c["command"] for c in telegram.commands()]
    english = [c["command"] for c in telegram.commands("en")]
    assert french == ["start", "aide", "annuler", "mesdemandes", "suivi", "langue", "supprimer"]
    assert english == ["start", "help", "cancel", "myreports", "status", "language", "delete"]
    assert all(c["description"] for c in telegram.commands() + telegram.commands("en"))
    assert telegram.commands("en")[4]["description"] == "Status of one report, e.g. /status 1042"

    info = invoke(cli_app, "info")
    assert info.exit_code == 0, info.output
    assert "Bot: @webleads_test_bot (Webleads), id 123456789" in info.output
    assert f"Webhook: {WEBHOOK_URL}" in info.output
    assert "allowed updates: message, edited_message, callback_query" in info.output

    deleted = invoke(cli_app, "delete-webhook")
    assert deleted.exit_code == 0 and telegram.webhook is None
    assert "Webhook: none" in invoke(cli_app, "info").output


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("no-token", ["info"], "TELEGRAM_BOT_TOKEN is not set"),
        ("api-down", ["info"], "Cannot reach the Telegram Bot API at http://127.0.0.1:"),
        ("api-down", ["set-webhook"], "Cannot reach the Telegram Bot API"),
        ("wrong-token", ["info"], "Telegram refused the token"),
        ("http-url", ["set-webhook"], "Telegram only calls https URLs"),
    ],
)
def test_cli_errors_are_plain_sentences(
    sqlite_url, tmp_path, telegram, setup, args, message
) -> None:
    config = {**base_config(sqlite_url, tmp_path), **telegram_config(telegram)}
    if setup == "no-token":
        config["TELEGRAM_BOT_TOKEN"] = ""
    if setup == "wrong-token":
        config["TELEGRAM_BOT_TOKEN"] = "987654321:AAwrong-token"
    if setup == "http-url":
        config["PUBLIC_BASE_URL"] = "http://localhost:5000"
    app = create_app(config)
    if setup == "api-down":
        telegram.set_down()
    try:
        result = invoke(app, *args)
    finally:
        telegram.set_down(False)
        app.extensions["webleads"].db.dispose()
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
