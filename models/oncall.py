"""The on-call rota (astreinte): who answers a service's urgent reports out of its hours,
the service's hours and acknowledgement delay, and every page sent for a report."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, select
from sqlmodel import Field, Session, SQLModel

from models.agent import Agent, AgentService
from models.crew import AgentChat, ServiceHead
from models.db import utcnow

DEFAULT_ACK_MINUTES = 10
# A service's hours when nobody set them (town time, Monday to Friday, not on public
# holidays); out of them, an urgent report pages the rota.
DEFAULT_OPENS, DEFAULT_CLOSES = "08:30", "17:30"
MINUTES_PER_DAY, MINUTES_PER_WEEK = 1440, 7 * 1440


class Pattern(StrEnum):
    """How a shift repeats: once (two dates), every week (day and time), every day (time)."""

    ONCE = "once"
    WEEKLY = "weekly"
    DAILY = "daily"


class OnCallShift(SQLModel, table=True):
    """One line of a service's rota: an agent, when, and their order (1 is paged first)."""

    __tablename__ = "oncall_shift"

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="service.id", index=True, ondelete="CASCADE")
    agent_id: int = Field(foreign_key="agent.id", index=True, ondelete="CASCADE")
    rank: int = 1
    pattern: str = Field(max_length=8)
    # ONCE: a stretch of time (UTC). WEEKLY: minutes of the week from Monday 00:00, town
    # time; DAILY: minutes of the day. `to` before `from` wraps (Friday 18:00 -> Monday 08:00).
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    from_minute: int | None = None
    to_minute: int | None = None
    created_at: datetime = Field(default_factory=utcnow)

    def covers(self, moment: datetime, local: datetime) -> bool:
        """Whether the shift holds `moment` (UTC; `local` is the same moment in town)."""
        if self.pattern == Pattern.ONCE:
            return _utc(self.starts_at) <= moment < _utc(self.ends_at)
        minute = local.hour * 60 + local.minute
        if self.pattern == Pattern.WEEKLY:
            minute += local.weekday() * MINUTES_PER_DAY
        start, end = self.from_minute, self.to_minute
        return start <= minute < end if start <= end else (minute >= start or minute < end)


class OnCallService(SQLModel, table=True):
    """A service's hours (weekdays, town time) and how long a page waits for an answer."""

    __tablename__ = "oncall_service"

    service_id: int = Field(foreign_key="service.id", primary_key=True, ondelete="CASCADE")
    ack_minutes: int = DEFAULT_ACK_MINUTES
    opens: str = Field(default=DEFAULT_OPENS, max_length=5)
    closes: str = Field(default=DEFAULT_CLOSES, max_length=5)


class OnCallPage(SQLModel, table=True):
    """One page of an urgent report to one agent's chat (or, in hours, one ping)."""

    __tablename__ = "oncall_page"
    __table_args__ = (Index("ix_oncall_page_due", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True, ondelete="CASCADE")
    service_id: int = Field(foreign_key="service.id", ondelete="CASCADE")
    agent_id: int = Field(foreign_key="agent.id", ondelete="CASCADE")
    # The place in the rota's chain paged (0: the first on call); None for a ping in hours.
    step: int | None = None
    paged_at: datetime = Field(default_factory=utcnow)
    # Unanswered past this, the next one is paged; None once answered, escalated, or a ping.
    due_at: datetime | None = None
    acknowledged_at: datetime | None = None
    escalated_at: datetime | None = None


def _utc(moment: datetime | None) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- named queries -------------------------------------------------------------------


def shifts_of_service(session: Session, service_id: int) -> list[OnCallShift]:
    stmt = select(OnCallShift).where(OnCallShift.service_id == service_id)
    return list(session.scalars(stmt.order_by(OnCallShift.rank, OnCallShift.id)))


def all_shifts(session: Session) -> list[OnCallShift]:
    stmt = select(OnCallShift).order_by(OnCallShift.service_id, OnCallShift.rank, OnCallShift.id)
    return list(session.scalars(stmt))


def setting_of(session: Session, service_id: int) -> OnCallService:
    """The service's hours and delay (defaults when never set; not added to the session)."""
    return session.get(OnCallService, service_id) or OnCallService(service_id=service_id)


def active_agents(session: Session, agent_ids: list[int]) -> set[int]:
    if not agent_ids:
        return set()
    stmt = select(Agent.id).where(Agent.id.in_(agent_ids), Agent.active.is_(True))
    return set(session.scalars(stmt))


def head_ids(session: Session, service_id: int) -> list[int]:
    stmt = select(ServiceHead.agent_id).where(ServiceHead.service_id == service_id)
    return list(session.scalars(stmt.order_by(ServiceHead.agent_id)))


def linked_agents_of_service(session: Session, service_id: int) -> list[int]:
    """The active agents of the service whose chat is linked (pinged in hours)."""
    stmt = (
        select(Agent.id)
        .join(AgentService, AgentService.agent_id == Agent.id)
        .join(AgentChat, AgentChat.agent_id == Agent.id)
        .where(AgentService.service_id == service_id, Agent.active.is_(True))
        .order_by(Agent.id)
    )
    return list(session.scalars(stmt))


def pages_of_report(session: Session, report_id: int) -> list[OnCallPage]:
    stmt = select(OnCallPage).where(OnCallPage.report_id == report_id)
    return list(session.scalars(stmt.order_by(OnCallPage.id)))


def due_pages(session: Session, now: datetime, limit: int = 100) -> list[OnCallPage]:
    """Pages past their delay without an answer, locked (several workers on PostgreSQL
    skip each other's)."""
    stmt = (
        select(OnCallPage)
        .where(OnCallPage.due_at.is_not(None), OnCallPage.due_at <= now)
        .order_by(OnCallPage.due_at, OnCallPage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def page_figures(
    session: Session, since: datetime, services: tuple[int, ...] | None = None
) -> dict[int, dict]:
    """Per service, since a moment: urgent reports paged or pinged, the minutes each
    acknowledged page waited, escalations. Read from the page rows directly."""
    stmt = select(OnCallPage).where(OnCallPage.paged_at >= since)
    if services is not None:
        stmt = stmt.where(OnCallPage.service_id.in_(services))
    found: dict[int, dict] = {}
    for page in session.scalars(stmt):
        line = found.setdefault(page.service_id, {"reports": set(), "waits": [], "escalated": 0})
        line["reports"].add(page.report_id)
        if page.acknowledged_at is not None:
            waited = _utc(page.acknowledged_at) - _utc(page.paged_at)
            line["waits"].append(waited.total_seconds() / 60)
        if page.escalated_at is not None:
            line["escalated"] += 1
    return found
