"""The channel-neutral shapes that flow through the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Input kinds a step may accept (the columns of the flow table).
TEXT, CHOICE, PHOTO, LOCATION, OTHER = "text", "choice", "photo", "location", "other"


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
    # A message kind the bot cannot use (sticker, voice, contact...).
    unsupported: str | None = None
    display_name: str | None = None
    language_code: str | None = None
    # Channel details a sender may need to answer in place (e.g. a Telegram message id).
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # PostgreSQL refuses NUL in text, and control characters are never meant: a
        # message carrying them would fail on every redelivery, so they go here.
        for name in ("text", "choice", "display_name", "language_code", "sender"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, clean_text(value))

    @property
    def kind(self) -> str:
        if self.choice is not None:
            return CHOICE
        if self.photo is not None or self.photo_error is not None:
            return PHOTO
        if self.location is not None:
            return LOCATION
        if self.text is not None and not self.unsupported:
            return TEXT
        return OTHER


@dataclass
class Reply:
    """One message to the citizen; each channel renders choices its own way."""

    text: str
    choices: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    request_location: bool = False
    remove_keyboard: bool = False
    # Telegram: rewrite the message whose button was pressed instead of sending anew.
    edit_message_id: int | None = None

    def to_payload(self) -> dict:
        """The JSON stored in the outbox: only what is set."""
        payload = {
            "text": self.text,
            "choices": [list(c) for c in self.choices],
            "request_location": self.request_location,
            "remove_keyboard": self.remove_keyboard,
            "edit_message_id": self.edit_message_id,
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
