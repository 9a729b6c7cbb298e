"""The channel-neutral shapes that flow through the engine."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any


class InputKind(StrEnum):
    """What a message is: the columns of the flow table (bot/flow.py FLOW).

    EVENT is not a citizen's message: it is the result of work done in the worker (an
    address looked up, a pin named) coming back to the conversation.
    """

    TEXT = "text"
    CHOICE = "choice"
    PHOTO = "photo"
    LOCATION = "location"
    OTHER = "other"
    EVENT = "event"


class WorkerEvent(StrEnum):
    """What the worker found for a conversation (bot/jobs.py), in `Inbound.event["kind"]`."""

    ADDRESS_FOUND = "address_found"  # a typed address geocoded: {"text", "places", ...}
    PIN_NAMED = "pin_named"  # a shared location's address: {"lat", "lon", "label"}


_CONTROLS = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))
_CONTROLS.update(dict.fromkeys(range(0x7F, 0xA0)))  # DEL and the C1 controls


def clean_text(value: str) -> str:
    """Drops NUL and other control characters (tab and newlines stay)."""
    return value.translate(_CONTROLS) if isinstance(value, str) else value


@dataclass(frozen=True)
class StoredPhoto:
    """A picture a channel already downloaded, checked and stored under MEDIA_DIR."""

    sha256: str
    path: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None


@dataclass
class Inbound:
    """One message from a citizen, as every channel hands it to the engine."""

    channel: str
    sender: str
    external_id: str | None = None
    text: str | None = None
    choice: str | None = None
    location: tuple[float, float] | None = None  # (lat, lon)
    photo: StoredPhoto | None = None
    # Why a picture the citizen sent could not be taken ("too_big", "not_image", ...).
    photo_error: str | None = None
    # A picture still at the provider: {"file_id": ..., "size": ...} (Telegram) or
    # {"url": ..., "content_type": ...} (Twilio). The worker downloads it, outside the
    # webhook and any transaction, then hands the message on with `photo` set.
    media: dict[str, Any] | None = None
    # A message kind the bot cannot use (sticker, voice, contact...).
    unsupported: str | None = None
    display_name: str | None = None
    language_code: str | None = None
    # Channel details a sender may need to answer in place (e.g. a Telegram message id).
    meta: dict[str, Any] = field(default_factory=dict)
    # EVENT: what the worker found, e.g. {"kind": WorkerEvent.ADDRESS_FOUND, "places": [...]}.
    event: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # PostgreSQL refuses NUL in text, and control characters are never meant: a
        # message carrying them would fail on every redelivery, so they go here.
        for name in ("text", "choice", "display_name", "language_code", "sender"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, clean_text(value))

    @property
    def kind(self) -> InputKind:
        if self.event is not None:
            return InputKind.EVENT
        if self.choice is not None:
            return InputKind.CHOICE
        if self.photo is not None or self.photo_error is not None:
            return InputKind.PHOTO
        if self.location is not None:
            return InputKind.LOCATION
        if self.text is not None and not self.unsupported:
            return InputKind.TEXT
        return InputKind.OTHER

    @property
    def awaits_download(self) -> bool:
        """A picture is still to be fetched from the provider (by the worker)."""
        return self.media is not None and self.photo is None and self.photo_error is None

    def to_dict(self) -> dict[str, Any]:
        """The message as JSON, to wait in the database behind the citizen's earlier one."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["photo"] = asdict(self.photo) if self.photo is not None else None
        data["location"] = list(self.location) if self.location is not None else None
        return {k: v for k, v in data.items() if v not in (None, {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inbound:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if values.get("photo") is not None:
            values["photo"] = StoredPhoto(**values["photo"])
        if values.get("location") is not None:
            values["location"] = tuple(values["location"])
        return cls(**values)


@dataclass(frozen=True)
class Wait:
    """Work a step needs from the network, done by the worker (bot/jobs.py).

    The conversation waits: the citizen's next messages are held, in order, until the
    result comes back as an EVENT to the state the step returned.
    """

    kind: str
    payload: dict[str, Any]


@dataclass
class Reply:
    """One message to the citizen; each channel renders choices its own way."""

    text: str
    choices: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    request_location: bool = False
    remove_keyboard: bool = False
    # Telegram: rewrite the message whose button was pressed instead of sending anew.
    edit_message_id: int | None = None
    # Telegram: stop the spinner of the button pressed (answerCallbackQuery), no text.
    answer_callback: str | None = None
    # A stored photo (its path under MEDIA_DIR) sent with the text as its caption, on a
    # channel that shows photos (`Channel.can_show_photos`).
    photo: str | None = None

    def to_payload(self) -> dict:
        """The JSON stored in the outbox: only what is set."""
        payload = {
            "text": self.text,
            "choices": [list(c) for c in self.choices],
            "request_location": self.request_location,
            "remove_keyboard": self.remove_keyboard,
            "edit_message_id": self.edit_message_id,
            "answer_callback": self.answer_callback,
            "photo": self.photo,
        }
        return {k: v for k, v in payload.items() if v not in (None, False, [])}

    @classmethod
    def from_payload(cls, payload: dict) -> Reply:
        data = dict(payload)
        data["choices"] = [tuple(c) for c in data.get("choices", [])]
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Outcome:
    """What a step returns: the replies and the next state."""

    replies: list[Reply]
    state: str
    wait: Wait | None = None
    # Set by `go_on`: the report step just answered. The flow then asks the next one
    # the report still needs (bot/flow.py REPORT_STEPS) after these replies.
    after: str | None = None

    def led_by(self, *replies: Reply) -> Outcome:
        """The same outcome, with these replies said first."""
        return replace(self, replies=[*replies, *self.replies])


def go_on(after: str, replies: list[Reply] | None = None) -> Outcome:
    """The report step `after` is answered (or skipped): the flow goes on to the next step
    of bot/flow.py REPORT_STEPS not answered yet, and asks it after `replies`."""
    return Outcome(list(replies or []), after, after=after)
