"""A Reply as WhatsApp shows it, and the Content API resources that carry it.

In a session (within 24 hours of the citizen's last message) WhatsApp takes, without
approval: quick replies (`twilio/quick-reply`, at most 3 buttons, titles of 20
characters at most), list pickers (`twilio/list-picker`, at most 10 rows, each title of
24 characters at most, a description of 72, a button of 20) and plain text. More choices
than a list holds are written as a numbered text: typing the number (or the word) works
everywhere. Contents are created once per distinct shape (`POST /v1/Content`) and sent
by their HX sid; the sids are remembered by the sender.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from twilio.rest.content.v1.content import ContentList

from services.texts import N_, translate
from services.types import Reply

QUICK_REPLIES, TITLE_CHARS = 3, 20
LIST_ROWS, ROW_CHARS, DESCRIPTION_CHARS, LIST_BUTTON_CHARS = 10, 24, 72, 20
# A content's body (quick reply, list picker) and a message's Body on Twilio.
CONTENT_BODY_CHARS, BODY_CHARS = 1024, 1600
ELLIPSIS = "…"

LIST_BUTTON = N_("Choose")
# WhatsApp has no "share my location" button: the question says how.
LOCATION_HINT = N_("To share the place: tap 📎 (or +), then Location.")

TEXT, QUICK_REPLY, LIST_PICKER = "twilio/text", "twilio/quick-reply", "twilio/list-picker"


@dataclass(frozen=True)
class Shape:
    """What the citizen sees: a text, a text with buttons, or a text with a list."""

    kind: str  # TEXT, QUICK_REPLY or LIST_PICKER
    body: str
    buttons: tuple[tuple[str, str], ...] = ()  # (id, title)
    rows: tuple[tuple[str, str, str], ...] = ()  # (id, title, description)
    button: str = ""  # the list's button
    extra: dict = field(default_factory=dict, compare=False)

    def types(self) -> dict:
        """The Content API's `types` of this shape."""
        if self.kind == QUICK_REPLY:
            actions = [{"type": "QUICK_REPLY", "id": i, "title": t} for i, t in self.buttons]
            return {QUICK_REPLY: {"body": self.body, "actions": actions}}
        if self.kind == LIST_PICKER:
            items = [
                {"id": i, "item": t, **({"description": d} if d else {})} for i, t, d in self.rows
            ]
            return {LIST_PICKER: {"body": self.body, "button": self.button, "items": items}}
        return {TEXT: {"body": self.body}}

    def key(self, language: str) -> str:
        raw = json.dumps([language, self.types()], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    def as_dict(self) -> dict:
        """For the console's simulator: the same shape, drawn."""
        return {
            "kind": self.kind,
            "body": self.body,
            "buttons": [{"value": i, "label": t} for i, t in self.buttons],
            "rows": [{"value": i, "label": t, "description": d} for i, t, d in self.rows],
            "button": self.button,
        }


def shorten(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word when that costs little."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    cut = head.rfind(" ")
    if cut >= len(head) - 6 and cut > 0:
        head = head[:cut]
    return head.rstrip(" ,;:-") + ELLIPSIS


def _body(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def shape(reply: Reply, language: str) -> Shape:
    """Renders a Reply the way WhatsApp can show it (see the module's limits)."""
    text = reply.text.strip()
    if reply.request_location:
        text = f"{text}\n{translate(language, LOCATION_HINT)}"
    choices = [(value, label) for value, label in reply.choices if value]
    if not choices:
        return Shape(TEXT, _body(text, BODY_CHARS))
    body = _body(text, CONTENT_BODY_CHARS)
    if len(choices) <= QUICK_REPLIES and _distinct(choices, TITLE_CHARS):
        buttons = tuple((value, shorten(label, TITLE_CHARS)) for value, label in choices)
        return Shape(QUICK_REPLY, body, buttons=buttons)
    if len(choices) <= LIST_ROWS and _distinct(choices, ROW_CHARS):
        rows = tuple(
            (
                value,
                shorten(label, ROW_CHARS),
                shorten(label, DESCRIPTION_CHARS) if len(label) > ROW_CHARS else "",
            )
            for value, label in choices
        )
        button = shorten(translate(language, LIST_BUTTON), LIST_BUTTON_CHARS)
        return Shape(LIST_PICKER, body, rows=rows, button=button)
    numbered = "\n".join(f"{n}. {label}" for n, (_, label) in enumerate(choices, 1))
    return Shape(TEXT, _body(f"{text}\n\n{numbered}", BODY_CHARS))


def _distinct(choices: list[tuple[str, str]], limit: int) -> bool:
    """Shortened titles must still tell the choices apart (and ids be unique)."""
    titles = [shorten(label, limit) for _, label in choices]
    return len(set(titles)) == len(titles) and len({v for v, _ in choices}) == len(choices)


class ContentCache:
    """The HX sid of each shape already created at Twilio (per process, bounded)."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._sids: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def sid_for(self, client, shape: Shape, language: str) -> str:
        """The content's sid, created at Twilio the first time it is needed."""
        key = shape.key(language)
        with self._lock:
            if key in self._sids:
                self._sids.move_to_end(key)
                return self._sids[key]
        request = ContentList.ContentCreateRequest(
            {
                "friendly_name": f"webleads_{key[:24]}",
                "language": language,
                "variables": {},
                "types": shape.types(),
            }
        )
        sid = client.content.v1.contents.create(request).sid
        with self._lock:
            self._sids[key] = sid
            while len(self._sids) > self.size:
                self._sids.popitem(last=False)
        return sid
