"""Named queries of privacy (erasure, retention purge) and of the audit export."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, or_, select, update
from sqlmodel import Session

from models.agent import Agent
from models.citizen import Citizen, Conversation, State
from models.db import utcnow
from models.mail_thread import MailMessage
from models.messaging import (
    CANCELLED,
    DEAD,
    DELIVERED,
    FAILED,
    HELD,
    READ,
    SENT,
    InboundMessage,
    Outbox,
)
from models.report import OPEN_STATUSES, EventKind, Follower, Media, Report, ReportEvent
from models.web_contact import WebContact

# Events that carry the citizen's own free words (added messages, "not fixed, because...").
CITIZEN_WORDS_KINDS = (EventKind.CITIZEN_MESSAGE, EventKind.REOPENED)
FINISHED = (SENT, DELIVERED, READ, FAILED, DEAD, CANCELLED)
WORDS_REMOVED_NOTE = "Message removed: the citizen erased their data."


def anonymise_citizen(
    session: Session, citizen_id: int, pseudonym: str, *, remove_words: bool
) -> list[str]:
    """Cuts every link between a citizen and their reports; returns unfiled photos' paths.

    The citizen row stays, anonymised, as the record that the erasure happened.
    """
    now = utcnow()
    session.execute(
        update(Citizen)
        .where(Citizen.id == citizen_id)
        .values(address=pseudonym, display_name=None, erased_at=now, refused_on=None)
    )
    session.execute(
        update(Conversation)
        .where(Conversation.citizen_id == citizen_id)
        .values(state=State.START, draft={}, updated_at=now)
    )
    session.execute(delete(Follower).where(Follower.citizen_id == citizen_id))
    session.execute(delete(Outbox).where(Outbox.citizen_id == citizen_id))
    # E-mail threads name the resident's messages and subjects.
    session.execute(delete(MailMessage).where(MailMessage.citizen_id == citizen_id))
    session.execute(delete(WebContact).where(WebContact.citizen_id == citizen_id))
    session.execute(update(Report).where(Report.citizen_id == citizen_id).values(citizen_id=None))
    if remove_words:
        session.execute(
            update(ReportEvent)
            .where(
                ReportEvent.citizen_id == citizen_id,
                ReportEvent.kind.in_(CITIZEN_WORDS_KINDS),
                ReportEvent.public_message.is_not(None),
            )
            .values(public_message=None, internal_note=WORDS_REMOVED_NOTE)
        )
    session.execute(
        update(ReportEvent).where(ReportEvent.citizen_id == citizen_id).values(citizen_id=None)
    )
    # Photos filed with a report stay with it (public space, EXIF already stripped);
    # photos of a draft never sent go.
    unfiled = list(
        session.scalars(
            select(Media.path).where(Media.citizen_id == citizen_id, Media.report_id.is_(None))
        )
    )
    session.execute(delete(Media).where(Media.citizen_id == citizen_id, Media.report_id.is_(None)))
    session.execute(update(Media).where(Media.citizen_id == citizen_id).values(citizen_id=None))
    return unfiled


def paths_in_use(session: Session, paths: list[str]) -> set[str]:
    """Photos are stored by content hash: another row may share the same file."""
    if not paths:
        return set()
    return set(session.scalars(select(Media.path).where(Media.path.in_(paths))))


def expired_citizens(session: Session, cutoff: datetime, limit: int = 1000) -> list[int]:
    """Citizens silent since `cutoff` whose reports all ended before it."""
    conversation = select(Conversation.citizen_id).where(Conversation.updated_at >= cutoff)
    live_report = (
        select(Follower.citizen_id)
        .join(Report, Report.id == Follower.report_id)
        .where(or_(Report.status.in_(OPEN_STATUSES), Report.updated_at >= cutoff))
    )
    stmt = (
        select(Citizen.id)
        .where(
            Citizen.erased_at.is_(None),
            Citizen.created_at < cutoff,
            Citizen.id.not_in(conversation),
            Citizen.id.not_in(live_report),
        )
        .order_by(Citizen.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def delete_inbound_before(session: Session, cutoff: datetime) -> int:
    result = session.execute(
        delete(InboundMessage)
        .where(InboundMessage.received_at < cutoff)
        .returning(InboundMessage.id)
    )
    return len(result.all())


def delete_finished_outbox(session: Session, cutoff: datetime) -> int:
    """Deletes sent, dead or cancelled messages older than `cutoff`, or to erased citizens."""
    erased = exists().where(Citizen.id == Outbox.citizen_id, Citizen.erased_at.is_not(None))
    result = session.execute(
        delete(Outbox)
        .where(
            or_(
                Outbox.status.in_(FINISHED) & or_(Outbox.created_at < cutoff, erased),
                # A message waiting for a citizen who erased their data will never go.
                (Outbox.status == HELD) & erased,
            )
        )
        .returning(Outbox.id)
    )
    return len(result.all())


def unfiled_media_before(session: Session, cutoff: datetime) -> list[str]:
    """Deletes photos of drafts abandoned before `cutoff`; returns their paths."""
    paths = list(
        session.scalars(
            select(Media.path).where(Media.report_id.is_(None), Media.created_at < cutoff)
        )
    )
    session.execute(delete(Media).where(Media.report_id.is_(None), Media.created_at < cutoff))
    return paths


# --- audit ------------------------------------------------------------------------------


def agent_events(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None,
    kinds: tuple[str, ...],
) -> list[tuple[ReportEvent, Agent | None]]:
    """Events made by agents (or of an agent's kind), oldest first, with their agent."""
    stmt = (
        select(ReportEvent, Agent)
        .outerjoin(Agent, Agent.id == ReportEvent.agent_id)
        .where(or_(ReportEvent.agent_id.is_not(None), ReportEvent.kind.in_(kinds)))
    )
    if since is not None:
        stmt = stmt.where(ReportEvent.created_at >= since)
    if until is not None:
        stmt = stmt.where(ReportEvent.created_at < until)
    stmt = stmt.order_by(ReportEvent.created_at, ReportEvent.id)
    return [tuple(row) for row in session.execute(stmt)]  # type: ignore[misc]
