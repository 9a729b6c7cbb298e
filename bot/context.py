"""The context a conversation step receives."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from bot.catalog import CategoryInfo, Snapshot
from bot.runtime import Runtime
from bot.texts import translate
from models.citizen import Citizen, Conversation


@dataclass
class Ctx:
    session: Session
    rt: Runtime
    citizen: Citizen
    conversation: Conversation
    catalog: Snapshot

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
