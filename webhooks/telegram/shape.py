"""The shape of a Telegram update, checked, and the update the bot reads.

A `text` that is a list, a message without `chat`, must not reach the handlers and
raise: Telegram retries every answer that is not 2xx, so what the bot cannot use must
still be acknowledged. `check_update` sorts a webhook body (or a polled update, as a
dict) into:

- not an update (not an object, no integer `update_id`): 400, Telegram sent no such thing;
- a kind the bot does not handle (poll, my_chat_member...): acknowledged, never read,
  so a kind shaped for another Bot API version cannot make the bot raise;
- a handled kind whose fields the bot reads have the wrong type: acknowledged, ignored;
- otherwise the update, as the models below (webhooks.telegram.inbound reads them).

The models list only what webhooks.telegram.inbound reads, strictly typed; any other
field is ignored. They are the parsed update itself: python-telegram-bot's
`Update.de_json` built a second, larger tree of objects from the same dict for every
message (about 0.2 ms of a webhook request's CPU), of which the bot read these fields.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)

# Telegram's identifiers and sizes fit in 64 bits; anything wider is not Telegram's.
Int64 = Annotated[int, Field(ge=-(2**63), lt=2**63)]
Size = Annotated[int, Field(ge=0, lt=2**63)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
# A Unix time a date can be made of (up to 9999-12-31); 0: a message the bot can no
# longer see (an old menu's button: Telegram's InaccessibleMessage).
Timestamp = Annotated[int, Field(ge=0, le=253402300799)]
# Message contents the bot cannot use, read only for being there.
Content = dict[str, Any] | None


class Shape(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class User(Shape):
    id: Int64
    is_bot: bool
    first_name: str
    language_code: str | None = None


class Chat(Shape):
    id: Int64
    type: str


class Location(Shape):
    latitude: Latitude
    longitude: Longitude


class Venue(Shape):
    location: Location


class PhotoSize(Shape):
    file_id: str
    width: Size
    height: Size
    file_size: Size | None = None


class Document(Shape):
    file_id: str
    mime_type: str | None = None
    file_size: Size | None = None


class Button(Shape):
    text: str
    callback_data: str | None = None


class Keyboard(Shape):
    inline_keyboard: list[list[Button]]


class Message(Shape):
    message_id: Int64
    date: Timestamp
    chat: Chat
    from_user: User | None = Field(None, alias="from")
    text: str | None = None
    caption: str | None = None
    location: Location | None = None
    venue: Venue | None = None
    photo: list[PhotoSize] | None = None
    document: Document | None = None
    reply_markup: Keyboard | None = None
    # What the bot tells the citizen it cannot read (inbound.UNSUPPORTED_CONTENT).
    animation: Content = None
    sticker: Content = None
    voice: Content = None
    audio: Content = None
    video: Content = None
    video_note: Content = None
    contact: Content = None
    dice: Content = None
    poll: Content = None
    game: Content = None
    story: Content = None

    @property
    def accessible(self) -> bool:
        """False for a message Telegram no longer shows the bot (date 0)."""
        return self.date != 0


class CallbackQuery(Shape):
    id: str
    from_user: User = Field(alias="from")
    data: str | None = None
    message: Message | None = None


class Update(Shape):
    update_id: int
    message: Message | None = None
    edited_message: Message | None = None
    callback_query: CallbackQuery | None = None


# The update kinds the bot handles: what it asks Telegram for (ALLOWED_UPDATES).
HANDLED_KINDS = tuple(name for name in Update.model_fields if name != "update_id")


class NotAnUpdate(ValueError):
    """The body is not a Telegram update at all (the webhook answers 400)."""


class Verdict(StrEnum):
    USABLE = "usable"
    NOT_AN_UPDATE = "not an update"
    UNHANDLED_KIND = "kind not handled"
    BAD_SHAPE = "fields of the wrong type"


@dataclass(frozen=True)
class Checked:
    """What `check_update` found; `update`, the update read, when USABLE."""

    verdict: Verdict
    update: Update | None = None
    reason: str = ""

    @property
    def usable(self) -> bool:
        return self.verdict is Verdict.USABLE


def check_update(data: Any) -> Checked:
    """Sorts a raw update by what the bot can do with it; logs what it ignores."""
    if not isinstance(data, dict) or type(data.get("update_id")) is not int:
        return Checked(Verdict.NOT_AN_UPDATE)
    update_id = data["update_id"]
    kinds = [k for k, v in data.items() if k != "update_id" and v is not None]
    handled = {k: data[k] for k in kinds if k in HANDLED_KINDS}
    if not handled:
        return _ignored(update_id, Verdict.UNHANDLED_KIND, ", ".join(kinds) or "empty")
    try:
        update = Update.model_validate({"update_id": update_id, **handled})
    except ValidationError as exc:
        return _ignored(update_id, Verdict.BAD_SHAPE, _first_error(exc))
    return Checked(Verdict.USABLE, update)


def _ignored(update_id: int, verdict: Verdict, reason: str) -> Checked:
    # A handled kind of the wrong shape means Telegram's API changed under the bot.
    level = logging.WARNING if verdict is Verdict.BAD_SHAPE else logging.INFO
    log.log(level, "telegram: update %s ignored, %s: %s", update_id, verdict, reason[:200])
    return Checked(verdict, reason=reason)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(step) for step in error["loc"])
    more = exc.error_count() - 1
    return f"{where}: {error['msg']}" + (f" (and {more} more)" if more else "")
