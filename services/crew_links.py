"""Linking an agent's chat to the console: a one-time code shown once ("Mon téléphone",
`webleads agent link-code`), typed in the chat or opened as a channel's deep link; only
its hash is stored, and wrong guesses are limited."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlmodel import Session

from models.agent import Agent
from models.citizen import Citizen, update_citizen
from models.crew import (
    AgentChat,
    CodeGuess,
    LinkCode,
    code_by_hash,
    drop_chat,
    drop_unused_codes,
    guesses_since,
)
from models.db import utcnow
from services import channels
from services.crews import CrewError

CODE_DIGITS = 8
CODE_LIFETIME = timedelta(minutes=10)
# Wrong codes a chat may type per GUESS_WINDOW before it is refused for a while.
MAX_GUESSES, GUESS_WINDOW = 5, timedelta(hours=1)
DEEP_LINK_PREFIX = "agent_"


# --- linking ---------------------------------------------------------------------------


def _hash(secret_key: str, code: str) -> str:
    return hmac.new(secret_key.encode(), code.encode(), hashlib.sha256).hexdigest()


def issue_code(session: Session, agent_id: int, secret_key: str) -> str:
    """A fresh one-time code for the agent (any earlier unused one stops working)."""
    drop_unused_codes(session, agent_id)
    now = utcnow()
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    session.add(
        LinkCode(
            agent_id=agent_id,
            code_hash=_hash(secret_key, code),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    session.flush()
    return code


def deep_links(settings, code: str) -> list[tuple[str, str]]:
    """(label, url) of each channel that can open a chat with the code already typed."""
    found = []
    for channel in channels.enabled_channels(settings):
        if channel.invite is None or not channel.for_citizens:
            continue
        try:
            invite = channel.invite(settings, DEEP_LINK_PREFIX + code)
        except channels.InviteUnavailable:
            continue
        if invite is not None and invite.url:
            found.append((invite.label, invite.url))
    return found


def link_chat(session: Session, chat: Citizen, code: str, secret_key: str) -> Agent:
    """Links the chat to the agent whose code this is; raises CrewError why not."""
    now = utcnow()
    if guesses_since(session, chat.id, now - GUESS_WINDOW) >= MAX_GUESSES:
        raise CrewError("too_many")
    code = "".join(code.split())
    found = code_by_hash(session, _hash(secret_key, code)) if code.isdigit() else None
    if found is None:
        session.add(CodeGuess(citizen_id=chat.id, at=now))
        session.flush()
        raise CrewError("wrong")
    if found.used_at is not None:
        raise CrewError("used")
    if found.expires_at <= now:
        raise CrewError("expired")
    agent = session.get(Agent, found.agent_id)
    if agent is None or not agent.active:
        raise CrewError("wrong")
    found.used_at = now
    session.add(found)
    # One chat per agent, one agent per chat: a new link replaces both old ones.
    drop_chat(session, agent_id=agent.id)
    drop_chat(session, citizen_id=chat.id)
    session.flush()
    session.add(AgentChat(agent_id=agent.id, citizen_id=chat.id, channel=chat.channel))
    update_citizen(session, chat.id, field_chat=True)
    chat.field_chat = True
    session.flush()
    return agent


def unlink_agent(session: Session, agent_id: int) -> bool:
    """Unlinks the agent's chat (the console's button); True if one was linked."""
    return drop_chat(session, agent_id=agent_id) > 0


def unlink_chat(session: Session, chat_id: int) -> bool:
    return drop_chat(session, citizen_id=chat_id) > 0
