"""The engine: one inbound message -> one step -> replies in the outbox, one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot import flow, pilot
from bot.context import Ctx
from bot.runtime import Runtime, current_runtime
from bot.texts import pick_language
from bot.types import Inbound, Reply
from models.citizen import Citizen, lock_citizen, save_conversation, update_citizen
from models.messaging import PRIORITY_REPLY, queue_messages, record_inbound

log = logging.getLogger(__name__)

# What an opted-out citizen may still say; anything else is not answered (SMS rules).
ALLOWED_WHEN_OPTED_OUT = {"start", "help"}


@dataclass(frozen=True)
class Handled:
    duplicate: bool = False
    citizen_id: int | None = None
    state: str | None = None
    replies: int = 0


def handle(inbound: Inbound, rt: Runtime | None = None) -> Handled:
    """Handles one inbound message end to end; a redelivered message has no effect.

    Everything (dedupe row, citizen, conversation, report, replies) commits together:
    an exception anywhere leaves the database as it was, and the provider's redelivery
    gets a clean second chance.
    """
    rt = rt or current_runtime()
    with rt.db.transaction() as session:
        if inbound.external_id and not record_inbound(
            session, inbound.channel, inbound.external_id
        ):
            return Handled(duplicate=True)
        language = pick_language(inbound.language_code, rt.settings.DEFAULT_LANGUAGE)
        citizen, conversation, _ = lock_citizen(
            session,
            inbound.channel,
            inbound.sender,
            display_name=_clean_name(inbound.display_name),
            language=language,
        )
        if citizen.unreachable:
            # They write again (unblocked the bot, got their number back): answer them.
            citizen.unreachable = False
            update_citizen(session, citizen.id, unreachable=False)
        ctx = Ctx(session, rt, citizen, conversation, rt.catalog.get(session))
        if citizen.opted_out and not _allowed_when_opted_out(inbound):
            return Handled(citizen_id=citizen.id, state=conversation.state)
        # After STOP/START, so STOP always works; someone outside the pilot is answered.
        outcome = pilot.gate(ctx, inbound) or flow.step(ctx, inbound)
        conversation.state = outcome.state
        offered = flow.offered_choices(outcome.replies)
        conversation.draft = {
            **{k: v for k, v in ctx.draft.items() if k != "_offered"},
            **({"_offered": offered} if offered else {}),
        }
        save_conversation(session, conversation)
        _queue_replies(session, citizen, [*_rewrites(inbound), *outcome.replies])
    rt.wake_worker()
    return Handled(citizen_id=citizen.id, state=outcome.state, replies=len(outcome.replies))


def _queue_replies(session, citizen: Citizen, replies: list[Reply]) -> None:
    # `citizen` is as loaded before the step: one who just erased their data still gets
    # the confirmation, at the address they wrote from.
    if citizen.unreachable or citizen.erased_at:
        return
    # The STOP confirmation is the one message an opted-out citizen still gets.
    queue_messages(
        session,
        [
            {
                "citizen_id": citizen.id,
                "channel": citizen.channel,
                "address": citizen.address,
                "payload": reply.to_payload(),
                "priority": PRIORITY_REPLY,
            }
            for reply in replies
        ],
    )


def _rewrites(inbound: Inbound) -> list[Reply]:
    """Rewrites the message whose button was pressed, when the channel asks (Telegram)."""
    edit = inbound.meta.get("edit_message")
    if not edit:
        return []
    return [Reply(edit["text"], edit_message_id=edit["id"])]


def _allowed_when_opted_out(inbound: Inbound) -> bool:
    command = flow.commands.parse(inbound.text) if inbound.text else None
    return command is not None and command.name in ALLOWED_WHEN_OPTED_OUT


def _clean_name(name: str | None) -> str | None:
    if not name:
        return None
    name = " ".join(name.split())[:64]
    return name or None
