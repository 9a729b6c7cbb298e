"""A local stand-in for the Telegram Bot API, faithful enough for python-telegram-bot.

Tests and benchmarks point ``TELEGRAM_API_BASE_URL`` at it; the app builds its
``telegram.Bot`` as usual::

    Bot(token, base_url=f"{fake.base_url}/bot", base_file_url=f"{fake.base_url}/file/bot")

so the requests the project sends, the answers it parses and the errors it has
to handle (``RetryAfter``, ``Forbidden``, ``BadRequest``, ``NetworkError``) are
the real ones.

What it reproduces, and where it knowingly differs from Telegram:

- ``/bot<token>/<method>`` by GET or POST, parameters in the query string, a
  JSON body, a form-urlencoded body or multipart/form-data (python-telegram-bot
  22 always sends forms: every non-string value JSON-encoded in a form field).
  Method names are case-insensitive, as on Telegram. A token other than the
  configured one answers 401 when it is shaped like a token (``123:abc``) and
  404 otherwise, as on Telegram; an unknown method answers 404.
- getMe, sendMessage, sendPhoto, editMessageText, editMessageReplyMarkup,
  deleteMessage, answerCallbackQuery, getFile (+ the file download URL),
  getUpdates, setWebhook, deleteWebhook, getWebhookInfo, setMyCommands,
  getMyCommands, deleteMyCommands. Results are Bot API objects: message ids
  grow per chat (past the ids of pushed incoming messages), ``from`` is the bot,
  only inline keyboards are echoed in ``reply_markup`` (Telegram never echoes a
  reply keyboard), ``parse_mode`` HTML / MarkdownV2 / Markdown is parsed by a
  port of tdlib's parsers (same ``can't parse entities`` errors and byte
  offsets, entities in UTF-16 units), text is trimmed, 4096 / 1024 limits hold,
  callback_data over 64 bytes is BUTTON_DATA_INVALID, an edit that changes
  nothing is "message is not modified", an edit without reply_markup drops the
  inline keyboard.
- getUpdates: offset confirms earlier updates (negative counts from the end),
  limit, long polling up to ``timeout`` seconds, ``allowed_updates`` remembered
  between calls (chat_member & reactions excluded by default), 409 Conflict
  while a webhook is set or when a newer getUpdates supersedes a waiting one.
- Webhooks: setWebhook requires https on port 80/88/443/8443 and a secret token
  of ``[A-Za-z0-9_-]{1,256}``, like Telegram. Pushed updates are queued and
  counted in ``pending_update_count`` but never POSTed to the webhook: tests
  post updates to the app's route themselves.
- Leniency (the fake cannot know what happened before it started): editing or
  deleting a message id it never saw succeeds; only messages it knows were
  deleted are "not found". Entities Telegram would detect on its own (urls,
  mentions, commands) are not added; ``tg://user`` links stay text_link; photo
  URLs are accepted without being fetched.
- Failure injection: ``block_chat`` (403), ``fail_next`` (429 with retry_after,
  or any status; 502/503/504 come as nginx's HTML page, as from Telegram's
  front), ``set_down`` (the port stops listening: connection refused, which
  python-telegram-bot raises as NetworkError), ``enforce_limits`` (sliding
  windows: 30 messages/s overall, 1/s per private chat, 20/min per group).

Run it alone with ``python -m tests.fakes.telegram_api --port 8081 --token TOKEN``.
In that mode a few control routes let another process drive it:
``POST /_fake/updates`` (an update or a list), ``GET /_fake/calls``,
``GET /_fake/stats``, ``POST /_fake/reset``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import email.parser
import email.policy
import hashlib
import json
import math
import mimetypes
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

DEFAULT_TOKEN = "123456789:AAHfakeTokenForWebleadsTests_0123456"
DEFAULT_BOT_USERNAME = "webleads_test_bot"
DEFAULT_BOT_FIRST_NAME = "Webleads"
# Who the bot talks to when a test did not push an update from that chat first.
DEFAULT_CITIZEN_FIRST_NAME = "Camille"

MAX_MESSAGE_LENGTH = 4096  # UTF-16 code units, after entity parsing
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files
WEBHOOK_PORTS = (80, 88, 443, 8443)
DEFAULT_WEBHOOK_MAX_CONNECTIONS = 40
# Update kinds getUpdates / webhooks leave out unless allowed_updates names them.
NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

Params = dict[str, Any]
Call = tuple[str, Params]

# Methods that post into a chat: these are blocked for a blocked chat and, for
# the sending ones, counted against the flood limits.
SEND_METHODS = frozenset({"sendMessage", "sendPhoto"})
CHAT_METHODS = SEND_METHODS | {"editMessageText", "editMessageReplyMarkup", "deleteMessage"}

BLOCKED_DESCRIPTION = "Forbidden: bot was blocked by the user"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
# What Telegram's nginx front answers when the Bot API server behind it is unwell.
NGINX_PAGE = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
NGINX_STATUSES = frozenset({502, 503, 504})

# How a form field's string becomes the JSON type the Bot API defines for it.
# Fields not listed are strings (text, caption, parse_mode, url, file_id...).
# fmt: off
JSON_FIELDS = frozenset({
    "reply_markup", "entities", "caption_entities", "allowed_updates", "commands", "scope",
    "link_preview_options", "reply_parameters", "media",
})
INT_FIELDS = frozenset({
    "message_id", "message_thread_id", "reply_to_message_id", "offset", "limit", "timeout",
    "cache_time", "max_connections",
})
BOOL_FIELDS = frozenset({
    "disable_notification", "protect_content", "allow_sending_without_reply",
    "disable_web_page_preview", "show_alert", "drop_pending_updates", "has_spoiler",
    "show_caption_above_media", "allow_paid_broadcast",
})
# fmt: on
CHAT_ID_FIELDS = frozenset({"chat_id", "from_chat_id"})
# An inline button must do something: exactly one of these besides its text.
# fmt: off
INLINE_BUTTON_ACTIONS = frozenset({
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
})
# fmt: on
JSON_PARSE_ERRORS = {
    "reply_markup": "Bad Request: can't parse reply keyboard markup JSON object",
    "entities": "Bad Request: can't parse entities JSON object",
    "caption_entities": "Bad Request: can't parse caption entities JSON object",
}


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: Params | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (e.g. sendPhoto's ``photo``)."""

    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


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


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    close: bool = False


# --------------------------------------------------------------------------------------------
# Request decoding


def decode_body(content_type: str, body: bytes) -> Params:
    """Decode a Bot API request body (JSON, form-urlencoded or multipart) into raw params."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if mime == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(decoded, dict):
            raise bad_request("JSON object expected")
        return decoded
    if mime == "multipart/form-data":
        return _decode_multipart(content_type, body)
    # Telegram treats anything else as a urlencoded form, as does this fake.
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _decode_multipart(content_type: str, body: bytes) -> Params:
    # The email parser is the stdlib's MIME multipart reader (cgi is gone in 3.13).
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    params: Params = {}
    if not message.is_multipart():
        raise bad_request("can't parse multipart/form-data")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            params[str(name)] = UploadedFile(filename, part.get_content_type(), payload)
        else:
            charset = part.get_content_charset() or "utf-8"
            params[str(name)] = payload.decode(charset, "replace")
    return params


def coerce_params(raw: Params) -> Params:
    """Give each field its Bot API type, whatever the encoding it arrived in.

    A form sends ``reply_markup`` as a JSON string and ``message_id`` as "12";
    a JSON body may send either as a string too. Telegram reads both the same
    way, so the recorded params are the same whichever encoding a client used.
    """
    params: Params = {}
    for name, value in raw.items():
        if isinstance(value, str):
            value = _coerce_field(name, value)
        params[name] = value
    return params


def _coerce_field(name: str, value: str) -> Any:
    if name in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(
                400, JSON_PARSE_ERRORS.get(name, f"Bad Request: can't parse {name} JSON object")
            ) from None
    if name in CHAT_ID_FIELDS or name in INT_FIELDS:
        with contextlib.suppress(ValueError):
            return int(value)
        return value
    if name in BOOL_FIELDS:
        return value.strip().lower() in ("true", "1")
    return value


# --------------------------------------------------------------------------------------------
# Formatted text: ports of tdlib's parse_html / parse_markdown_v2 / parse_markdown
# (td/telegram/MessageEntity.cpp). They walk UTF-8 bytes because Telegram's error
# messages give byte offsets, and count UTF-16 units because entities use them.

_TDLIB_SPACES = frozenset(b" \t\r\n\v\0")
# fmt: off
_HTML_TAGS = frozenset({
    "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji",
    "span", "pre", "code", "blockquote",
})
# fmt: on
_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
# tdlib's names for entity types, used in MarkdownV2 errors ("Can't find end of Bold entity").
_TD_TO_BOT_API = {
    "Bold": "bold",
    "Italic": "italic",
    "Underline": "underline",
    "Strikethrough": "strikethrough",
    "Spoiler": "spoiler",
    "Code": "code",
    "Pre": "pre",
    "PreCode": "pre",
    "TextUrl": "text_link",
    "CustomEmoji": "custom_emoji",
    "BlockQuote": "blockquote",
}
# tdlib's sort order for entities that start and end at the same place.
_ENTITY_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 10,
    "code": 20,
    "text_link": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_MARKDOWN_V2_RESERVED = b"_*[]()~`>#+-=|{}.!\n"
_CUSTOM_EMOJI_URL = re.compile(r"^tg://emoji\?id=(\d+)$")


class EntityParseError(Exception):
    """Raised by the markup parsers with tdlib's message."""


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _utf16_units(byte: int) -> int:
    """UTF-16 units a UTF-8 byte starts: 0 for continuation bytes, 2 for 4-byte characters."""
    if byte & 0xC0 == 0x80:
        return 0
    return 2 if byte >= 0xF0 else 1


def _entity(type_: str, offset: int, length: int, **extra: Any) -> Params:
    return {"offset": offset, "length": length, "type": type_, **extra}


def _sort_entities(entities: list[Params]) -> list[Params]:
    return sorted(
        entities, key=lambda e: (e["offset"], -e["length"], _ENTITY_PRIORITY.get(e["type"], 50))
    )


def checked_link(url: str) -> str:
    """Normalise a link like Telegram does (scheme added, "/" path); "" when unusable."""
    url = url.strip()
    if not url:
        return ""
    if url.lower().startswith(("tg:", "ton:")):
        return url
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, parts.fragment)
    )


def _decode_html_entity(text: bytes, pos: int) -> tuple[int, int]:
    """The character an ``&...;`` reference at `pos` stands for and where it ends; 0 if none."""

    def at(i: int) -> int:
        return text[i] if i < len(text) else 0

    end = pos + 1
    code = 0
    if at(pos + 1) == ord("#"):
        end += 1
        if at(pos + 2) == ord("x"):
            end += 1
            while at(end) and chr(at(end)) in "0123456789abcdefABCDEF":
                code = code * 16 + int(chr(at(end)), 16)
                end += 1
        else:
            while ord("0") <= at(end) <= ord("9"):
                code = code * 10 + at(end) - ord("0")
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while chr(at(end)).isascii() and chr(at(end)).isalpha():
            end += 1
        code = {b"lt": 60, b"gt": 62, b"amp": 38, b"quot": 34}.get(text[pos + 1 : end], 0)
        if not code:
            return 0, pos
    if at(end) == ord(";"):
        end += 1
    return code, end


def parse_html(source: str) -> tuple[str, list[Params]]:
    """Telegram's HTML parse_mode: plain text and entities, or EntityParseError."""
    text = source.encode("utf-8", "surrogatepass")
    size = len(text)

    def at(i: int) -> int:
        return text[i] if i < size else 0

    def is_space(byte: int) -> bool:
        return byte in _TDLIB_SPACES

    out = bytearray()
    entities: list[Params] = []
    utf16 = 0
    # (tag, argument, entity's UTF-16 offset, entity's byte offset in `out`)
    stack: list[tuple[str, str, int, int]] = []
    i = -1
    while True:
        i += 1
        if i >= size:
            break
        c = text[i]
        if c == ord("&"):
            code, end = _decode_html_entity(text, i)
            if code:
                utf16 += 2 if code > 0xFFFF else 1
                out += chr(code).encode("utf-8", "surrogatepass")
                i = end - 1
                continue
        if c != ord("<"):
            utf16 += _utf16_units(c)
            out.append(c)
            continue

        begin = i
        i += 1
        if at(i) != ord("/"):
            while not is_space(at(i)) and at(i) != ord(">"):
                i += 1
            if at(i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            tag = text[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _HTML_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while at(i) != ord(">"):
                while at(i) and is_space(at(i)):
                    i += 1
                if at(i) == ord(">"):
                    break
                name_begin = i
                while not is_space(at(i)) and at(i) != ord("="):
                    i += 1
                name = text[name_begin:i].decode("utf-8", "replace")
                if not name:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                    )
                while at(i) and is_space(at(i)):
                    i += 1
                if tag == "blockquote" and name == "expandable" and at(i) != ord("="):
                    # Newer Telegram: a bare "expandable" attribute.
                    argument = "expandable"
                    continue
                if at(i) != ord("="):
                    raise EntityParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {begin}'
                    )
                i += 1
                while at(i) and is_space(at(i)):
                    i += 1
                if at(i) == 0:
                    raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                value = bytearray()
                if at(i) not in (ord("'"), ord('"')):
                    token_begin = i
                    while chr(at(i)).isascii() and (chr(at(i)).isalnum() or at(i) in b".-"):
                        i += 1
                    value += text[token_begin:i].lower()
                    if not is_space(at(i)) and at(i) != ord(">"):
                        raise EntityParseError(
                            f"Unexpected end of name token at byte offset {token_begin}"
                        )
                else:
                    quote = at(i)
                    i += 1
                    while at(i) != quote and at(i):
                        if at(i) == ord("&"):
                            code, end = _decode_html_entity(text, i)
                            if code:
                                value += chr(code).encode("utf-8", "surrogatepass")
                                i = end
                                continue
                        value.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                if at(i) == 0:
                    raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
                decoded = value.decode("utf-8", "replace")
                if tag == "a" and name == "href":
                    argument = decoded
                elif tag == "code" and name == "class" and decoded.startswith("language-"):
                    argument = decoded[len("language-") :]
                elif tag == "span" and name == "class" and decoded.startswith("tg-"):
                    argument = decoded[len("tg-") :]
                elif tag == "tg-emoji" and name == "emoji-id":
                    argument = decoded
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            stack.append((tag, argument, utf16, len(out)))
            continue

        # An end tag.
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        while not is_space(at(i)) and at(i) != ord(">"):
            i += 1
        end_tag = text[begin + 2 : i].decode("utf-8", "replace").lower()
        while is_space(at(i)) and at(i):
            i += 1
        if at(i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        tag, argument, offset, out_pos = stack.pop()
        if end_tag and end_tag != tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", '
                f'found "</{end_tag}>"'
            )
        if utf16 > offset:
            _close_html_entity(entities, tag, argument, offset, utf16 - offset, out[out_pos:])
    if stack:
        raise EntityParseError(f"Can't find end tag corresponding to start tag {stack[-1][0]}")
    for entity in entities:
        entity.pop("_language", None)
    try:
        plain = out.decode("utf-8")
    except UnicodeDecodeError:
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        ) from None
    return plain, _sort_entities(entities)


def _close_html_entity(
    entities: list[Params], tag: str, argument: str, offset: int, length: int, inner: bytes
) -> None:
    last = entities[-1] if entities else None
    same_span = last is not None and last["offset"] == offset and last["length"] == length
    if tag in _HTML_ENTITY_TYPES:
        entities.append(_entity(_HTML_ENTITY_TYPES[tag], offset, length))
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append(_entity("custom_emoji", offset, length, custom_emoji_id=argument))
    elif tag == "a":
        url = checked_link(argument or inner.decode("utf-8", "replace"))
        if url:
            entities.append(_entity("text_link", offset, length, url=url))
    elif tag == "pre":
        # <pre><code class="language-x">...</code></pre> is one pre entity with a language.
        if same_span and last is not None and last["type"] == "code" and last.get("_language"):
            last["type"] = "pre"
            last["language"] = last.pop("_language")
        else:
            entities.append(_entity("pre", offset, length))
    elif tag == "code":
        if same_span and last is not None and last["type"] == "pre" and argument:
            last["language"] = argument
        else:
            entities.append(_entity("code", offset, length, _language=argument))
    elif tag == "blockquote":
        kind = "expandable_blockquote" if argument == "expandable" else "blockquote"
        entities.append(_entity(kind, offset, length))


def parse_markdown_v2(source: str) -> tuple[str, list[Params]]:
    """Telegram's MarkdownV2 parse_mode: plain text and entities, or EntityParseError."""
    text = source.encode("utf-8", "surrogatepass")
    size = len(text)

    def at(i: int) -> int:
        return text[i] if i < size else 0

    def reserved(byte: int) -> EntityParseError:
        return EntityParseError(
            f"Character '{chr(byte)}' is reserved and must be escaped with the preceding '\\'"
        )

    out = bytearray()
    entities: list[Params] = []
    utf16 = 0
    # [td type, argument, UTF-16 offset, byte offset in the source, byte offset in `out`]
    stack: list[list[Any]] = []
    have_blockquote = False
    i = -1
    while True:
        i += 1
        if i >= size:
            break
        c = text[i]
        if c == ord("\\") and 0 < at(i + 1) <= 126:
            i += 1
            utf16 += 1
            out.append(text[i])
            continue
        chars = _MARKDOWN_V2_RESERVED
        if stack and stack[-1][0] in ("Code", "Pre", "PreCode"):
            chars = b"`"
        if c not in chars:
            utf16 += _utf16_units(c)
            out.append(c)
            continue

        is_end = False
        if stack:
            top = stack[-1][0]
            if have_blockquote and c == ord("\n") and (i + 1 == size or text[i + 1] != ord(">")):
                is_end = True
            else:
                is_end = {
                    "Bold": c == ord("*"),
                    "Italic": c == ord("_") and at(i + 1) != ord("_"),
                    "Code": c == ord("`"),
                    "Pre": c == ord("`") and at(i + 1) == ord("`") and at(i + 2) == ord("`"),
                    "PreCode": c == ord("`") and at(i + 1) == ord("`") and at(i + 2) == ord("`"),
                    "TextUrl": c == ord("]"),
                    "Underline": c == ord("_") and at(i + 1) == ord("_"),
                    "Strikethrough": c == ord("~"),
                    "Spoiler": c == ord("|") and at(i + 1) == ord("|"),
                    "CustomEmoji": c == ord("]"),
                    "BlockQuote": False,
                }[top]

        if not is_end:
            begin = i
            argument = ""
            kind: str | None
            if c == ord("_"):
                kind = "Italic"
                if at(i + 1) == ord("_"):
                    kind = "Underline"
                    i += 1
            elif c == ord("*"):
                kind = "Bold"
            elif c == ord("~"):
                kind = "Strikethrough"
            elif c == ord("|"):
                if at(i + 1) != ord("|"):
                    raise reserved(c)
                i += 1
                kind = "Spoiler"
            elif c == ord("["):
                kind = "TextUrl"
            elif c == ord("`"):
                kind = "Code"
                if at(i + 1) == ord("`") and at(i + 2) == ord("`"):
                    i += 3
                    kind = "Pre"
                    language_end = i
                    while at(language_end) not in _TDLIB_SPACES and at(language_end) != ord("`"):
                        language_end += 1
                    if i != language_end and language_end < size and at(language_end) != ord("`"):
                        kind = "PreCode"
                        argument = text[i:language_end].decode("utf-8", "replace")
                        i = language_end
                    if at(i) in (ord("\n"), ord("\r")):
                        pair = at(i + 1) in (ord("\n"), ord("\r")) and at(i) != at(i + 1)
                        i += 2 if pair else 1
                    i -= 1
            elif c == ord("!"):
                if at(i + 1) != ord("["):
                    raise reserved(c)
                i += 1
                kind = "CustomEmoji"
            elif c == ord("\n"):
                utf16 += 1
                out.append(c)
                kind = None
                if i + 1 < size and text[i + 1] == ord(">"):
                    i += 1
                    if not have_blockquote:
                        kind = "BlockQuote"
                        have_blockquote = True
            elif c == ord(">"):
                if i != 0:
                    raise reserved(c)
                kind = "BlockQuote"
                have_blockquote = True
            else:
                raise reserved(c)
            if kind is not None:
                stack.append([kind, argument, utf16, begin, len(out)])
            continue

        kind, argument, offset, begin, out_pos = stack[-1]
        if c == ord("\n") and kind != "BlockQuote":
            raise EntityParseError(f"Can't find end of {kind} entity at byte offset {begin}")
        skip = utf16 == offset
        extra: Params = {}
        if kind in ("Underline", "Spoiler"):
            i += 1
        elif kind in ("Pre", "PreCode"):
            i += 2
            if kind == "PreCode":
                extra["language"] = argument
        elif kind in ("TextUrl", "CustomEmoji"):
            if at(i + 1) != ord("("):
                if kind == "CustomEmoji":
                    raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
                url = out[out_pos:].decode("utf-8", "replace")
            else:
                i += 2
                url_begin = i
                url_bytes = bytearray()
                while i < size and text[i] != ord(")"):
                    if text[i] == ord("\\") and 0 < at(i + 1) <= 126:
                        url_bytes.append(text[i + 1])
                        i += 2
                        continue
                    url_bytes.append(text[i])
                    i += 1
                if at(i) != ord(")"):
                    what = "a custom emoji URL" if kind == "CustomEmoji" else "a URL"
                    raise EntityParseError(f"Can't find end of {what} at byte offset {url_begin}")
                url = url_bytes.decode("utf-8", "replace")
            if kind == "CustomEmoji":
                match = _CUSTOM_EMOJI_URL.match(url)
                if not match or int(match.group(1)) == 0:
                    raise EntityParseError("Invalid custom emoji identifier specified")
                extra["custom_emoji_id"] = match.group(1)
            else:
                url = checked_link(url)
                skip = skip or not url
                extra["url"] = url
        elif kind == "BlockQuote":
            have_blockquote = False
            out.append(c)
            utf16 += 1
        if not skip:
            entities.append(_entity(_TD_TO_BOT_API[kind], offset, utf16 - offset, **extra))
        stack.pop()
    if have_blockquote and stack and stack[-1][0] == "BlockQuote":
        offset = stack.pop()[2]
        if utf16 != offset:
            entities.append(_entity("blockquote", offset, utf16 - offset))
    if stack:
        kind, _, _, begin, _ = stack[-1]
        raise EntityParseError(f"Can't find end of {kind} entity at byte offset {begin}")
    return out.decode("utf-8", "replace"), _sort_entities(entities)


def parse_markdown(source: str) -> tuple[str, list[Params]]:
    """Telegram's legacy Markdown parse_mode: plain text and entities, or EntityParseError."""
    text = source.encode("utf-8", "surrogatepass")
    size = len(text)

    def at(i: int) -> int:
        return text[i] if i < size else 0

    out = bytearray()
    entities: list[Params] = []
    utf16 = 0
    i = -1
    while True:
        i += 1
        if i >= size:
            break
        c = text[i]
        if c == ord("\\") and at(i + 1) in b"_*`[":
            i += 1
            out.append(text[i])
            utf16 += 1
            continue
        if c not in b"_*`[":
            utf16 += _utf16_units(c)
            out.append(c)
            continue
        begin = i
        end_char = ord("]") if c == ord("[") else c
        is_pre = False
        language = ""
        i += 1
        if c == ord("`") and at(i) == ord("`") and at(i + 1) == ord("`"):
            i += 2
            is_pre = True
            language_end = i
            while at(language_end) not in _TDLIB_SPACES and at(language_end) != ord("`"):
                language_end += 1
            if i != language_end and language_end < size and at(language_end) != ord("`"):
                language = text[i:language_end].decode("utf-8", "replace")
                i = language_end
            if at(i) in (ord("\n"), ord("\r")):
                pair = at(i + 1) in (ord("\n"), ord("\r")) and at(i) != at(i + 1)
                i += 2 if pair else 1
        offset = utf16

        while i < size and not _closes_markdown_entity(text, i, end_char, is_pre):
            utf16 += _utf16_units(text[i])
            out.append(text[i])
            i += 1
        if i == size:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {begin}")
        if utf16 != offset:
            length = utf16 - offset
            if c == ord("_"):
                entities.append(_entity("italic", offset, length))
            elif c == ord("*"):
                entities.append(_entity("bold", offset, length))
            elif c == ord("["):
                if at(i + 1) != ord("("):
                    url = text[begin + 1 : i].decode("utf-8", "replace")
                else:
                    i += 2
                    url_begin = i
                    while i < size and text[i] != ord(")"):
                        i += 1
                    url = text[url_begin:i].decode("utf-8", "replace")
                url = checked_link(url)
                if url:
                    entities.append(_entity("text_link", offset, length, url=url))
            elif is_pre:
                extra = {"language": language} if language else {}
                entities.append(_entity("pre", offset, length, **extra))
            else:
                entities.append(_entity("code", offset, length))
        if is_pre:
            i += 2
    return out.decode("utf-8", "replace"), _sort_entities(entities)


def _closes_markdown_entity(text: bytes, i: int, end_char: int, is_pre: bool) -> bool:
    """Whether text[i] ends a legacy Markdown entity (``` for pre blocks)."""
    if text[i] != end_char:
        return False
    return not is_pre or text[i + 1 : i + 3] == b"``"


PARSERS: dict[str, Callable[[str], tuple[str, list[Params]]]] = {
    "html": parse_html,
    "markdownv2": parse_markdown_v2,
    "markdown": parse_markdown,
}


def format_text(
    text: str, parse_mode: str | None, entities: list[Params] | None
) -> tuple[str, list[Params]]:
    """Apply parse_mode (or explicit entities), then trim the way Telegram does."""
    if parse_mode:
        parser = PARSERS.get(parse_mode.lower())
        if parser is None:
            raise bad_request("unsupported parse_mode")
        try:
            text, entities = parser(text)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    return _trim(text, entities or [])


def _trim(text: str, entities: list[Params]) -> tuple[str, list[Params]]:
    left = _utf16_len(text) - _utf16_len(text.lstrip())
    text = text.strip()
    total = _utf16_len(text)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return text, kept


# --------------------------------------------------------------------------------------------
# Photos


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, read from its header; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        # Start-of-frame markers carry the size; C4/C8/CC are other segments.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if marker == 0xFF or 0xD0 <= marker <= 0xD9:
            i += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        i += 2 + length
    return None


def _photo_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """The sizes Telegram keeps of a photo: boxes of 90, 320, 800, 1280, 2560 px."""
    sizes: list[tuple[int, int]] = []
    longest = max(width, height, 1)
    for box in (90, 320, 800, 1280, 2560):
        scale = min(1.0, box / longest)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if size not in sizes:
            sizes.append(size)
        if scale == 1.0:
            break
    return sizes


# --------------------------------------------------------------------------------------------
# Flood limits


class _Window:
    """At most `capacity` events in any `seconds`-long sliding window."""

    def __init__(self, capacity: int, seconds: float) -> None:
        self.capacity = capacity
        self.seconds = seconds
        self.events: deque[float] = deque()

    @classmethod
    def per_second(cls, rate: float) -> _Window:
        # 0.5/s means one message per 2 s, not zero per second.
        return cls(int(rate), 1.0) if rate >= 1 else cls(1, 1.0 / rate)

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
    per_group_per_minute: float | None
    global_window: _Window | None = None
    chats: dict[Any, _Window] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.global_per_second:
            self.global_window = _Window.per_second(self.global_per_second)

    def _chat_window(self, chat_id: Any) -> _Window | None:
        if chat_id not in self.chats:
            is_group = isinstance(chat_id, int) and chat_id < 0
            if is_group and self.per_group_per_minute:
                self.chats[chat_id] = _Window(int(self.per_group_per_minute), 60.0)
            elif not is_group and self.per_chat_per_second:
                self.chats[chat_id] = _Window.per_second(self.per_chat_per_second)
            else:
                return None
        return self.chats[chat_id]

    def admit(self, chat_id: Any, now: float) -> int | None:
        """Record a send and return None, or return the retry_after of a refusal."""
        windows = [w for w in (self.global_window, self._chat_window(chat_id)) if w is not None]
        waits = [wait for w in windows if (wait := w.retry_after(now)) is not None]
        if waits:
            return max(waits)
        for window in windows:
            window.events.append(now)
        return None


# --------------------------------------------------------------------------------------------
# The fake


def _token_bot_id(token: str) -> int:
    head = token.split(":", 1)[0]
    return int(head) if head.isdigit() else 123456789


def _looks_like_token(token: str) -> bool:
    return re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token) is not None


class FakeTelegramAPI:
    """The Telegram Bot API on 127.0.0.1, with recording and failure injection."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_first_name: str = DEFAULT_BOT_FIRST_NAME,
        verbose: bool = False,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.verbose = verbose
        self.bot_user: Params = {
            "id": _token_bot_id(token),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._lock = threading.RLock()
        # Notified on every recorded call and pushed update (wait_for, long polls).
        self._changed = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._down = False
        self._stopping = False
        self._methods: dict[str, tuple[str, Callable[[Params], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "getFile": self._get_file,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
            }.items()
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
        self._file_counter = 0
        self._updates: list[Params] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook: Params | None = None
        self._commands: dict[tuple[str, str], list[Params]] = {}
        self._blocked: dict[Any, str] = {}
        self._failures: deque[_Failure] = deque()
        self._limits: _Limits | None = None
        self._accepted = 0
        self._rejected_429 = 0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        """Bind (an ephemeral port unless `port` was given) and serve in a daemon thread."""
        with self._lock:
            if self._server is None:
                self._stopping = False
                self._serve()
                self._down = False
        return self

    def stop(self) -> None:
        """Stop serving, end waiting long polls and drop every open connection."""
        with self._lock:
            self._stopping = True
            self._changed.notify_all()
            self._shutdown()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The API root, e.g. ``http://127.0.0.1:PORT`` (``TELEGRAM_API_BASE_URL``)."""
        if not self.port:
            raise RuntimeError("FakeTelegramAPI is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def bot_kwargs(self) -> dict[str, str]:
        """``Bot(**fake.bot_kwargs)``: token, base_url and base_file_url pointing here."""
        return {
            "token": self.token,
            "base_url": f"{self.base_url}/bot",
            "base_file_url": f"{self.base_url}/file/bot",
        }

    def _serve(self) -> None:
        server = _Server((self.host, self.port), _Handler)
        server.api = self
        # Keep the port: set_down(False) must come back where clients point.
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-telegram-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def _shutdown(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Pooled keep-alive connections would otherwise keep being served.
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._connections.clear()
        if thread is not None:
            thread.join(timeout=5)

    def set_down(self, down: bool = True) -> None:
        """Make Telegram unreachable (True) or reachable again (False).

        Down closes the listening socket and every open connection: clients get
        "connection refused" (python-telegram-bot: NetworkError), as when
        api.telegram.org is unreachable. A 502 from Telegram's front is another
        failure, injected with ``fail_next(n, status=502)``. Up listens again on
        the same port; recorded state is kept.
        """
        with self._lock:
            if down and not self._down:
                self._changed.notify_all()
                self._shutdown()
            elif not down and self._down:
                self._serve()
            self._down = down

    # -- scripting ------------------------------------------------------------------------

    def add_file(
        self,
        file_id: str,
        data: bytes,
        file_path: str | None = None,
        *,
        file_unique_id: str | None = None,
    ) -> Params:
        """Register a downloadable file (e.g. a citizen's photo); return its File object.

        `file_path` defaults to ``photos/file_<n>.jpg``, n counting from 0.
        """
        with self._lock:
            path = file_path or f"photos/file_{self._file_counter}.jpg"
            self._file_counter += 1
            unique = file_unique_id or "AQAD" + hashlib.sha1(file_id.encode()).hexdigest()[:12]
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
        """Answer 403 to anything sent to `chat_id` (e.g. "Forbidden: user is deactivated")."""
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
        with `description` (default: the HTTP reason). Note that
        python-telegram-bot calls getMe when a Bot is initialised: pass
        `method` to aim past it.
        """
        failure = _Failure(status, retry_after, method.lower() if method else None, description)
        with self._lock:
            self._failures.extend(copy.copy(failure) for _ in range(n))

    def enforce_limits(
        self,
        global_per_second: float | None = 30,
        per_chat_per_second: float | None = 1,
        per_group_per_minute: float | None = 20,
    ) -> None:
        """Answer 429 to sends (sendMessage, sendPhoto) over Telegram's flood limits.

        Sliding windows over real time: no second ever sees more than
        `global_per_second` accepted sends, nor a private chat more than
        `per_chat_per_second`; a refusal carries retry_after = whole seconds
        until the window frees a slot (at least 1), as Telegram's does. None
        lifts a limit. Edits and other methods are not limited.
        """
        with self._lock:
            self._limits = _Limits(global_per_second, per_chat_per_second, per_group_per_minute)

    def stop_enforcing_limits(self) -> None:
        """Undo `enforce_limits`."""
        with self._lock:
            self._limits = None

    def reset(self) -> None:
        """Back to a fresh state: calls, chats, messages, files, updates, webhook,
        commands, counters, injected failures, limits; a down fake comes back up."""
        with self._lock:
            self._reset_state()
            self._changed.notify_all()
        if self._down:
            self.set_down(False)

    # -- inspection -----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every authenticated call received, oldest first: (method, decoded params).

        Includes calls answered with an error (429, 403, 400...).
        """
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
        """The webhook as set (url, secret_token, allowed_updates...), or None."""
        with self._lock:
            return copy.deepcopy(self._webhook)

    def commands(self, language_code: str = "", scope: Params | None = None) -> list[Params]:
        """The command list set for a scope (default scope) and language."""
        with self._lock:
            return copy.deepcopy(self._commands.get(_commands_key(scope, language_code), []))

    @property
    def pending_updates(self) -> list[Params]:
        """Updates pushed and not yet confirmed by a getUpdates offset."""
        with self._lock:
            return copy.deepcopy(self._updates)

    @property
    def accepted(self) -> int:
        """How many sends (sendMessage, sendPhoto) were answered 200."""
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

        Counts calls whatever their answer, like `calls`. Raises TimeoutError
        naming what did arrive, for a readable test failure.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [
                    dict(params)
                    for name, params in self._calls
                    if name == method and (predicate is None or predicate(params))
                ]
                remaining = deadline - time.monotonic()
                if len(matching) >= count or remaining <= 0:
                    break
                self._changed.wait(remaining)
        if len(matching) < count:
            seen = [name for name, _ in self.calls]
            raise TimeoutError(
                f"expected {count} {method} call(s) within {timeout}s, got {len(matching)}: "
                f"{matching}; methods called: {seen}"
            )
        return matching[:count]

    # -- HTTP entry points (called from server threads) ------------------------------------

    def _auth_error(self, token: str) -> ApiError | None:
        if token == self.token:
            return None
        # Telegram answers 404 to what is not even shaped like a token.
        return (
            ApiError(401, "Unauthorized")
            if _looks_like_token(token)
            else ApiError(404, "Not Found")
        )

    def _handle_api(self, token: str, method_name: str, params: Params) -> _Response:
        if (error := self._auth_error(token)) is not None:
            return _error_response(error)
        found = self._methods.get(method_name.lower())
        method = found[0] if found else method_name
        try:
            params = coerce_params(params)
        except ApiError as exc:
            with self._lock:
                self._record(method, {}, exc.status)
            return _error_response(exc)
        with self._lock:
            index = self._record(method, params, 0)
            outcomes = self._outcomes
        try:
            result = self._answer(method, params, found)
        except ApiError as exc:
            response = _error_response(exc)
        else:
            response = _json_response(200, {"ok": True, **result})
        with self._lock:
            if outcomes is not self._outcomes:
                return response  # reset() ran meanwhile: this call belongs to the past
            outcomes[index] = response.status
            if response.status == 429:
                self._rejected_429 += 1
            elif response.status == 200 and method in SEND_METHODS:
                self._accepted += 1
            self._changed.notify_all()
        if self.verbose:
            print(f"{method} {_summary(params)} -> {response.status}", file=sys.stderr)
        return response

    def _record(self, method: str, params: Params, status: int) -> int:
        self._calls.append((method, params))
        self._outcomes.append(status)
        self._changed.notify_all()
        return len(self._calls) - 1

    def _answer(
        self, method: str, params: Params, found: tuple[str, Callable[[Params], Any]] | None
    ) -> Params:
        """Run the checks Telegram runs before a method, then the method: {"result": ...}."""
        with self._lock:
            self._raise_injected_failure(method)
            if found is None:
                raise ApiError(404, "Not Found")
            if method in CHAT_METHODS:
                chat = _chat_key(params.get("chat_id"))
                if chat in self._blocked:
                    raise ApiError(403, self._blocked[chat])
        result = found[1](params)
        if isinstance(result, tuple):  # (result, description) for webhook methods
            return {"result": result[0], "description": result[1]}
        return {"result": result}

    def _raise_injected_failure(self, method: str) -> None:
        failure = next(
            (f for f in self._failures if f.method in (None, method.lower())),
            None,
        )
        if failure is not None:
            self._failures.remove(failure)
            raise _injected_error(failure)

    def _handle_download(self, token: str, file_path: str) -> _Response:
        if (error := self._auth_error(token)) is not None:
            return _error_response(error)
        with self._lock:
            stored = self._files_by_path.get(file_path)
            if stored is None:
                return _error_response(ApiError(404, "Not Found"))
            self._downloads.append(file_path)
            self._changed.notify_all()
        content_type = mimetypes.guess_type(file_path)[0] or "application/octet-stream"
        return _Response(200, stored.data, content_type)

    def _handle_control(self, verb: str, name: str, body: bytes) -> _Response:
        """The /_fake/ routes that let another process drive a standalone fake."""
        if verb == "POST" and name == "updates":
            try:
                pushed = json.loads(body or b"[]")
            except ValueError:
                return _error_response(bad_request("can't parse JSON object"))
            ids = [self.push_update(u) for u in (pushed if isinstance(pushed, list) else [pushed])]
            return _json_response(200, {"ok": True, "result": ids})
        if verb == "POST" and name == "reset":
            self.reset()
            return _json_response(200, {"ok": True, "result": True})
        if verb == "GET" and name == "calls":
            calls = [{"method": m, "params": p} for m, p in self.calls]
            return _json_response(200, {"ok": True, "result": calls})
        if verb == "GET" and name == "stats":
            stats = {
                "calls": len(self.calls),
                "accepted": self.accepted,
                "rejected_429": self.rejected_429,
                "pending_updates": len(self.pending_updates),
            }
            return _json_response(200, {"ok": True, "result": stats})
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
            sender = message.get("from") or {}
            sent_by_bot = sender.get("id") == self.bot_user["id"]
            self._messages.setdefault(
                (key, message_id), _StoredMessage(copy.deepcopy(message), sent_by_bot)
            )

    def _chat(self, key: Any) -> Params:
        if key in self._chats:
            return copy.deepcopy(self._chats[key])
        if isinstance(key, int) and key < 0:
            kind = "supergroup" if str(key).startswith("-100") else "group"
            return {"id": key, "title": "Groupe", "type": kind}
        return {"id": key, "first_name": DEFAULT_CITIZEN_FIRST_NAME, "type": "private"}

    def _target_chat(self, params: Params) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        key = _chat_key(chat_id)
        # The fake knows no channels or usernames; a non-numeric id is unknown.
        if not isinstance(key, int) or key == 0:
            raise bad_request("chat not found")
        return key

    def _new_message(self, chat: Any, params: Params, content: Params) -> Params:
        """Store and return the Message the bot just sent in `chat`."""
        message_id = self._last_message_id.get(chat, 0) + 1
        self._last_message_id[chat] = message_id
        message: Params = {
            "message_id": message_id,
            "from": dict(self.bot_user),
            "chat": self._chat(chat),
            "date": int(time.time()),
        }
        reply_to = _reply_to_id(params)
        replied = self._messages.get((chat, reply_to)) if reply_to else None
        if replied is not None and not replied.deleted:
            message["reply_to_message"] = copy.deepcopy(replied.message)
            message["reply_to_message"].pop("reply_to_message", None)
        message.update(content)
        self._messages[(chat, message_id)] = _StoredMessage(message, sent_by_bot=True)
        return copy.deepcopy(message)

    def _admit_send(self, chat: Any) -> None:
        if self._limits is None:
            return
        wait = self._limits.admit(chat, time.monotonic())
        if wait is not None:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

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
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        text, entities = format_text(text, params.get("parse_mode"), params.get("entities"))
        if not text:
            raise bad_request("message text is empty")
        if _utf16_len(text) > MAX_MESSAGE_LENGTH:
            raise bad_request("message is too long")
        markup = _check_reply_markup(params.get("reply_markup"))
        with self._lock:
            self._admit_send(chat)
            content: Params = {"text": text}
            if entities:
                content["entities"] = entities
            if _is_inline_keyboard(markup):
                content["reply_markup"] = markup
            return self._new_message(chat, params, content)

    def _send_photo(self, params: Params) -> Params:
        chat = self._target_chat(params)
        photo = params.get("photo")
        if photo is None or photo == "":
            raise bad_request("there is no photo in the request")
        caption, caption_entities = format_text(
            params.get("caption") or "", params.get("parse_mode"), params.get("caption_entities")
        )
        if _utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        markup = _check_reply_markup(params.get("reply_markup"))
        with self._lock:
            sizes = self._photo_sizes_for(photo)
            self._admit_send(chat)
            content: Params = {"photo": sizes}
            if caption:
                content["caption"] = caption
            if caption_entities:
                content["caption_entities"] = caption_entities
            if params.get("has_spoiler"):
                content["has_media_spoiler"] = True
            if _is_inline_keyboard(markup):
                content["reply_markup"] = markup
            return self._new_message(chat, params, content)

    def _photo_sizes_for(self, photo: Any) -> list[Params]:
        if isinstance(photo, str) and photo in self._files:
            # A photo sent again by file_id keeps that file_id, as on Telegram.
            stored = self._files[photo]
            width, height = image_size(stored.data) or (1280, 960)
            return [_photo_size(stored.as_file(), width, height)]
        if isinstance(photo, UploadedFile):
            data = photo.data
        elif isinstance(photo, str) and photo.startswith(("http://", "https://")):
            data = b""  # Telegram would fetch it; the fake has no network.
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        width, height = image_size(data) or (1280, 960)
        base = f"AgACAgQAAxk{hashlib.sha1(data).hexdigest()[:16]}{self._file_counter}"
        # Every size serves the original bytes: the fake does not resample.
        return [
            _photo_size(self.add_file(f"{base}_{index}", data), w, h)
            for index, (w, h) in enumerate(_photo_sizes(width, height))
        ]

    def _edited_message(self, params: Params) -> tuple[Any, int, _StoredMessage | None]:
        """The chat, message id and stored message an edit targets (None if never seen)."""
        if params.get("inline_message_id"):
            return None, 0, None
        chat = self._target_chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise bad_request("message identifier is not specified")
        stored = self._messages.get((chat, message_id))
        if stored is not None and stored.deleted:
            raise bad_request("message to edit not found")
        if stored is not None and not stored.sent_by_bot:
            raise bad_request("message can't be edited")
        return chat, message_id, stored

    def _apply_edit(
        self, chat: Any, message_id: int, stored: _StoredMessage | None, changes: Params
    ) -> Params:
        if stored is None:
            # Sent before this fake knew about it: accept the edit, as Telegram would.
            message: Params = {
                "message_id": message_id,
                "from": dict(self.bot_user),
                "chat": self._chat(chat),
                "date": int(time.time()),
            }
            stored = _StoredMessage(message, sent_by_bot=True)
            self._messages[(chat, message_id)] = stored
        before = {k: stored.message.get(k) for k in changes}
        if before == changes:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        for key, value in changes.items():
            if value is None:
                stored.message.pop(key, None)
            else:
                stored.message[key] = value
        stored.message["edit_date"] = int(time.time())
        return copy.deepcopy(stored.message)

    def _edit_message_text(self, params: Params) -> Params | bool:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        text, entities = format_text(text, params.get("parse_mode"), params.get("entities"))
        if not text:
            raise bad_request("message text is empty")
        if _utf16_len(text) > MAX_MESSAGE_LENGTH:
            raise bad_request("message is too long")
        markup = _check_reply_markup(params.get("reply_markup"), inline_only=True)
        with self._lock:
            chat, message_id, stored = self._edited_message(params)
            if chat is None:
                return True  # inline messages: Telegram answers True
            if stored is not None and "text" not in stored.message:
                raise bad_request("there is no text in the message to edit")
            # An edit without reply_markup removes the inline keyboard, as on Telegram.
            changes = {"text": text, "entities": entities or None, "reply_markup": markup}
            return self._apply_edit(chat, message_id, stored, changes)

    def _edit_message_reply_markup(self, params: Params) -> Params | bool:
        markup = _check_reply_markup(params.get("reply_markup"), inline_only=True)
        with self._lock:
            chat, message_id, stored = self._edited_message(params)
            if chat is None:
                return True
            return self._apply_edit(chat, message_id, stored, {"reply_markup": markup})

    def _delete_message(self, params: Params) -> bool:
        with self._lock:
            chat = self._target_chat(params)
            message_id = params.get("message_id")
            if not isinstance(message_id, int):
                raise bad_request("message identifier is not specified")
            stored = self._messages.get((chat, message_id))
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
        file_id = params.get("file_id")
        if not file_id:
            raise bad_request("file_id not specified")
        with self._lock:
            stored = self._files.get(file_id)
            if stored is None:
                raise bad_request("invalid file_id")
            if len(stored.data) > MAX_DOWNLOAD_BYTES:
                raise bad_request("file is too big")
            return stored.as_file()

    def _get_updates(self, params: Params) -> list[Params]:
        offset = params.get("offset")
        limit = params.get("limit") or 100
        limit = min(max(int(limit), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = params.get("allowed_updates")
        deadline = time.monotonic() + timeout
        with self._changed:
            self._check_no_webhook()
            self._poll_generation += 1
            generation = self._poll_generation
            self._changed.notify_all()  # wakes, and so terminates, an older long poll
            if isinstance(allowed, list):
                self._allowed_updates = allowed or None
            if isinstance(offset, int):
                self._confirm_updates(offset)
            while True:
                ready = [u for u in self._updates if self._is_allowed(u)][:limit]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self._stopping or self._down:
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

    def _confirm_updates(self, offset: int) -> None:
        if offset < 0:
            # -N: keep the last N updates, forget the rest.
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _is_allowed(self, update: Params) -> bool:
        kinds = set(update) - {"update_id"}
        if self._allowed_updates is None:
            return not kinds <= NOT_SENT_BY_DEFAULT
        return bool(kinds & set(self._allowed_updates))

    def _set_webhook(self, params: Params) -> tuple[bool, str]:
        url = params.get("url")
        if url is None:
            raise bad_request("url is empty")
        if url == "":
            return self._delete_webhook(params)
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
        max_connections = params.get("max_connections") or DEFAULT_WEBHOOK_MAX_CONNECTIONS
        if not isinstance(max_connections, int) or not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        with self._lock:
            already = self._webhook is not None and self._webhook["url"] == url
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self._webhook = {
                "url": url,
                "secret_token": secret,
                "has_custom_certificate": isinstance(params.get("certificate"), UploadedFile),
                "max_connections": max_connections,
                "allowed_updates": params.get("allowed_updates") or None,
                "ip_address": params.get("ip_address"),
            }
            self._changed.notify_all()  # a waiting getUpdates now conflicts
            return True, "Webhook is already set" if already else "Webhook was set"

    def _delete_webhook(self, params: Params) -> tuple[bool, str]:
        with self._lock:
            if params.get("drop_pending_updates"):
                self._updates.clear()
            if self._webhook is None:
                return True, "Webhook is already deleted"
            self._webhook = None
            return True, "Webhook was deleted"

    def _get_webhook_info(self, params: Params) -> Params:
        with self._lock:
            info: Params = {
                "url": "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._webhook is not None:
                hook = self._webhook
                info["url"] = hook["url"]
                info["has_custom_certificate"] = hook["has_custom_certificate"]
                info["max_connections"] = hook["max_connections"]
                if hook["ip_address"]:
                    info["ip_address"] = hook["ip_address"]
                if hook["allowed_updates"]:
                    info["allowed_updates"] = list(hook["allowed_updates"])
            return info

    def _set_my_commands(self, params: Params) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("BOT_COMMAND_INVALID")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._checked_commands_key(params)
        with self._lock:
            self._commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
            if not commands:
                del self._commands[key]
            return True

    def _get_my_commands(self, params: Params) -> list[Params]:
        key = self._checked_commands_key(params)
        with self._lock:
            return copy.deepcopy(self._commands.get(key, []))

    def _delete_my_commands(self, params: Params) -> bool:
        key = self._checked_commands_key(params)
        with self._lock:
            self._commands.pop(key, None)
            return True

    @staticmethod
    def _checked_commands_key(params: Params) -> tuple[str, str]:
        language_code = params.get("language_code") or ""
        if language_code and not re.fullmatch(r"[a-z]{2}", language_code):
            raise bad_request("invalid language code specified")
        scope = params.get("scope")
        if scope is not None and not (isinstance(scope, dict) and scope.get("type")):
            raise bad_request("can't parse BotCommandScope JSON object")
        return _commands_key(scope, language_code)


# --------------------------------------------------------------------------------------------
# Helpers


def _chat_key(chat_id: Any) -> Any:
    """Chat ids arrive as ints or numeric strings; compare them as ints."""
    if isinstance(chat_id, str):
        with contextlib.suppress(ValueError):
            return int(chat_id)
    return chat_id


def _commands_key(scope: Params | None, language_code: str) -> tuple[str, str]:
    scope = scope or {"type": "default"}
    return json.dumps(scope, sort_keys=True), language_code or ""


def _reply_to_id(params: Params) -> int | None:
    reply = params.get("reply_parameters")
    if isinstance(reply, dict) and isinstance(reply.get("message_id"), int):
        return int(reply["message_id"])
    value = params.get("reply_to_message_id")
    return value if isinstance(value, int) else None


def _photo_size(file: Params, width: int, height: int) -> Params:
    return {
        "file_id": file["file_id"],
        "file_unique_id": file["file_unique_id"],
        "file_size": file["file_size"],
        "width": width,
        "height": height,
    }


def _is_inline_keyboard(markup: Any) -> bool:
    return isinstance(markup, dict) and "inline_keyboard" in markup


def _check_reply_markup(markup: Any, *, inline_only: bool = False) -> Params | None:
    """Validate reply_markup the way Telegram does for what the project uses."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if inline_only and not _is_inline_keyboard(markup):
        raise bad_request("inline keyboard expected")
    if _is_inline_keyboard(markup):
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse inline keyboard button: Array expected")
        for button in (b for row in rows for b in row):
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not INLINE_BUTTON_ACTIONS & set(button):
                raise bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise bad_request("BUTTON_DATA_INVALID")
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse keyboard button: Array expected")
    elif not ({"remove_keyboard", "force_reply"} & set(markup)):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return copy.deepcopy(markup)


def _injected_error(failure: _Failure) -> ApiError:
    if failure.status == 429:
        wait = failure.retry_after
        description = failure.description or f"Too Many Requests: retry after {wait}"
        return ApiError(429, description, {"retry_after": wait})
    try:
        phrase = HTTPStatus(failure.status).phrase
    except ValueError:
        phrase = "Error"
    return ApiError(failure.status, failure.description or phrase)


def _json_response(status: int, payload: Params) -> _Response:
    body = json.dumps(payload, ensure_ascii=False, default=_json_default)
    return _Response(status, body.encode("utf-8"))


def _error_response(error: ApiError) -> _Response:
    if error.status in NGINX_STATUSES:
        phrase = HTTPStatus(error.status).phrase
        page = NGINX_PAGE.format(status=error.status, phrase=phrase)
        return _Response(error.status, page.encode(), "text/html")
    payload: Params = {"ok": False, "error_code": error.status, "description": error.description}
    if error.parameters:
        payload["parameters"] = error.parameters
    return _json_response(error.status, payload)


def _summary(params: Params) -> str:
    shown = {k: v for k, v in params.items() if k in ("chat_id", "message_id", "text", "offset")}
    return json.dumps(shown, ensure_ascii=False, default=repr)[:120]


def _json_default(value: Any) -> Any:
    if isinstance(value, UploadedFile):
        return {"filename": value.filename, "size": len(value.data)}
    return repr(value)


# --------------------------------------------------------------------------------------------
# HTTP server

_API_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z0-9_]+)/?$")
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")
_CONTROL_PATH = re.compile(r"^/_fake/(?P<name>[a-z_]+)$")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeTelegramAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up (or set_down cutting it) is not worth a traceback.
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive with a Content-Length on every answer; without TCP_NODELAY (and
    # with headers and body in separate writes) each call waits ~40 ms on
    # Nagle + delayed ACK.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server
    server_version = "nginx/1.18.0"
    sys_version = ""

    @property
    def api(self) -> FakeTelegramAPI:
        return self.server.api

    def setup(self) -> None:
        super().setup()
        with self.api._lock:
            self.api._connections.add(self.connection)

    def finish(self) -> None:
        with self.api._lock:
            self.api._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        if self.api.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            response = self._route(self._read_body())
        except Exception:
            # A bug in the fake: say so loudly rather than drop the connection.
            traceback.print_exc()
            response = _error_response(ApiError(500, "Internal Server Error"))
        self._write(response)

    def _route(self, body: bytes) -> _Response:
        parts = urlsplit(self.path)
        path = parts.path
        if match := _API_PATH.match(path):
            try:
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                params.update(decode_body(self.headers.get("Content-Type", ""), body))
            except ApiError as exc:
                response = _error_response(exc)
            else:
                response = self.api._handle_api(unquote(match["token"]), match["method"], params)
        elif match := _FILE_PATH.match(path):
            # python-telegram-bot percent-encodes the whole URL path, so the
            # token's ':' arrives as %3A; other clients send it raw. Accept both.
            response = self.api._handle_download(unquote(match["token"]), unquote(match["path"]))
        elif match := _CONTROL_PATH.match(path):
            response = self.api._handle_control(self.command, match["name"], body)
        else:
            response = _error_response(ApiError(404, "Not Found"))
        return response

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _write(self, response: _Response) -> None:
        status = response.status
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        close = response.close or self.close_connection
        head = (
            f"HTTP/1.1 {status} {phrase}\r\n"
            f"Server: nginx/1.18.0\r\n"
            f"Date: {formatdate(usegmt=True)}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n"
            "\r\n"
        ).encode("latin-1")
        # One write: headers and body in one segment (see the class comment).
        self.wfile.write(head + response.body)
        self.close_connection = close


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
    parser.add_argument(
        "--enforce-limits",
        action="store_true",
        help="answer 429 over 30 messages/s overall and 1/s per chat",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every call")
    args = parser.parse_args(list(argv) if argv is not None else None)

    fake = FakeTelegramAPI(args.token, host=args.host, port=args.port, verbose=args.verbose)
    if args.enforce_limits:
        fake.enforce_limits()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with fake:
        print(f"Fake Telegram Bot API listening on {fake.base_url}", flush=True)
        print(f"  TELEGRAM_API_BASE_URL={fake.base_url}", flush=True)
        print(f"  TELEGRAM_BOT_TOKEN={fake.token}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
