"""Field crews: an agent's linked chat, the one-time codes that link it, what they did
from the field, and who gets each service's morning digest."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, func, select, update
from sqlmodel import Field, Session, SQLModel

from models.agent import Agent
from models.citizen import Citizen
from models.db import utcnow
from models.report import OPEN_STATUSES, EventKind, Report, ReportEvent, Status
from models.scope import AgentScope, Communes, in_scope, service_and_commune

DEFAULT_DIGEST_TIME = "08:00"


class AgentChat(SQLModel, table=True):
    """An agent's phone: the chat (its contact row) that speaks for them from the field."""

    __tablename__ = "agent_chat"

    agent_id: int = Field(foreign_key="agent.id", primary_key=True, ondelete="CASCADE")
    # The chat's contact row (channel + address), as every inbound message finds it.
    citizen_id: int = Field(foreign_key="citizen.id", unique=True, ondelete="CASCADE")
    channel: str = Field(max_length=16)
    linked_at: datetime = Field(default_factory=utcnow)
    last_field_action_at: datetime | None = None


class LinkCode(SQLModel, table=True):
    """A one-time code shown in the console; only its keyed hash is kept."""

    __tablename__ = "agent_link_code"

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id", index=True, ondelete="CASCADE")
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class CodeGuess(SQLModel, table=True):
    """A wrong code typed in a chat: counted to refuse guessing."""

    __tablename__ = "agent_code_guess"

    id: int | None = Field(default=None, primary_key=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True, ondelete="CASCADE")
    at: datetime = Field(default_factory=utcnow)


class FieldAction(SQLModel, table=True):
    """Marks a report's history row as done from the field (an agent's chat)."""

    __tablename__ = "field_action"

    event_id: int = Field(foreign_key="reportevent.id", primary_key=True, ondelete="CASCADE")
    report_id: int = Field(foreign_key="report.id", index=True)
    agent_id: int = Field(foreign_key="agent.id", index=True)
    channel: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class ServiceHead(SQLModel, table=True):
    """An agent who gets the service's morning digest."""

    __tablename__ = "service_head"

    service_id: int = Field(foreign_key="service.id", primary_key=True, ondelete="CASCADE")
    agent_id: int = Field(foreign_key="agent.id", primary_key=True, ondelete="CASCADE")


class ServiceDigest(SQLModel, table=True):
    """When a service's digest goes out (local time) and the last day it went."""

    __tablename__ = "service_digest"

    service_id: int = Field(foreign_key="service.id", primary_key=True, ondelete="CASCADE")
    digest_time: str = Field(default=DEFAULT_DIGEST_TIME, max_length=5)
    last_sent_on: date | None = None


# --- named queries -------------------------------------------------------------------


def chat_of_agent(session: Session, agent_id: int) -> AgentChat | None:
    return session.get(AgentChat, agent_id)


def chat_of_citizen(session: Session, citizen_id: int) -> AgentChat | None:
    return session.scalar(select(AgentChat).where(AgentChat.citizen_id == citizen_id))


def drop_chat(session: Session, *, agent_id: int | None = None, citizen_id: int | None = None):
    stmt = delete(AgentChat).returning(AgentChat.citizen_id)
    if agent_id is not None:
        stmt = stmt.where(AgentChat.agent_id == agent_id)
    if citizen_id is not None:
        stmt = stmt.where(AgentChat.citizen_id == citizen_id)
    chats = list(session.execute(stmt).scalars())
    if chats:
        session.execute(update(Citizen).where(Citizen.id.in_(chats)).values(field_chat=False))
    return len(chats)


def code_by_hash(session: Session, code_hash: str) -> LinkCode | None:
    return session.scalar(select(LinkCode).where(LinkCode.code_hash == code_hash).with_for_update())


def drop_unused_codes(session: Session, agent_id: int) -> None:
    session.execute(
        delete(LinkCode).where(LinkCode.agent_id == agent_id, LinkCode.used_at.is_(None))
    )


def guesses_since(session: Session, citizen_id: int, since: datetime) -> int:
    stmt = select(func.count()).where(CodeGuess.citizen_id == citizen_id, CodeGuess.at >= since)
    return session.scalar(stmt.select_from(CodeGuess)) or 0


def open_reports_of_agent(session: Session, agent_id: int, scope: AgentScope) -> list[Report]:
    """The open reports assigned to the agent, of those they see (models/scope.py)."""
    stmt = select(Report).where(
        Report.assigned_agent_id == agent_id, Report.status.in_(OPEN_STATUSES), *in_scope(scope)
    )
    return list(session.scalars(stmt.order_by(Report.id)))


def open_reports_in_box(
    session: Session, scope: AgentScope, box: tuple[float, float, float, float]
) -> list[Report]:
    """Open reports inside (south, west, north, east), of those the agent sees."""
    south, west, north, east = box
    stmt = select(Report).where(
        Report.lat.between(south, north),
        Report.lon.between(west, east),
        Report.status.in_(OPEN_STATUSES),
        *in_scope(scope),
    )
    return list(session.scalars(stmt))


def open_reports_of_service(session: Session, service_id: int, scope: AgentScope) -> list[Report]:
    """The service's open reports, of those the agent sees (a head's digest)."""
    stmt = select(Report).where(
        Report.service_id == service_id, Report.status.in_(OPEN_STATUSES), *in_scope(scope)
    )
    return list(session.scalars(stmt.order_by(Report.id)))


def heads_with_chats(session: Session, service_id: int) -> list[tuple[Agent, AgentChat]]:
    stmt = (
        select(Agent, AgentChat)
        .join(ServiceHead, ServiceHead.agent_id == Agent.id)
        .join(AgentChat, AgentChat.agent_id == Agent.id)
        .where(ServiceHead.service_id == service_id, Agent.active.is_(True))
    )
    return [(a, c) for a, c in session.execute(stmt)]


def is_head(session: Session, agent_id: int, service_id: int) -> bool:
    return session.get(ServiceHead, (service_id, agent_id)) is not None


def digest_of(session: Session, service_id: int) -> ServiceDigest:
    found = session.get(ServiceDigest, service_id)
    if found is None:
        found = ServiceDigest(service_id=service_id)
        session.add(found)
    return found


def services_with_heads(session: Session) -> list[int]:
    return list(session.scalars(select(ServiceHead.service_id).distinct()))


def field_event_ids(session: Session, event_ids: list[int]) -> set[int]:
    if not event_ids:
        return set()
    stmt = select(FieldAction.event_id).where(FieldAction.event_id.in_(event_ids))
    return set(session.scalars(stmt))


def field_resolved_share(
    session: Session, services: tuple[int, ...] | None = None, communes: Communes = ()
) -> dict[int, tuple[int, int]]:
    """Per service: (reports resolved, of which from the field), over all time; of these
    services (None: all) and communes (empty: all)."""
    resolved = (
        select(Report.service_id, func.count(ReportEvent.id))
        .join(ReportEvent, ReportEvent.report_id == Report.id)
        .where(
            ReportEvent.kind == EventKind.STATUS,
            ReportEvent.to_status == Status.RESOLVED,
            *service_and_commune(services, communes),
        )
        .group_by(Report.service_id)
    )
    field = resolved.join(FieldAction, FieldAction.event_id == ReportEvent.id)
    totals = dict(session.execute(resolved).all())
    from_field = dict(session.execute(field).all())
    return {sid: (n, from_field.get(sid, 0)) for sid, n in totals.items()}
