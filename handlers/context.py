"""The context a conversation step receives."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from models.citizen import Citizen, Conversation
from services import channels
from services.catalog import CategoryInfo, Snapshot
from services.runtime import Runtime
from services.texts import translate


@dataclass
class Ctx:
    session: Session
    rt: Runtime
    citizen: Citizen
    conversation: Conversation
    catalog: Snapshot

    @property
    def channel(self) -> channels.Channel:
        """What the citizen's channel can do (buttons, pins, photos): steps ask this."""
        return channels.get(self.citizen.channel)

    @property
    def draft(self) -> dict:
        return self.conversation.draft

    @property
    def lang(self) -> str:
        return self.citizen.language

    @property
    def state(self) -> str:
        return self.conversation.state

    def t(self, msgid: str, **values) -> str:
        """Translates into the citizen's language and fills the placeholders."""
        return translate(self.lang, msgid, **values)

    def reset_draft(self, **keep) -> None:
        self.conversation.draft = dict(keep)

    @property
    def category(self) -> CategoryInfo | None:
        code = self.draft.get("category")
        return self.catalog.by_code.get(code) if code else None
