"""Telegram out: the outbox sender, rendering each Reply with Telegram's own keyboards.

Texts go out as plain text (no parse_mode): a citizen's or an agent's words can never
be read as markup, so there is nothing to escape and nothing to get wrong. Pacing
(30 messages/s, 1/s per chat) is the outbox worker's; a 429 that still happens comes
back as TemporaryFailure(retry_after=...).
"""

from __future__ import annotations

import concurrent.futures
import contextlib

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from models.citizen import citizens_by_id
from models.messaging import Outbox
from services.channels import PermanentFailure, TemporaryFailure
from services.media import photo_store
from services.storage import BadKey, PhotoNotFound, StoreError, StoreMisconfigured
from services.texts import translate
from services.types import Reply
from webhooks.telegram.client import client_for, describe, seconds
from webhooks.telegram.inbound import CHANNEL, SHARE_LOCATION, TYPE_ADDRESS

# Bad Request descriptions that mean the chat itself is gone: the citizen is unreachable.
CHAT_GONE = ("chat not found", "user not found", "peer_id_invalid")
# An edit that changes nothing (a redelivered edit) is not a failure.
NOT_MODIFIED = "message is not modified"
MAX_CALLBACK_DATA = 64  # bytes
MAX_TEXT = 4096  # UTF-16 code units
MAX_CAPTION = 1024  # a photo's caption
# Choices this short share one row (Yes / No, Français / English); others get a row each.
ONE_ROW_MAX_CHOICES, ONE_ROW_MAX_LABEL = 3, 16
# Sent, then deleted at once, only to take a reply keyboard away (see _clear_keyboard).
KEYBOARD_CLEARER = "…"


class TelegramSender:
    """Sends outbox messages to Telegram chats (`Outbox.address` is the chat id)."""

    channel = CHANNEL

    def __init__(self, settings, db=None) -> None:
        self.settings = settings
        self.db = db  # to word the location buttons in the citizen's language
        self.client = client_for(settings)

    def send(self, message: Outbox) -> str:
        """Sends (or edits) one message; returns "chat_id:message_id"."""
        reply = Reply.from_payload(message.payload)
        chat_id = _chat_id(message.address)
        if reply.answer_callback:
            return self._answer_callback(reply.answer_callback)
        try:
            markup = reply_markup(reply, self._language(message) if reply.request_location else "")
        except ValueError as exc:
            raise PermanentFailure(str(exc)) from exc
        photo = self._photo_bytes(reply.photo) if reply.photo else None
        message_id = self._call(lambda bot: deliver(bot, chat_id, reply, markup, photo))
        return f"{chat_id}:{message_id}"

    def _photo_bytes(self, path: str) -> bytes:
        """A stored photo's bytes (EXIF already stripped when it was stored)."""
        try:
            return photo_store(self.settings).get(path)
        except (PhotoNotFound, StoreMisconfigured, BadKey) as exc:
            raise PermanentFailure(f"the photo {path} is not in storage") from exc
        except StoreError as exc:
            raise TemporaryFailure(f"the photo store did not answer: {exc}") from exc

    def _answer_callback(self, query_id: str) -> str:
        """Stops a pressed button's spinner; a query too old to answer is no failure."""
        # "query is too old": the spinner has long stopped by itself.
        self._call(lambda bot: bot.answer_callback_query(query_id), harmless=BadRequest)
        return f"callback:{query_id}"

    def _call(self, fn, harmless: type[TelegramError] | None = None):
        """One Bot API call; what Telegram answers becomes the outbox's kind of failure."""
        try:
            return self.client.call(fn)
        except TelegramError as exc:
            if harmless is not None and isinstance(exc, harmless):
                return None
            raise failure_for(exc) from exc
        except concurrent.futures.TimeoutError as exc:
            raise TemporaryFailure("Telegram did not answer in time") from exc

    def _language(self, message: Outbox) -> str:
        if self.db is not None:
            with self.db.reading() as session:
                citizen = citizens_by_id(session, [message.citizen_id]).get(message.citizen_id)
            if citizen is not None:
                return citizen.language
        return self.settings.DEFAULT_LANGUAGE


def reply_markup(reply: Reply, lang: str):
    """The keyboard for a reply: inline buttons, the location keyboard, or its removal."""
    if reply.request_location:
        rows = [
            [KeyboardButton(translate(lang, SHARE_LOCATION), request_location=True)],
            [KeyboardButton(translate(lang, TYPE_ADDRESS))],
            # A typed label selects its choice (bot.flow.resolve_choice), e.g. Skip.
            *([KeyboardButton(label)] for _, label in reply.choices),
        ]
        return ReplyKeyboardMarkup(rows, one_time_keyboard=True, resize_keyboard=True)
    if reply.choices:
        return inline_keyboard(reply.choices)
    if reply.remove_keyboard:
        return ReplyKeyboardRemove()
    return None


def inline_keyboard(choices: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button per choice; its callback data is the choice's value."""
    for value, _ in choices:
        if not 1 <= len(value.encode()) <= MAX_CALLBACK_DATA:
            raise ValueError(f"choice value {value!r} does not fit Telegram's callback data")
    buttons = [InlineKeyboardButton(label, callback_data=value) for value, label in choices]
    short = len(choices) <= ONE_ROW_MAX_CHOICES and all(
        len(label) <= ONE_ROW_MAX_LABEL for _, label in choices
    )
    return InlineKeyboardMarkup([buttons] if short else [[b] for b in buttons])


async def deliver(bot: Bot, chat_id: int | str, reply: Reply, markup, photo=None) -> int:
    """Sends the reply (or rewrites the message it edits); returns the message id."""
    if photo is not None:
        caption = _fit(reply.text, MAX_CAPTION) or None
        sent = await bot.send_photo(chat_id, photo, caption=caption, reply_markup=markup)
        return sent.message_id
    text = _fit(reply.text)
    if reply.edit_message_id is not None:
        inline = markup if isinstance(markup, InlineKeyboardMarkup) else None
        try:
            await bot.edit_message_text(
                text, chat_id=chat_id, message_id=reply.edit_message_id, reply_markup=inline
            )
        except BadRequest as exc:
            if NOT_MODIFIED not in exc.message.lower():
                raise
        return reply.edit_message_id
    if reply.remove_keyboard and isinstance(markup, InlineKeyboardMarkup):
        await _clear_keyboard(bot, chat_id)
    sent = await bot.send_message(chat_id, text, reply_markup=markup)
    return sent.message_id


async def _clear_keyboard(bot: Bot, chat_id: int | str) -> None:
    """Takes the reply keyboard away before a message that carries inline buttons.

    A message has one keyboard: inline buttons or a change to the reply keyboard. A
    silent message that removes the reply keyboard, deleted at once, does the second;
    sent again on a retry, it leaves nothing behind.
    """
    clearer = await bot.send_message(
        chat_id, KEYBOARD_CLEARER, reply_markup=ReplyKeyboardRemove(), disable_notification=True
    )
    with contextlib.suppress(TelegramError):  # a stray "…" is harmless
        await bot.delete_message(chat_id, clearer.message_id)


def failure_for(exc: TelegramError) -> Exception:
    """Maps Telegram's error to the outbox's retry-or-give-up."""
    reason = describe(exc)
    if isinstance(exc, RetryAfter):
        return TemporaryFailure(reason, retry_after=seconds(exc.retry_after))
    if isinstance(exc, Forbidden):  # blocked by the user, deactivated account
        return PermanentFailure(reason, citizen_flag="unreachable")
    if isinstance(exc, BadRequest):  # before NetworkError: BadRequest is one
        gone = any(words in exc.message.lower() for words in CHAT_GONE)
        return PermanentFailure(reason, citizen_flag="unreachable" if gone else None)
    if isinstance(exc, ChatMigrated):
        return PermanentFailure(reason)
    return TemporaryFailure(reason)  # network, timeouts, 5xx, a token being fixed


def _fit(text: str, limit: int = MAX_TEXT) -> str:
    if len(text.encode("utf-16-le")) // 2 <= limit:
        return text
    while len(text.encode("utf-16-le")) // 2 > limit - 1:
        text = text[: len(text) - 64]
    return text + "…"


def _chat_id(address: str) -> int | str:
    return int(address) if address.lstrip("-").isdigit() else address
