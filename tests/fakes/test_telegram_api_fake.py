"""The Telegram Bot API stand-in, exercised with the real python-telegram-bot client.

Each test drives a real ``telegram.Bot`` against the fake and asserts both what
the bot got back and what the fake recorded, i.e. what Telegram would have
received.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)

from .server import _Handler
from .telegram_api import MAX_DOWNLOAD_BYTES, FakeTelegramAPI

# A token with ':' so file URLs carry it percent-encoded, as with a real token.
TOKEN = "123456789:AAH-fake_token_for_tests_0123456789ab"
CITIZEN = 3527065
# Enough of a JPEG for a header reader: SOI, an APP0 segment, a SOF0 of 640x480.
JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    b"\xff\xc0\x00\x11\x08\x01\xe0\x02\x80\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    b"\xff\xd9"
)

T = TypeVar("T")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTelegramAPI]:
    with FakeTelegramAPI(TOKEN) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeTelegramAPI, monkeypatch: pytest.MonkeyPatch) -> FakeTelegramAPI:
    # PTB 22 returns time periods as timedelta with this set (the project's setting).
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    server.reset()
    return server


def run(fake: FakeTelegramAPI, scenario: Callable[[Bot], Awaitable[T]]) -> T:
    """Run `scenario` with an initialised Bot pointed at the fake, in one event loop."""

    async def main() -> T:
        async with Bot(**fake.bot_kwargs) as bot:
            return await scenario(bot)

    return asyncio.run(main())


def citizen_message(text: str, message_id: int = 1, chat_id: int = CITIZEN) -> dict[str, Any]:
    citizen = {"id": chat_id, "is_bot": False, "first_name": "Yann", "language_code": "fr"}
    return {
        "message_id": message_id,
        "from": citizen,
        "chat": {"id": chat_id, "first_name": "Yann", "type": "private"},
        "date": 1_760_000_000,
        "text": text,
    }


# -- identity and messages ----------------------------------------------------------------


def test_get_me_is_the_bot_user(fake: FakeTelegramAPI) -> None:
    me = run(fake, lambda bot: bot.get_me())

    assert me.is_bot
    assert me.id == 123456789  # the token's numeric part, as on Telegram
    assert me.username == fake.bot_user["username"]
    # Bot.__aenter__ calls getMe too.
    assert [method for method, _ in fake.calls] == ["getMe", "getMe"]


def test_send_message_with_inline_keyboard(fake: FakeTelegramAPI) -> None:
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Voirie", callback_data="cat:voirie")],
            [InlineKeyboardButton("Plan", url="https://www.vitre.bzh/")],
        ]
    )

    async def scenario(bot: Bot) -> tuple[Message, Message]:
        first = await bot.send_message(CITIZEN, "Choisissez une catégorie", reply_markup=markup)
        second = await bot.send_message(CITIZEN, "Encore ?")
        return first, second

    first, second = run(fake, scenario)

    assert fake.sent_messages(CITIZEN)[0] == {
        "chat_id": CITIZEN,
        "text": "Choisissez une catégorie",
        "reply_markup": {
            "inline_keyboard": [
                [{"text": "Voirie", "callback_data": "cat:voirie"}],
                [{"text": "Plan", "url": "https://www.vitre.bzh/"}],
            ]
        },
    }
    assert first.reply_markup == markup  # inline keyboards are echoed back
    assert (first.message_id, second.message_id) == (1, 2)
    assert first.chat.type == "private"
    assert first.chat.id == CITIZEN
    assert first.from_user is not None and first.from_user.is_bot
    assert second.reply_markup is None


def test_send_message_with_location_request_keyboard(fake: FakeTelegramAPI) -> None:
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("📍 Envoyer ma position", request_location=True)], ["Passer"]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )

    message = run(
        fake, lambda bot: bot.send_message(CITIZEN, "Où est le problème ?", reply_markup=keyboard)
    )

    assert fake.sent_messages() == [
        {
            "chat_id": CITIZEN,
            "text": "Où est le problème ?",
            "reply_markup": {
                "keyboard": [
                    [{"text": "📍 Envoyer ma position", "request_location": True}],
                    [{"text": "Passer"}],
                ],
                "resize_keyboard": True,
                "one_time_keyboard": True,
            },
        }
    ]
    assert message.reply_markup is None  # Telegram never echoes reply keyboards


def test_message_ids_continue_after_pushed_incoming_messages(fake: FakeTelegramAPI) -> None:
    fake.push_update({"message": citizen_message("/start", message_id=41)})

    message = run(fake, lambda bot: bot.send_message(CITIZEN, "Bonjour Yann"))

    assert message.message_id == 42
    assert message.chat.first_name == "Yann"  # the chat as the pushed update showed it


@pytest.mark.parametrize(
    ("label", "kwargs", "description"),
    [
        ("empty text", {"text": "  "}, "Bad Request: message text is empty"),
        ("too long", {"text": "é" * 4097}, "Bad Request: message is too long"),
        (
            "callback_data over 64 bytes",
            {
                "text": "Choix",
                "reply_markup": InlineKeyboardMarkup(
                    [[InlineKeyboardButton("x", callback_data="é" * 33)]]
                ),
            },
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        ("no such chat", {"chat_id": "@nowhere", "text": "Bonjour"}, "Bad Request: chat not found"),
    ],
)
def test_send_message_rejections(
    fake: FakeTelegramAPI, label: str, kwargs: dict[str, Any], description: str
) -> None:
    kwargs = {"chat_id": CITIZEN, **kwargs}

    with pytest.raises(BadRequest) as caught:
        run(fake, lambda bot: bot.send_message(**kwargs))

    # PTB drops the "Bad Request: " prefix and str.capitalize()s the rest (so
    # "BOT_COMMAND_INVALID" reads "Bot_command_invalid"): compare the same way.
    assert caught.value.message == description.removeprefix("Bad Request: ").capitalize()
    assert fake.sent_messages() == []
    assert len(fake.calls_to("sendMessage")) == 1


def test_edit_message_text_and_not_modified(fake: FakeTelegramAPI) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Confirmer", callback_data="ok")]])

    async def scenario(bot: Bot) -> Message:
        sent = await bot.send_message(CITIZEN, "Résumé…", reply_markup=markup)
        edited = await bot.edit_message_text(
            "Merci, votre signalement #1042 est enregistré",
            chat_id=CITIZEN,
            message_id=sent.message_id,
        )
        assert isinstance(edited, Message)
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text(
                "Merci, votre signalement #1042 est enregistré",
                chat_id=CITIZEN,
                message_id=sent.message_id,
            )
        return edited

    edited = run(fake, scenario)

    assert edited.text == "Merci, votre signalement #1042 est enregistré"
    assert edited.edit_date is not None
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard
    assert fake.calls_to("editMessageText")[0] == {
        "chat_id": CITIZEN,
        "message_id": 1,
        "text": "Merci, votre signalement #1042 est enregistré",
    }
    assert [m["text"] for m in fake.chat_messages(CITIZEN)] == [edited.text]


def test_delete_then_delete_again(fake: FakeTelegramAPI) -> None:
    async def scenario(bot: Bot) -> None:
        sent = await bot.send_message(CITIZEN, "…")
        assert await bot.delete_message(CITIZEN, sent.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
            await bot.delete_message(CITIZEN, sent.message_id)

    run(fake, scenario)

    assert fake.calls_to("deleteMessage")[0] == {"chat_id": CITIZEN, "message_id": 1}
    assert fake.chat_messages(CITIZEN) == []


def test_answer_callback_query(fake: FakeTelegramAPI) -> None:
    answered = run(
        fake,
        lambda bot: bot.answer_callback_query("4382bfdwdsb323b2d9", text="Catégorie notée"),
    )

    assert answered is True
    assert fake.calls_to("answerCallbackQuery") == [
        {"callback_query_id": "4382bfdwdsb323b2d9", "text": "Catégorie notée"}
    ]


# -- files --------------------------------------------------------------------------------


def test_get_file_and_download_with_percent_encoded_token(fake: FakeTelegramAPI) -> None:
    fake.add_file("AgACAgQAAxkBAAIB", JPEG, "photos/file_7.jpg")

    async def scenario(bot: Bot) -> tuple[Any, bytes]:
        file = await bot.get_file("AgACAgQAAxkBAAIB")
        buffer = io.BytesIO()
        await file.download_to_memory(buffer)
        return file, buffer.getvalue()

    file, data = run(fake, scenario)

    assert data == JPEG
    assert file.file_size == len(JPEG)
    assert file.file_path == f"{fake.base_url}/file/bot{TOKEN}/photos/file_7.jpg"
    assert fake.downloads == ["photos/file_7.jpg"]
    # PTB quotes the URL path, so the token's ':' travelled as %3A; both forms work.
    encoded = f"{fake.base_url}/file/bot{quote(TOKEN)}/photos/file_7.jpg"
    assert "%3A" in encoded
    assert httpx.get(encoded).content == JPEG
    assert httpx.get(f"{fake.base_url}/file/bot{TOKEN}/photos/file_7.jpg").content == JPEG


def test_get_file_refusals(fake: FakeTelegramAPI) -> None:
    fake.add_file("big", b"\0" * (MAX_DOWNLOAD_BYTES + 1))

    async def scenario(bot: Bot) -> None:
        with pytest.raises(BadRequest, match=r"(?i)file is too big"):
            await bot.get_file("big")
        with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
            await bot.get_file("nope")

    run(fake, scenario)


# -- updates and webhooks -----------------------------------------------------------------


def test_get_updates_parses_pushed_updates_and_confirms_with_offset(fake: FakeTelegramAPI) -> None:
    first = fake.push_update({"message": citizen_message("/start")})
    callback = {
        "id": "4382bfdwdsb323b2d9",
        "from": {"id": CITIZEN, "is_bot": False, "first_name": "Yann"},
        "chat_instance": "-1234",
        "data": "cat:voirie",
        "message": {
            "message_id": 2,
            "from": fake.bot_user,
            "chat": {"id": CITIZEN, "first_name": "Yann", "type": "private"},
            "date": 1_760_000_001,
            "text": "Choisissez une catégorie",
        },
    }
    second = fake.push_update({"callback_query": callback})

    async def scenario(bot: Bot) -> tuple[tuple[Update, ...], tuple[Update, ...]]:
        updates = await bot.get_updates(timeout=0)
        after = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
        return updates, after

    updates, after = run(fake, scenario)

    assert [u.update_id for u in updates] == [first, second] == [1, 2]
    assert updates[0].message is not None and updates[0].message.text == "/start"
    assert updates[1].callback_query is not None
    assert updates[1].callback_query.data == "cat:voirie"
    assert after == ()
    assert fake.pending_updates == []


def test_get_updates_long_polls_until_an_update_arrives(fake: FakeTelegramAPI) -> None:
    pusher = threading.Timer(0.3, fake.push_update, args=({"message": citizen_message("Salut")},))
    pusher.start()
    try:
        updates = run(fake, lambda bot: bot.get_updates(timeout=10))
    finally:
        pusher.cancel()

    assert [u.message.text for u in updates if u.message] == ["Salut"]
    assert fake.calls_to("getUpdates") == [{"timeout": 10}]


def test_a_newer_get_updates_terminates_a_waiting_one(fake: FakeTelegramAPI) -> None:
    url = f"{fake.base_url}/bot{TOKEN}/getUpdates"
    answers: list[httpx.Response] = []
    older = threading.Thread(target=lambda: answers.append(httpx.post(url, data={"timeout": "5"})))
    older.start()
    fake.wait_for("getUpdates")
    newer = httpx.post(url, data={"timeout": "0"})
    older.join()

    assert newer.json() == {"ok": True, "result": []}
    assert answers[0].status_code == 409
    assert answers[0].json()["description"] == (
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running"
    )


def test_webhook_set_info_and_conflict_with_get_updates(fake: FakeTelegramAPI) -> None:
    fake.push_update({"message": citizen_message("bonjour")})

    async def scenario(bot: Bot) -> Any:
        assert await bot.set_webhook(
            "https://webleads.vitre.bzh/webhooks/telegram",
            secret_token="s3cr3t-Token_42",
            allowed_updates=["message", "callback_query"],
        )
        info = await bot.get_webhook_info()
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()
        with pytest.raises(BadRequest, match=r"(?i)An HTTPS URL must be provided"):
            await bot.set_webhook("http://localhost:5000/webhooks/telegram")
        with pytest.raises(BadRequest, match=r"(?i)secret token contains unallowed characters"):
            await bot.set_webhook("https://webleads.vitre.bzh/w", secret_token="a+b/c=")
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
        return info

    info = run(fake, scenario)

    assert info.url == "https://webleads.vitre.bzh/webhooks/telegram"
    assert info.pending_update_count == 1
    assert info.allowed_updates == ("message", "callback_query")
    assert info.has_custom_certificate is False
    assert fake.calls_to("setWebhook")[0] == {
        "url": "https://webleads.vitre.bzh/webhooks/telegram",
        "secret_token": "s3cr3t-Token_42",
        "allowed_updates": ["message", "callback_query"],
    }


def test_set_my_commands_per_language(fake: FakeTelegramAPI) -> None:
    french = [
        BotCommand("signaler", "Signaler un problème"),
        BotCommand("suivi", "Mes signalements"),
    ]
    english = [BotCommand("report", "Report a problem")]

    async def scenario(bot: Bot) -> None:
        assert await bot.set_my_commands(french, language_code="fr")
        assert await bot.set_my_commands(english, language_code="en")
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand("Signaler!", "x")])

    run(fake, scenario)

    assert fake.commands("en") == [{"command": "report", "description": "Report a problem"}]
    assert fake.commands() == []  # no fallback across languages, as on Telegram
    assert fake.calls_to("setMyCommands")[0] == {
        "commands": [
            {"command": "signaler", "description": "Signaler un problème"},
            {"command": "suivi", "description": "Mes signalements"},
        ],
        "language_code": "fr",
    }


# -- failures -----------------------------------------------------------------------------


def test_429_raises_retry_after(fake: FakeTelegramAPI) -> None:
    fake.fail_next(1, status=429, retry_after=7, method="sendMessage")

    async def scenario(bot: Bot) -> None:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(CITIZEN, "Bonjour")
        assert caught.value.retry_after == dtm.timedelta(seconds=7)
        await bot.send_message(CITIZEN, "Bonjour")  # one failure only

    run(fake, scenario)

    assert fake.rejected_429 == 1
    assert fake.accepted == 1
    assert len(fake.calls_to("sendMessage")) == 2
    assert len(fake.sent_messages()) == 1


def test_502_is_a_network_error(fake: FakeTelegramAPI) -> None:
    fake.fail_next(1, status=502, method="sendMessage")

    with pytest.raises(NetworkError, match="Bad Gateway"):
        run(fake, lambda bot: bot.send_message(CITIZEN, "Bonjour"))


def test_blocked_chat_raises_forbidden(fake: FakeTelegramAPI) -> None:
    fake.block_chat(CITIZEN)

    async def scenario(bot: Bot) -> None:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(CITIZEN, "Votre signalement est résolu")
        await bot.send_message(CITIZEN + 1, "Bonjour")  # other chats are unaffected

    run(fake, scenario)

    assert fake.sent_messages(CITIZEN) == []
    assert len(fake.sent_messages(CITIZEN + 1)) == 1


def test_down_refuses_connections_until_up(fake: FakeTelegramAPI) -> None:
    async def scenario(bot: Bot) -> Message:
        fake.set_down(True)
        try:
            with pytest.raises(NetworkError):
                await bot.send_message(CITIZEN, "Bonjour")
        finally:
            fake.set_down(False)
        return await bot.send_message(CITIZEN, "Bonjour")

    assert run(fake, scenario).text == "Bonjour"


def test_enforce_limits_answers_429_to_a_burst_in_one_chat(fake: FakeTelegramAPI) -> None:
    fake.enforce_limits(global_per_second=30, per_chat_per_second=1)

    async def scenario(bot: Bot) -> list[dtm.timedelta]:
        waits = []
        for n in range(5):
            try:
                await bot.send_message(CITIZEN, f"Mise à jour {n}")
            except RetryAfter as exc:
                assert isinstance(exc.retry_after, dtm.timedelta)
                waits.append(exc.retry_after)
        await bot.send_message(CITIZEN + 1, "Un autre citoyen")  # per-chat, not global
        return waits

    waits = run(fake, scenario)

    assert fake.accepted == 2
    assert fake.rejected_429 == 4
    assert waits == [dtm.timedelta(seconds=1)] * 4
    assert [m["text"] for m in fake.sent_messages(CITIZEN)] == ["Mise à jour 0"]


# -- the HTTP surface ---------------------------------------------------------------------


def test_wrong_token_and_unknown_method(fake: FakeTelegramAPI) -> None:
    async def wrong_token() -> None:
        async with Bot("987654321:AAnotTheRightToken", base_url=f"{fake.base_url}/bot"):
            pass

    with pytest.raises(InvalidToken, match="rejected by the server"):
        asyncio.run(wrong_token())
    with pytest.raises(EndPointNotFound):
        run(fake, lambda bot: bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": 1}))

    raw = httpx.get(f"{fake.base_url}/botnot-a-token/getMe")
    assert (raw.status_code, raw.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert httpx.get(f"{fake.base_url}/bot1:wrong/getMe").json() == {
        "ok": False,
        "error_code": 401,
        "description": "Unauthorized",
    }


def test_json_form_and_query_encodings_record_the_same_params(fake: FakeTelegramAPI) -> None:
    markup = {"inline_keyboard": [[{"text": "Oui", "callback_data": "yes"}]]}
    url = f"{fake.base_url}/bot{TOKEN}/sendMessage"
    as_json = httpx.post(url, json={"chat_id": CITIZEN, "text": "Oui ?", "reply_markup": markup})
    form = {"chat_id": str(CITIZEN), "text": "Oui ?", "reply_markup": json.dumps(markup)}
    as_form = httpx.post(url, data=form)
    as_query = httpx.get(url, params=form)

    for response in (as_json, as_form, as_query):
        assert response.status_code == 200, response.text
        assert response.json()["result"]["reply_markup"] == markup
    expected = {"chat_id": CITIZEN, "text": "Oui ?", "reply_markup": markup}
    assert fake.calls_to("sendMessage") == [expected] * 3


def test_wait_for_sees_calls_from_another_thread(fake: FakeTelegramAPI) -> None:
    sender = threading.Thread(
        target=lambda: run(fake, lambda bot: bot.send_message(CITIZEN, "Statut : résolu"))
    )
    sender.start()
    try:
        [params] = fake.wait_for("sendMessage", timeout=10)
    finally:
        sender.join()

    assert params["text"] == "Statut : résolu"
    with pytest.raises(TimeoutError, match="expected 1 editMessageText"):
        fake.wait_for("editMessageText", timeout=0.05)


def test_an_answer_leaves_at_once_in_one_write_without_nagle(
    fake: FakeTelegramAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nagle's algorithm holds a write back until the last one is ACKed, and the client
    delays that ACK: a response in two writes, or without TCP_NODELAY, costs ~40 ms a call
    (bench/telegram_fake.py prints the figure; this checks the two causes, without a clock).
    """
    writes: list[bytes] = []
    setup = _Handler.setup

    def counting_setup(handler: _Handler) -> None:
        setup(handler)
        handler.wfile = _CountingWriter(handler.wfile, writes)

    monkeypatch.setattr(_Handler, "setup", counting_setup)
    request = f"POST /bot{TOKEN}/getMe HTTP/1.1\r\nHost: {fake.host}\r\nContent-Length: 0\r\n\r\n"
    with socket.create_connection((fake.host, fake.port), timeout=10) as client:
        client.sendall(request.encode())
        answer = _read_response(client)
        # Still connected (keep-alive): the server's end of this connection.
        with fake._lock:
            (served,) = [c for c in fake._connections if c.getpeername() == client.getsockname()]
        nodelay = served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b'"is_bot": true' in answer
    assert nodelay != 0
    assert writes == [answer]  # status line, headers and body: one write, one segment


class _CountingWriter:
    """The handler's socket writer, noting each write."""

    def __init__(self, raw: Any, writes: list[bytes]) -> None:
        self._raw, self._writes = raw, writes

    def write(self, data: bytes) -> int:
        self._writes.append(bytes(data))
        return self._raw.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def _read_response(sock: socket.socket) -> bytes:
    """Reads one HTTP response with a Content-Length (the stand-in always sends one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or _closed()
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head)[1])
    while len(body) < length:
        body += sock.recv(65536) or _closed()
    return head + b"\r\n\r\n" + body


def _closed() -> bytes:
    raise ConnectionError("the stand-in closed the connection mid-response")


def test_runs_standalone() -> None:
    command = [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0", "--token", TOKEN]
    root = Path(__file__).resolve().parents[2]
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().split()[-1]
            message = {"message": citizen_message("Hé")}
            pushed = httpx.post(f"{base_url}/_fake/updates", json=message)
            updates = httpx.get(f"{base_url}/bot{TOKEN}/getUpdates").json()["result"]
        finally:
            process.terminate()
            process.wait(timeout=10)

    assert base_url.startswith("http://127.0.0.1:")
    assert pushed.json() == {"ok": True, "result": [1]}
    assert updates[0]["message"]["text"] == "Hé"
