"""The engine: one inbound message -> one step -> replies in the outbox, one transaction.

A step that needs the network (a picture to download, an address to geocode) does not
wait for it: it returns a `Wait`, the engine queues a job for the worker and the
conversation waits on it. The citizen's next messages are held, in order, until the
worker hands the result back (`resume`), so nothing a citizen says is reordered and no
transaction is ever open during a network call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from bot import flow
from handlers.context import Ctx
from models.citizen import (
    Citizen,
    find_citizen,
    lock_citizen,
    lock_citizen_by_id,
    lock_citizen_for_message,
    save_conversation,
    update_citizen,
)
from models.jobs import (
    PHOTO_JOBS_PER_CITIZEN,
    JobKind,
    drop_held,
    finish_job,
    hold_inbound,
    next_held,
    photo_jobs_pending,
    queue_job,
)
from models.messaging import PRIORITY_REPLY, queue_messages, record_inbound
from services import channels
from services.runtime import Runtime, current_runtime
from services.texts import pick_language, translate
from services.types import Inbound, Reply, Wait

log = logging.getLogger(__name__)

# What an opted-out citizen may still say; anything else is not answered (SMS rules).
ALLOWED_WHEN_OPTED_OUT = {"start", "help"}
# Honoured at once, even while the conversation waits on the worker.
JUMPS_THE_QUEUE = {"stop"}
# Database errors a later delivery may not meet (locked, restarting, out of connections):
# the provider is asked to deliver again (the app answers them 503).
TRANSIENT = (OperationalError, InterfaceError, PoolTimeout)


@dataclass(frozen=True)
class Handled:
    duplicate: bool = False
    citizen_id: int | None = None
    state: str | None = None
    replies: int = 0
    # Held behind work the worker is doing for this citizen, or waiting for it.
    waiting: bool = False


def handle(inbound: Inbound, rt: Runtime | None = None) -> Handled:
    """Handles one inbound message end to end; a redelivered message has no effect.

    Everything (dedupe row, citizen, conversation, report, replies, jobs) commits
    together: an exception anywhere leaves the database as it was, and the provider's
    redelivery gets a clean second chance.
    """
    rt = rt or current_runtime()
    with rt.db.transaction() as session:
        locked = _lock(session, rt, inbound)
        if locked is None:
            return Handled(duplicate=True)
        citizen, conversation, _ = locked
        on_inbound = channels.get(inbound.channel).on_inbound
        if on_inbound is not None:  # what the channel records of each message (WhatsApp)
            on_inbound(session, citizen, inbound)
        if citizen.unreachable:
            # They write again (unblocked the bot, got their number back): answer them.
            citizen.unreachable = False
            update_citizen(session, citizen.id, unreachable=False)
        held = conversation.waiting_on is not None and not _jumps_the_queue(inbound)
        if held:
            hold_inbound(session, citizen.id, inbound.to_dict())
        else:
            if conversation.waiting_on is not None:
                # STOP: the pending work and what was said meanwhile are dropped with it.
                conversation.waiting_on = None
                drop_held(session, citizen.id)
            ctx = Ctx(session, rt, citizen, conversation, rt.catalog.get(session))
            replies = _run(ctx, inbound)
            _save(session, ctx, citizen, replies)
    # Held too: the channel's hook may have queued messages (WhatsApp's held news).
    rt.wake_worker()
    if held:
        return Handled(citizen_id=citizen.id, state=conversation.state, waiting=True)
    return Handled(
        citizen_id=citizen.id,
        state=conversation.state,
        replies=len(replies),
        waiting=conversation.waiting_on is not None,
    )


def _lock(session: Session, rt: Runtime, inbound: Inbound):
    """The message's id recorded and its citizen locked (one round trip on PostgreSQL);
    None for a redelivered message."""
    language = pick_language(inbound.language_code, rt.settings.DEFAULT_LANGUAGE)
    name = _clean_name(inbound.display_name)
    if not inbound.external_id:
        return lock_citizen(
            session, inbound.channel, inbound.sender, display_name=name, language=language
        )
    return lock_citizen_for_message(
        session, inbound.channel, inbound.sender, inbound.external_id,
        display_name=name, language=language,
    )  # fmt: skip


def notice(inbound: Inbound, msgid: str, rt: Runtime | None = None, **reply) -> Handled:
    """Answers something about the channel itself (an edit that is not taken into account,
    "type the address"), once per inbound, to a citizen it knows; the conversation stays
    where it is. The same dedupe, lookup and outbox row as `handle`."""
    rt = rt or current_runtime()
    with rt.db.transaction() as session:
        if inbound.external_id and not record_inbound(
            session, inbound.channel, inbound.external_id
        ):
            return Handled(duplicate=True)
        citizen = find_citizen(session, inbound.channel, inbound.sender)
        if citizen is None or not citizen.can_receive:
            return Handled()
        _queue_replies(session, citizen, [Reply(translate(citizen.language, msgid), **reply)])
    rt.wake_worker()
    return Handled(citizen_id=citizen.id, state=None, replies=1)


def resume(rt: Runtime, job_id: int, citizen_id: int, *, event: dict | None = None,
           inbound: Inbound | None = None) -> bool:  # fmt: skip
    """Hands the worker's result back: an EVENT, or the message with its picture.

    Then replays the messages held meanwhile, in order, until one needs the worker
    again. Returns False when the conversation no longer waits on this job (the
    citizen said STOP or erased their data meanwhile): the result is dropped.
    """
    with rt.db.transaction() as session:
        finish_job(session, job_id)
        locked = lock_citizen_by_id(session, citizen_id)
        if locked is None or locked[1].waiting_on != job_id:
            return False
        citizen, conversation = locked
        conversation.waiting_on = None
        ctx = Ctx(session, rt, citizen, conversation, rt.catalog.get(session))
        if inbound is None:
            inbound = Inbound(citizen.channel, citizen.address, event=event)
        replies = _run(ctx, inbound)
        while conversation.waiting_on is None:
            held = next_held(session, citizen.id)
            if held is None:
                break
            replies += _run(ctx, Inbound.from_dict(held))
        _save(session, ctx, citizen, replies)
    rt.wake_worker()
    return True


def _run(ctx: Ctx, inbound: Inbound) -> list[Reply]:
    """Steps the conversation with one message (or queues the download it needs)."""
    conversation = ctx.conversation
    if ctx.citizen.opted_out and not _allowed_when_opted_out(inbound):
        return []
    if inbound.awaits_download:
        if photo_jobs_pending(ctx.session, ctx.citizen.id) < PHOTO_JOBS_PER_CITIZEN:
            _wait(ctx, Wait(JobKind.FETCH_MEDIA, {"inbound": inbound.to_dict()}))
            return []
        # Pictures of theirs are still being decoded (sent before a STOP, or on the link
        # page): this one is answered "one moment", so one sender never holds every thread.
        inbound.media, inbound.photo_error = None, "busy"
    # Who answers: the first of bot/flow.py MODES that wants the message and answers it
    # (a field agent's chat, the pilot's gate, the conversation).
    for mode in flow.MODES:
        outcome = mode.handle(ctx, inbound) if mode.wants(ctx, inbound) else None
        if outcome is not None:
            break
    else:
        raise LookupError("no mode of bot/flow.py MODES answered")
    if not mode.moves:
        return [*_rewrites(inbound), *outcome.replies]
    conversation.state = outcome.state
    offered = flow.offered_choices(outcome.replies)
    conversation.draft = {
        **{k: v for k, v in ctx.draft.items() if k != "_offered"},
        **({"_offered": offered} if offered else {}),
    }
    if outcome.wait is not None:
        _wait(ctx, outcome.wait)
    return [*_rewrites(inbound), *outcome.replies]


def _wait(ctx: Ctx, wait: Wait) -> None:
    ctx.conversation.waiting_on = queue_job(
        ctx.session, JobKind(wait.kind), wait.payload, citizen_id=ctx.citizen.id
    )


def _save(session: Session, ctx: Ctx, citizen: Citizen, replies: list[Reply]) -> None:
    # The conversation and its replies in one statement on PostgreSQL; `citizen` is as
    # loaded before the step (see _queue_replies).
    if citizen.unreachable or citizen.erased_at:
        save_conversation(session, ctx.conversation)
    else:
        payloads = [reply.to_payload() for reply in replies]
        save_conversation(session, ctx.conversation, citizen, payloads)


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
    """Channel-level answers to the message itself, when the channel asks (Telegram).

    The pressed button's spinner is stopped and its message rewritten to show the
    choice: through the outbox, so a redelivered update (deduplicated above) does
    neither twice.
    """
    replies = []
    if inbound.meta.get("answer_callback"):
        replies.append(Reply("", answer_callback=inbound.meta["answer_callback"]))
    edit = inbound.meta.get("edit_message")
    if edit:
        replies.append(Reply(edit["text"], edit_message_id=edit["id"]))
    return replies


def _allowed_when_opted_out(inbound: Inbound) -> bool:
    command = flow.words.parse(inbound.text) if inbound.text else None
    return command is not None and command.name in ALLOWED_WHEN_OPTED_OUT


def _jumps_the_queue(inbound: Inbound) -> bool:
    command = flow.words.parse(inbound.text) if inbound.text else None
    return command is not None and command.name in JUMPS_THE_QUEUE


def _clean_name(name: str | None) -> str | None:
    if not name:
        return None
    name = " ".join(name.split())[:64]
    return name or None


@contextmanager
def acknowledged(rt: Runtime, channel: str, external_id: str | None) -> Iterator[None]:
    """Runs a webhook's handling of one message; if it fails for any reason but a transient
    database error, the error is logged with its traceback and the message is marked as
    seen, and the webhook answers 2xx all the same.

    Its transaction was rolled back, so nothing of it is kept; a provider retrying it (Telegram
    retries anything but a 2xx for hours) would only fail the same way each time, and the
    citizen's later messages would queue behind it.
    """
    try:
        yield
    except TRANSIENT:
        raise
    except Exception:
        log.exception("%s: message %s failed; acknowledged, not retried", channel, external_id)
        if external_id:
            _mark_seen(rt, channel, external_id)


def _mark_seen(rt: Runtime, channel: str, external_id: str) -> None:
    try:
        with rt.db.transaction() as session:
            record_inbound(session, channel, external_id)
    except Exception:  # the database failing too: the message was still acknowledged
        log.exception("%s: message %s could not be marked as seen", channel, external_id)
