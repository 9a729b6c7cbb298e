"""Telegram updates in: checked and read (webhooks/telegram/shape.py), handed to the engine.

The webhook and long polling both call `handle_update`. Nothing here reads or writes
the conversation: the engine does, in its own transaction, deduplicating on update_id.
"""

from __future__ import annotations

import logging
from typing import Any

from bot import engine
from services.config import LANGUAGES
from services.media import PhotoError, store_photo
from services.runtime import Runtime
from services.texts import N_, translate
from services.types import Inbound
from webhooks.telegram.client import MAX_DOWNLOAD_BYTES, FileTooBig, TelegramClient, describe
from webhooks.telegram.shape import (
    CallbackQuery,
    Message,
    NotAnUpdate,
    PhotoSize,
    Update,
    Verdict,
    check_update,
)

log = logging.getLogger(__name__)

CHANNEL = "telegram"
# The update kinds the bot asks for (setWebhook, getUpdates); others are ignored.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# Message contents the bot cannot use; the citizen is told so. Animations come first:
# Telegram also fills `document` for them.
UNSUPPORTED_CONTENT = (
    "animation",
    "sticker",
    "voice",
    "audio",
    "video",
    "video_note",
    "contact",
    "dice",
    "poll",
    "game",
    "story",
)
# What `handle_update` did, for logs and tests.
HANDLED, DUPLICATE, NOTICE, IGNORED = "handled", "duplicate", "notice", "ignored"

# The reply-keyboard button shown under the location question (see webhooks/telegram/sender.py).
SHARE_LOCATION = N_("📍 Share my location")
TYPE_ADDRESS = N_("⌨️ Type an address instead")
TYPE_ADDRESS_PROMPT = N_("Type the address (for example: 12 rue de la Poterie).")
EDIT_IGNORED = N_(
    "Changes to a message already sent are not taken into account. "
    "Please send the correction as a new message."
)
# How the menu message shows the button that was pressed, once its keyboard is gone.
CHOSEN_MARK = "→"
MAX_TEXT = 4096


def parse_update(data: Any) -> Update | None:
    """Parses an update the bot can use; None (logged) for a kind or shape it cannot use.

    Raises NotAnUpdate when `data` is no update at all. The update is the checked shape
    itself (webhooks.telegram.shape): the fields the bot reads, of the right types.
    """
    checked = check_update(data)
    if checked.verdict is Verdict.NOT_AN_UPDATE:
        raise NotAnUpdate
    return checked.update if checked.usable else None


def handle_update(rt: Runtime, update: Update) -> str:
    """Hands one update to the engine (or answers it directly); returns what it did.

    Nothing here calls Telegram: a webhook verifies, parses, stores and answers.
    """
    if update.callback_query is not None:
        return _handle_callback(rt, update, update.callback_query)
    if update.edited_message is not None:
        return _handle_edit(rt, update, update.edited_message)
    message = update.message
    if message is None or not _from_citizen(message):
        return IGNORED
    if message.text and message.text.strip() in _type_address_labels():
        return queue_notice(
            rt, update, str(message.chat.id), TYPE_ADDRESS_PROMPT, remove_keyboard=True
        )
    inbound = message_inbound(update, message)
    if inbound is None:
        return IGNORED
    return DUPLICATE if engine.handle(inbound, rt).duplicate else HANDLED


def message_inbound(update: Update, message: Message) -> Inbound | None:
    """Maps a citizen's message to an Inbound; None for service messages.

    A picture is not downloaded here: the Inbound names it (`media`) and the worker
    fetches it, so the webhook answers Telegram at once.
    """
    user = message.from_user
    inbound = Inbound(
        CHANNEL,
        str(message.chat.id),
        external_id=str(update.update_id),
        display_name=user.first_name if user else None,
        language_code=user.language_code if user else None,
    )
    if message.text is not None:
        inbound.text = message.text
    elif message.venue is not None or message.location is not None:
        place = message.venue.location if message.venue is not None else message.location
        inbound.location = (place.latitude, place.longitude)
    elif message.photo:
        _take_picture(inbound, *_largest_photo(message.photo))
        inbound.text = message.caption
    elif unsupported := next((k for k in UNSUPPORTED_CONTENT if getattr(message, k)), None):
        inbound.unsupported = unsupported
    elif message.document is not None:
        document = message.document
        if (document.mime_type or "").startswith("image/"):
            _take_picture(inbound, document.file_id, document.file_size)
            inbound.text = message.caption
        else:
            inbound.unsupported = "document"
    else:
        return None
    return inbound


def _largest_photo(sizes: list[PhotoSize]) -> tuple[str | None, int | None]:
    """The biggest size Telegram lets a bot download; (None, size) when none fits."""
    ordered = sorted(sizes, key=lambda s: (s.width * s.height, s.file_size or 0))
    fitting = [s for s in ordered if not s.file_size or s.file_size <= MAX_DOWNLOAD_BYTES]
    if not fitting:
        return None, ordered[-1].file_size
    return fitting[-1].file_id, fitting[-1].file_size


def _take_picture(inbound: Inbound, file_id: str | None, file_size: int | None) -> None:
    inbound.meta["limit_mb"] = MAX_DOWNLOAD_BYTES // (1024 * 1024)
    if file_id is None or (file_size or 0) > MAX_DOWNLOAD_BYTES:
        inbound.photo_error = "too_big"
    else:
        inbound.media = {"file_id": file_id, "size": file_size}


def fetch_picture(rt: Runtime, client: TelegramClient, media: dict):
    """Downloads and stores a picture (in the worker); returns (photo, None) or (None, why)."""
    from telegram.error import TelegramError

    file_id = media["file_id"]
    try:
        data = client.download(file_id)
    except FileTooBig:
        return None, "too_big"
    except (TelegramError, TimeoutError, OSError) as exc:
        if "too big" in str(exc).lower():
            return None, "too_big"
        log.warning("telegram: could not download file %s: %s", file_id, describe(exc))
        return None, "download_failed"
    try:
        return store_photo(data, rt.settings), None
    except PhotoError as exc:
        return None, exc.reason


def _handle_callback(rt: Runtime, update: Update, query: CallbackQuery) -> str:
    """Hands the choice to the engine, which also has the button's spinner stopped.

    The answer to the callback query goes through the outbox like every reply, after
    the engine's dedupe: a redelivered update does not answer it twice.
    """
    message = query.message
    if not query.data or message is None or message.chat.type != "private":
        return IGNORED
    inbound = Inbound(
        CHANNEL,
        str(message.chat.id),
        external_id=str(update.update_id),
        choice=query.data,
        display_name=query.from_user.first_name,
        language_code=query.from_user.language_code,
        meta={"answer_callback": query.id, **_show_choice(message, query.data)},
    )
    return DUPLICATE if engine.handle(inbound, rt).duplicate else HANDLED


def _show_choice(message: Message, data: str) -> dict:
    """Asks the engine to rewrite the menu message: its text, the choice, no buttons."""
    if not message.accessible or not message.text:
        return {}  # too old to be shown (InaccessibleMessage), or a photo
    labels = [
        button.text
        for row in (message.reply_markup.inline_keyboard if message.reply_markup else ())
        for button in row
        if button.callback_data == data
    ]
    text = message.text
    if labels:
        mark = f"\n\n{CHOSEN_MARK} {labels[0]}"
        text = text[: MAX_TEXT - len(mark) - 1] + mark
    return {"edit_message": {"id": message.message_id, "text": text}}


def _handle_edit(rt: Runtime, update: Update, message: Message) -> str:
    """Says an edit is not taken into account; live location moves are ignored."""
    if not _from_citizen(message) or message.location is not None:
        return IGNORED
    return queue_notice(rt, update, str(message.chat.id), EDIT_IGNORED)


def queue_notice(rt: Runtime, update: Update, sender: str, msgid: str, **reply: Any) -> str:
    """A channel-level answer (edits ignored, "type the address") for a known citizen,
    once per update, through the engine; the conversation stays where it is."""
    inbound = Inbound(CHANNEL, sender, external_id=str(update.update_id))
    handled = engine.notice(inbound, msgid, rt, **reply)
    if handled.duplicate:
        return DUPLICATE
    return NOTICE if handled.replies else IGNORED


def _from_citizen(message: Message) -> bool:
    """A citizen's own private chat with the bot (groups and other bots are not citizens)."""
    user = message.from_user
    return message.chat.type == "private" and not (user is not None and user.is_bot)


def _type_address_labels() -> set[str]:
    return {translate(lang, TYPE_ADDRESS) for lang in LANGUAGES}
