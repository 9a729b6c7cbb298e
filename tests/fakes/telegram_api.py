"""A local stand-in for the Telegram Bot API: the methods the product calls, as Telegram answers.

Tests and benchmarks point ``TELEGRAM_API_BASE_URL`` at it; the app builds its
``telegram.Bot`` as usual::

    Bot(token, base_url=f"{fake.base_url}/bot", base_file_url=f"{fake.base_url}/file/bot")

so the requests the project sends, the answers it parses and the errors it has
to handle (``RetryAfter``, ``Forbidden``, ``BadRequest``, ``NetworkError``,
``Conflict``) are the real ones.

What it reproduces, and where it knowingly differs from Telegram:

- ``/bot<token>/<method>``, parameters in the query string, a form-urlencoded
  body (python-telegram-bot sends forms, every non-string value JSON-encoded)
  or a JSON body. A token other than the configured one answers 401 when it is
  shaped like a token (``123:abc``) and 404 otherwise; an unknown method 404.
- The methods the product calls: getMe, sendMessage, editMessageText,
  deleteMessage, answerCallbackQuery, getFile (+ the file download URL, whose
  token python-telegram-bot percent-encodes), getUpdates, setWebhook,
  deleteWebhook, getWebhookInfo, setMyCommands. Texts are plain (the product
  sends no parse_mode): trimmed, 4096 UTF-16 units at most. Message ids grow per
  chat (past the ids of pushed incoming messages), ``from`` is the bot, only
  inline keyboards are echoed in ``reply_markup``, callback_data over 64 bytes
  is BUTTON_DATA_INVALID, an edit that changes nothing is "message is not
  modified", an edit without reply_markup drops the inline keyboard.
- getUpdates: offset confirms earlier updates, limit, long polling up to
  ``timeout`` seconds, ``allowed_updates`` remembered between calls, 409
  Conflict while a webhook is set or when a newer getUpdates supersedes a
  waiting one. setWebhook requires https on port 80/88/443/8443 and a secret
  token of ``[A-Za-z0-9_-]{1,256}``. Pushed updates are never POSTed to the
  webhook: tests post updates to the app's route themselves.
- Leniency (the fake cannot know what happened before it started): editing or
  deleting a message id it never saw succeeds.
- Failure injection: ``block_chat`` (403), ``fail_next`` (429 with retry_after,
  or any status; 502/503/504 come as nginx's HTML page, as from Telegram's
  front), ``set_down`` (connection refused: NetworkError), ``enforce_limits``
  (sliding windows: 30 messages/s overall, 1/s per chat).

Run it alone with ``python -m tests.fakes.telegram_api --port 8081 --token TOKEN``;
``POST /_fake/updates`` (an update or a list) and ``GET /_fake/calls`` let another
process drive it.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import math
import mimetypes
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.server import FakeServer, Request, Response

DEFAULT_TOKEN = "123456789:AAHfakeTokenForWebleadsTests_0123456"
DEFAULT_BOT_USERNAME = "webleads_test_bot"
DEFAULT_BOT_FIRST_NAME = "Webleads"
# Who the bot talks to when a test did not push an update from that chat first.
DEFAULT_CITIZEN_FIRST_NAME = "Camille"

MAX_MESSAGE_LENGTH = 4096  # UTF-16 code units
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files
WEBHOOK_PORTS = (80, 88, 443, 8443)

Params = dict[str, Any]
Call = tuple[str, Params]

# Methods that post into a chat: blocked for a blocked chat; sendMessage is
# also the one counted against the flood limits.
CHAT_METHODS = frozenset({"sendMessage", "sendPhoto", "editMessageText", "deleteMessage"})

BLOCKED_DESCRIPTION = "Forbidden: bot was blocked by the user"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
# What Telegram's nginx front answers when the Bot API server behind it is unwell.
NGINX_PAGE = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
NGINX_STATUSES = frozenset({502, 503, 504})

# How a form field's string becomes the JSON type the Bot API defines for it;
# fields not listed are strings (text, url, file_id...).
JSON_FIELDS = frozenset({"reply_markup", "allowed_updates", "commands"})
INT_FIELDS = frozenset({"chat_id", "message_id", "offset", "limit", "timeout"})
BOOL_FIELDS = frozenset({"disable_notification", "drop_pending_updates"})
# An inline button must do something: one of these besides its text.
INLINE_BUTTON_ACTIONS = frozenset({"url", "callback_data"})


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: Params | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes

    def as_file(self) -> Params:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class _StoredMessage:
    message: Params
    sent_by_bot: bool
    deleted: bool = False


@dataclass
class _Failure:
    status: int
    retry_after: int
    method: str | None
    description: str | None


# --------------------------------------------------------------------------------------------
# Request decoding


def decode_params(request: Request) -> Params:
    """The call's parameters, from the query string and a form or JSON body, typed."""
    raw: Params = dict(parse_qsl(request.query, keep_blank_values=True))
    mime = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if request.body and mime == "application/json":
        try:
            decoded = json.loads(request.body)
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(decoded, dict):
            raise bad_request("JSON object expected")
        raw.update(decoded)
    elif request.body and mime == "multipart/form-data":
        raw.update(_multipart(request))
    elif request.body:
        raw.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    return {name: _coerce_field(name, value) for name, value in raw.items()}


def _multipart(request: Request) -> Params:
    """A form with a file (sendPhoto's upload): fields as text, files as bytes."""
    from email.parser import BytesParser
    from email.policy import HTTP

    head = f"Content-Type: {request.headers.get('Content-Type')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    fields: Params = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        fields[name] = data if part.get_filename() is not None else data.decode()
    return fields


def _coerce_field(name: str, value: Any) -> Any:
    """A form sends ``reply_markup`` as a JSON string and ``message_id`` as "12"; Telegram
    reads either the same way, so the recorded params do not depend on the encoding."""
    if not isinstance(value, str):
        return value
    if name in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None
    if name in INT_FIELDS:
        with contextlib.suppress(ValueError):
            return int(value)
        return value
    if name in BOOL_FIELDS:
        return value.strip().lower() in ("true", "1")
    return value


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _checked_text(params: Params) -> str:
    """The text as Telegram stores it (trimmed), or its refusal."""
    text = params.get("text")
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise bad_request("message text is empty")
    if _utf16_len(text) > MAX_MESSAGE_LENGTH:
        raise bad_request("message is too long")
    return text


def _checked_markup(markup: Any, *, inline_only: bool = False) -> Params | None:
    """Validate reply_markup the way Telegram does for the keyboards the product sends."""
    if markup is None:
        return None
    inline = isinstance(markup, dict) and "inline_keyboard" in markup
    if not isinstance(markup, dict) or (inline_only and not inline):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if inline:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse inline keyboard button: Array expected")
        for button in (b for row in rows for b in row):
            if not isinstance(button, dict) or not INLINE_BUTTON_ACTIONS & set(button):
                raise bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
    elif not ({"keyboard", "remove_keyboard"} & set(markup)):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return copy.deepcopy(markup)


# --------------------------------------------------------------------------------------------
# Flood limits


class _Window:
    """At most `capacity` events in any `seconds`-long sliding window."""

    def __init__(self, rate: float) -> None:
        # 0.5/s means one message per 2 s, not zero per second.
        self.capacity, self.seconds = (int(rate), 1.0) if rate >= 1 else (1, 1.0 / rate)
        self.events: deque[float] = deque()

    def retry_after(self, now: float) -> int | None:
        while self.events and self.events[0] <= now - self.seconds:
            self.events.popleft()
        if len(self.events) < self.capacity:
            return None
        return max(1, math.ceil(self.events[0] + self.seconds - now))


@dataclass
class _Limits:
    global_per_second: float | None
    per_chat_per_second: float | None
    chats: dict[Any, _Window] = field(default_factory=dict)
    global_window: _Window | None = None

    def __post_init__(self) -> None:
        if self.global_per_second:
            self.global_window = _Window(self.global_per_second)

    def admit(self, chat_id: Any, now: float) -> int | None:
        """Record a send and return None, or return the retry_after of a refusal."""
        windows = [self.global_window]
        if self.per_chat_per_second:
            windows.append(self.chats.setdefault(chat_id, _Window(self.per_chat_per_second)))
        waits = [wait for w in windows if w and (wait := w.retry_after(now)) is not None]
        if waits:
            return max(waits)
        for window in windows:
            if window:
                window.events.append(now)
        return None


# --------------------------------------------------------------------------------------------
# The fake

_API_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z0-9_]+)/?$")
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")


class FakeTelegramAPI(FakeServer):
    """The Telegram Bot API on 127.0.0.1, with recording and failure injection."""

    name = "fake-telegram"
    server_version = "nginx/1.18.0"

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.token = token
        head = token.split(":", 1)[0]
        self.bot_user: Params = {
            "id": int(head) if head.isdigit() else 123456789,
            "is_bot": True,
            "first_name": DEFAULT_BOT_FIRST_NAME,
            "username": DEFAULT_BOT_USERNAME,
        }
        self._methods: dict[str, Callable[[Params], Any]] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "editMessageText": self._edit_message_text,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
        }
        self._reset_state()

    def _reset_state(self) -> None:
        self._calls: list[Call] = []
        self._outcomes: list[int] = []  # HTTP status answered to each call, in step
        self._downloads: list[str] = []
        self._chats: dict[Any, Params] = {}
        self._last_message_id: dict[Any, int] = {}
        self._messages: dict[tuple[Any, int], _StoredMessage] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._updates: list[Params] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook: Params | None = None
        self._commands: dict[str, list[Params]] = {}
        self._blocked: dict[Any, str] = {}
        self._failures: deque[_Failure] = deque()
        self._limits: _Limits | None = None
        self._accepted = 0
        self._rejected_429 = 0

    @property
    def bot_kwargs(self) -> dict[str, str]:
        """``Bot(**fake.bot_kwargs)``: token, base_url and base_file_url pointing here."""
        return {
            "token": self.token,
            "base_url": f"{self.base_url}/bot",
            "base_file_url": f"{self.base_url}/file/bot",
        }

    # -- scripting ------------------------------------------------------------------------

    def add_file(self, file_id: str, data: bytes, file_path: str | None = None) -> Params:
        """Register a downloadable file (e.g. a citizen's photo); return its File object.

        `file_path` defaults to ``photos/file_<n>.jpg``, n counting from 0.
        """
        with self._lock:
            path = file_path or f"photos/file_{len(self._files)}.jpg"
            unique = "AQAD" + hashlib.sha1(file_id.encode()).hexdigest()[:12]
            stored = _StoredFile(file_id, unique, path, bytes(data))
            self._files[file_id] = stored
            self._files_by_path[path] = stored
            return stored.as_file()

    def push_update(self, update: Params) -> int:
        """Queue an update for getUpdates; return its update_id (assigned when missing).

        The chats and message ids it carries are remembered, so the bot's next
        message in that chat gets a later id and the citizen's real chat object.
        """
        update = copy.deepcopy(update)
        with self._lock:
            if "update_id" not in update:
                update = {"update_id": self._next_update_id, **update}
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
            self._learn_from_update(update)
            self._updates.append(update)
            self._changed.notify_all()
            return int(update["update_id"])

    def block_chat(self, chat_id: int | str, description: str = BLOCKED_DESCRIPTION) -> None:
        """Answer 403 to anything sent to `chat_id`."""
        with self._lock:
            self._blocked[_chat_key(chat_id)] = description

    def unblock_chat(self, chat_id: int | str) -> None:
        """Undo `block_chat`."""
        with self._lock:
            self._blocked.pop(_chat_key(chat_id), None)

    def fail_next(
        self,
        n: int = 1,
        status: int = 429,
        retry_after: int = 2,
        *,
        method: str | None = None,
        description: str | None = None,
    ) -> None:
        """Answer the next `n` calls (of `method` only, if given) with an error.

        429 -> ``Too Many Requests: retry after N`` with ``parameters.retry_after``;
        502/503/504 -> nginx's HTML error page; other statuses -> a JSON error
        with `description` (default: the HTTP reason). python-telegram-bot calls
        getMe when a Bot is initialised: pass `method` to aim past it.
        """
        with self._lock:
            self._failures.extend(
                _Failure(status, retry_after, method, description) for _ in range(n)
            )

    def enforce_limits(
        self, global_per_second: float | None = 30, per_chat_per_second: float | None = 1
    ) -> None:
        """Answer 429 to sendMessage over Telegram's flood limits.

        Sliding windows over real time: no second ever sees more than
        `global_per_second` accepted sends, nor a chat more than
        `per_chat_per_second`; a refusal carries retry_after = whole seconds
        until the window frees a slot (at least 1), as Telegram's does. None
        lifts a limit.
        """
        with self._lock:
            self._limits = _Limits(global_per_second, per_chat_per_second)

    def reset(self) -> None:
        """Back to a fresh state; a down fake comes back up."""
        with self._lock:
            self._reset_state()
            self._changed.notify_all()
        self.set_down(False)

    # -- inspection -----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every authenticated call received, oldest first, whatever the answer."""
        with self._lock:
            return [(method, dict(params)) for method, params in self._calls]

    def calls_to(self, method: str) -> list[Params]:
        """The params of every `method` call received, whatever the answer."""
        return [params for name, params in self.calls if name == method]

    def sent_messages(self, chat_id: int | str | None = None) -> list[Params]:
        """The params of sendMessage calls Telegram accepted (to `chat_id`, if given)."""
        key = None if chat_id is None else _chat_key(chat_id)
        with self._lock:
            return [
                dict(params)
                for (method, params), status in zip(self._calls, self._outcomes, strict=True)
                if method == "sendMessage"
                and status == 200
                and (key is None or _chat_key(params.get("chat_id")) == key)
            ]

    def chat_messages(self, chat_id: int | str) -> list[Params]:
        """The bot's messages in a chat as they stand now (edits applied, deleted ones gone)."""
        key = _chat_key(chat_id)
        with self._lock:
            return [
                copy.deepcopy(stored.message)
                for (chat, _), stored in sorted(self._messages.items(), key=lambda kv: kv[0][1])
                if chat == key and stored.sent_by_bot and not stored.deleted
            ]

    @property
    def downloads(self) -> list[str]:
        """The file_path of every file downloaded, oldest first."""
        with self._lock:
            return list(self._downloads)

    @property
    def webhook(self) -> Params | None:
        """The webhook as set (url, secret_token, allowed_updates), or None."""
        with self._lock:
            return copy.deepcopy(self._webhook)

    def commands(self, language_code: str = "") -> list[Params]:
        """The command list set for a language ("" is the default list)."""
        with self._lock:
            return copy.deepcopy(self._commands.get(language_code, []))

    @property
    def pending_updates(self) -> list[Params]:
        """Updates pushed and not yet confirmed by a getUpdates offset."""
        with self._lock:
            return copy.deepcopy(self._updates)

    @property
    def accepted(self) -> int:
        """How many sendMessage calls were answered 200."""
        with self._lock:
            return self._accepted

    @property
    def rejected_429(self) -> int:
        """How many calls were answered 429 (flood limit or `fail_next`)."""
        with self._lock:
            return self._rejected_429

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        predicate: Callable[[Params], bool] | None = None,
    ) -> list[Params]:
        """Wait until `count` `method` calls (matching `predicate`) were received; return them.

        Raises TimeoutError naming what did arrive, for a readable test failure.
        """
        matching = self._wait_until(
            lambda: [
                dict(params)
                for name, params in self._calls
                if name == method and (predicate is None or predicate(params))
            ],
            lambda found: len(found) >= count,
            timeout,
        )
        if len(matching) < count:
            seen = [name for name, _ in self.calls]
            raise TimeoutError(
                f"expected {count} {method} call(s) within {timeout}s, got {len(matching)}: "
                f"{matching}; methods called: {seen}"
            )
        return matching[:count]

    # -- HTTP entry points (called from server threads) ------------------------------------

    def handle(self, request: Request) -> Response:
        if match := _API_PATH.match(request.path):
            return self._handle_api(unquote(match["token"]), match["method"], request)
        if match := _FILE_PATH.match(request.path):
            # python-telegram-bot percent-encodes the whole URL path, so the
            # token's ':' arrives as %3A; other clients send it raw. Accept both.
            return self._handle_download(unquote(match["token"]), unquote(match["path"]))
        if request.path.startswith("/_fake/"):
            return self._handle_control(request)
        return _error_response(ApiError(404, "Not Found"))

    def internal_error(self) -> Response:
        return _error_response(ApiError(500, "Internal Server Error"))

    def _auth_error(self, token: str) -> ApiError | None:
        if token == self.token:
            return None
        # Telegram answers 404 to what is not even shaped like a token.
        if re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            return ApiError(401, "Unauthorized")
        return ApiError(404, "Not Found")

    def _handle_api(self, token: str, method: str, request: Request) -> Response:
        if (error := self._auth_error(token)) is not None:
            return _error_response(error)
        try:
            params = decode_params(request)
        except ApiError as exc:
            params, response = {}, _error_response(exc)
        else:
            response = None
        with self._lock:
            index = len(self._calls)
            self._calls.append((method, params))
            self._outcomes.append(0)
            outcomes = self._outcomes
            self._changed.notify_all()
        if response is None:
            try:
                response = _json_response(200, {"ok": True, "result": self._answer(method, params)})
            except ApiError as exc:
                response = _error_response(exc)
        with self._lock:
            if outcomes is not self._outcomes:
                return response  # reset() ran meanwhile: this call belongs to the past
            outcomes[index] = response.status
            if response.status == 429:
                self._rejected_429 += 1
            elif response.status == 200 and method == "sendMessage":
                self._accepted += 1
            self._changed.notify_all()
        return response

    def _answer(self, method: str, params: Params) -> Any:
        """Run the checks Telegram runs before a method, then the method."""
        with self._lock:
            failure = next((f for f in self._failures if f.method in (None, method)), None)
            if failure is not None:
                self._failures.remove(failure)
                raise _injected_error(failure)
            if method not in self._methods:
                raise ApiError(404, "Not Found")
            if method in CHAT_METHODS:
                chat = _chat_key(params.get("chat_id"))
                if chat in self._blocked:
                    raise ApiError(403, self._blocked[chat])
        return self._methods[method](params)

    def _handle_download(self, token: str, file_path: str) -> Response:
        if (error := self._auth_error(token)) is not None:
            return _error_response(error)
        with self._lock:
            stored = self._files_by_path.get(file_path)
            if stored is None:
                return _error_response(ApiError(404, "Not Found"))
            self._downloads.append(file_path)
            self._changed.notify_all()
        content_type = mimetypes.guess_type(file_path)[0] or "application/octet-stream"
        return Response(200, stored.data, content_type)

    def _handle_control(self, request: Request) -> Response:
        """The /_fake/ routes that let another process drive a standalone fake."""
        if request.method == "POST" and request.path == "/_fake/updates":
            try:
                pushed = json.loads(request.body or b"[]")
            except ValueError:
                return _error_response(bad_request("can't parse JSON object"))
            ids = [self.push_update(u) for u in (pushed if isinstance(pushed, list) else [pushed])]
            return _json_response(200, {"ok": True, "result": ids})
        if request.method == "GET" and request.path == "/_fake/calls":
            calls = [{"method": m, "params": p} for m, p in self.calls]
            return _json_response(200, {"ok": True, "result": calls})
        return _error_response(ApiError(404, "Not Found"))

    # -- chats and messages --------------------------------------------------------------

    def _learn_from_update(self, update: Params) -> None:
        for value in update.values():
            if not isinstance(value, dict):
                continue
            # message, edited_message, callback_query.message...
            for message in (value, value.get("message")):
                if isinstance(message, dict) and isinstance(message.get("chat"), dict):
                    self._learn_message(message)

    def _learn_message(self, message: Params) -> None:
        chat = message["chat"]
        key = _chat_key(chat.get("id"))
        self._chats.setdefault(key, copy.deepcopy(chat))
        message_id = message.get("message_id")
        if isinstance(message_id, int):
            self._last_message_id[key] = max(self._last_message_id.get(key, 0), message_id)
            sent_by_bot = (message.get("from") or {}).get("id") == self.bot_user["id"]
            self._messages.setdefault(
                (key, message_id), _StoredMessage(copy.deepcopy(message), sent_by_bot)
            )

    def _chat(self, key: Any) -> Params:
        if key in self._chats:
            return copy.deepcopy(self._chats[key])
        return {"id": key, "first_name": DEFAULT_CITIZEN_FIRST_NAME, "type": "private"}

    def _target_chat(self, params: Params) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        # The fake knows no channels or usernames; a non-numeric id is unknown.
        if not isinstance(chat_id, int) or chat_id == 0:
            raise bad_request("chat not found")
        return chat_id

    def _bot_message(self, chat: Any, message_id: int) -> Params:
        return {
            "message_id": message_id,
            "from": dict(self.bot_user),
            "chat": self._chat(chat),
            "date": int(time.time()),
        }

    def _message_id(self, params: Params) -> int:
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise bad_request("message identifier is not specified")
        return message_id

    # -- methods --------------------------------------------------------------------------

    def _get_me(self, params: Params) -> Params:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _send_message(self, params: Params) -> Params:
        chat = self._target_chat(params)
        text = _checked_text(params)
        markup = _checked_markup(params.get("reply_markup"))
        with self._lock:
            if self._limits is not None:
                wait = self._limits.admit(chat, time.monotonic())
                if wait is not None:
                    raise ApiError(
                        429, f"Too Many Requests: retry after {wait}", {"retry_after": wait}
                    )
            message_id = self._last_message_id.get(chat, 0) + 1
            self._last_message_id[chat] = message_id
            message = {**self._bot_message(chat, message_id), "text": text}
            if markup and "inline_keyboard" in markup:  # reply keyboards are not echoed
                message["reply_markup"] = markup
            self._messages[(chat, message_id)] = _StoredMessage(message, sent_by_bot=True)
            return copy.deepcopy(message)

    def _send_photo(self, params: Params) -> Params:
        """An uploaded photo (bytes) with an optional caption (at most 1024 characters)."""
        chat = self._target_chat(params)
        photo = params.get("photo")
        if not isinstance(photo, bytes) or not photo:
            raise bad_request("there is no photo in the request")
        caption = params.get("caption") or ""
        if _utf16_len(caption) > 1024:
            raise bad_request("message caption is too long")
        markup = _checked_markup(params.get("reply_markup"))
        with self._lock:
            message_id = self._last_message_id.get(chat, 0) + 1
            self._last_message_id[chat] = message_id
            digest = hashlib.sha256(photo).hexdigest()[:16]
            size = {"file_id": f"photo-{digest}", "file_unique_id": digest,
                    "file_size": len(photo), "width": 0, "height": 0}  # fmt: skip
            message = {**self._bot_message(chat, message_id), "photo": [size]}
            if caption:
                message["caption"] = caption
            if markup and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            self._messages[(chat, message_id)] = _StoredMessage(message, sent_by_bot=True)
            return copy.deepcopy(message)

    def sent_photos(self, chat_id: int | str | None = None) -> list[Params]:
        """The params of sendPhoto calls accepted (`photo` is the uploaded bytes)."""
        key = None if chat_id is None else _chat_key(chat_id)
        with self._lock:
            return [
                dict(params)
                for (method, params), status in zip(self._calls, self._outcomes, strict=True)
                if method == "sendPhoto"
                and status == 200
                and (key is None or _chat_key(params.get("chat_id")) == key)
            ]

    def _edit_message_text(self, params: Params) -> Params:
        text = _checked_text(params)
        markup = _checked_markup(params.get("reply_markup"), inline_only=True)
        with self._lock:
            chat = self._target_chat(params)
            message_id = self._message_id(params)
            stored = self._messages.get((chat, message_id))
            if stored is None:
                # Sent before this fake knew about it: accept the edit, as Telegram would.
                stored = _StoredMessage(self._bot_message(chat, message_id), sent_by_bot=True)
                self._messages[(chat, message_id)] = stored
            elif stored.deleted:
                raise bad_request("message to edit not found")
            elif not stored.sent_by_bot:
                raise bad_request("message can't be edited")
            message = stored.message
            # An edit without reply_markup removes the inline keyboard, as on Telegram.
            if (message.get("text"), message.get("reply_markup")) == (text, markup):
                raise bad_request(NOT_MODIFIED)
            message["text"] = text
            message.pop("reply_markup", None)
            if markup is not None:
                message["reply_markup"] = markup
            message["edit_date"] = int(time.time())
            return copy.deepcopy(message)

    def _delete_message(self, params: Params) -> bool:
        with self._lock:
            key = (self._target_chat(params), self._message_id(params))
            stored = self._messages.get(key)
            if stored is not None and stored.deleted:
                raise bad_request("message to delete not found")
            if stored is not None:
                stored.deleted = True
            return True

    def _answer_callback_query(self, params: Params) -> bool:
        if not params.get("callback_query_id"):
            raise bad_request("QUERY_ID_INVALID")
        return True

    def _get_file(self, params: Params) -> Params:
        with self._lock:
            stored = self._files.get(params.get("file_id") or "")
            if stored is None:
                raise bad_request("invalid file_id")
            if len(stored.data) > MAX_DOWNLOAD_BYTES:
                raise bad_request("file is too big")
            return stored.as_file()

    def _get_updates(self, params: Params) -> list[Params]:
        offset = params.get("offset")
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        allowed = params.get("allowed_updates")
        deadline = time.monotonic() + max(float(params.get("timeout") or 0), 0.0)
        with self._changed:
            self._check_no_webhook()
            self._poll_generation += 1
            generation = self._poll_generation
            self._changed.notify_all()  # wakes, and so terminates, an older long poll
            if isinstance(allowed, list):
                self._allowed_updates = allowed or None
            if isinstance(offset, int):
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while True:
                ready = [u for u in self._updates if self._is_allowed(u)][:limit]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or not self.serving:
                    return copy.deepcopy(ready)
                self._changed.wait(remaining)
                if generation != self._poll_generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                self._check_no_webhook()

    def _check_no_webhook(self) -> None:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )

    def _is_allowed(self, update: Params) -> bool:
        if self._allowed_updates is None:
            return True
        return bool((set(update) - {"update_id"}) & set(self._allowed_updates))

    def _set_webhook(self, params: Params) -> bool:
        url = params.get("url") or ""
        parts = urlsplit(url)
        if parts.scheme.lower() != "https" or not parts.hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if (parts.port or 443) not in WEBHOOK_PORTS:
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("secret token contains unallowed characters")
        with self._lock:
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self._webhook = {
                "url": url,
                "secret_token": secret,
                "allowed_updates": params.get("allowed_updates") or None,
            }
            self._changed.notify_all()  # a waiting getUpdates now conflicts
            return True

    def _delete_webhook(self, params: Params) -> bool:
        with self._lock:
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self._webhook = None
            return True

    def _get_webhook_info(self, params: Params) -> Params:
        with self._lock:
            hook = self._webhook or {}
            info: Params = {
                "url": hook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if hook.get("allowed_updates"):
                info["allowed_updates"] = list(hook["allowed_updates"])
            return info

    def _set_my_commands(self, params: Params) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(command.get("command", ""))
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        language_code = params.get("language_code") or ""
        if language_code and not re.fullmatch(r"[a-z]{2}", language_code):
            raise bad_request("invalid language code specified")
        with self._lock:
            self._commands[language_code] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
            return True


# --------------------------------------------------------------------------------------------
# Helpers


def _chat_key(chat_id: Any) -> Any:
    """Chat ids arrive as ints or numeric strings; compare them as ints."""
    if isinstance(chat_id, str):
        with contextlib.suppress(ValueError):
            return int(chat_id)
    return chat_id


def _injected_error(failure: _Failure) -> ApiError:
    if failure.status == 429:
        wait = failure.retry_after
        description = failure.description or f"Too Many Requests: retry after {wait}"
        return ApiError(429, description, {"retry_after": wait})
    return ApiError(failure.status, failure.description or HTTPStatus(failure.status).phrase)


def _json_response(status: int, payload: Params) -> Response:
    return Response(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _error_response(error: ApiError) -> Response:
    if error.status in NGINX_STATUSES:
        phrase = HTTPStatus(error.status).phrase
        page = NGINX_PAGE.format(status=error.status, phrase=phrase)
        return Response(error.status, page.encode(), "text/html")
    payload: Params = {"ok": False, "error_code": error.status, "description": error.description}
    if error.parameters:
        payload["parameters"] = error.parameters
    return _json_response(error.status, payload)


# --------------------------------------------------------------------------------------------
# Standalone


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.telegram_api",
        description="Run the fake Telegram Bot API in the foreground.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=os.environ.get("TELEGRAM_BOT_TOKEN") or DEFAULT_TOKEN)
    args = parser.parse_args(list(argv) if argv is not None else None)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with FakeTelegramAPI(args.token, host=args.host, port=args.port) as fake:
        print(f"Fake Telegram Bot API listening on {fake.base_url}", flush=True)
        print(f"  TELEGRAM_API_BASE_URL={fake.base_url}", flush=True)
        print(f"  TELEGRAM_BOT_TOKEN={fake.token}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
