"""Other bodies (the département's roads, the electricity network, a social landlord): who
is responsible for what the commune is not, the rules that route reports to them, and
each report forwarded to one with its answer (services/bodies.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, UniqueConstraint, func, select
from sqlmodel import Field, Session, SQLModel

from models.db import utcnow
from models.report import OPEN_STATUSES, Report


class BodyKind(StrEnum):
    """How a body is reached."""

    EMAIL = "email"
    OPEN311 = "open311"


class Answer(StrEnum):
    """What a body said about a report forwarded to it (on its /b/ page)."""

    TAKEN = "taken"
    DONE = "done"
    NOT_OURS = "not_ours"


class Body(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=128)
    kind: str = Field(max_length=16)  # a BodyKind
    email: str | None = Field(default=None, max_length=255)
    endpoint: str | None = Field(default=None, max_length=500)
    api_key: str | None = Field(default=None, max_length=255)
    # category code -> the body's Open311 service code (Open311 bodies only)
    service_codes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    response_hours: int = 72
    # Where residents can reach the body themselves (shown in docs and the console).
    contact_url: str | None = Field(default=None, max_length=500)
    # Whether the resident's name and contact may go with the report (never by default).
    share_identity: bool = False
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class BodyRoute(SQLModel, table=True):
    """A category (within a zone, or anywhere) goes to a body; `also`: the town's service
    keeps it in its queue too and follows what the body does."""

    __table_args__ = (UniqueConstraint("category_id", "zone_id", "body_id"),)

    id: int | None = Field(default=None, primary_key=True)
    category_id: int = Field(foreign_key="category.id")
    body_id: int = Field(foreign_key="body.id", ondelete="CASCADE")
    zone_id: int | None = Field(default=None, foreign_key="zone.id")
    also: bool = False


class BodyForward(SQLModel, table=True):
    """One report sent to one body, and what became of it."""

    __table_args__ = (
        UniqueConstraint("report_id", "body_id"),
        Index("ix_bodyforward_waiting", "answered_at", "reminded_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", ondelete="CASCADE")
    body_id: int = Field(foreign_key="body.id", ondelete="CASCADE")
    also: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None  # the e-mail left (or the Open311 push was queued)
    first_answer_at: datetime | None = None
    answered_at: datetime | None = None  # the last answer
    answer: str | None = Field(default=None, max_length=16)  # an Answer
    reminded_at: datetime | None = None


# --- named queries -------------------------------------------------------------------


def all_bodies(session: Session) -> list[Body]:
    return list(session.scalars(select(Body).order_by(Body.code)))


def body_by_code(session: Session, code: str) -> Body | None:
    return session.scalar(select(Body).where(Body.code == code))


def routes_of_category(session: Session, category_id: int) -> list[BodyRoute]:
    """The active bodies' rules for a category, those within a zone first."""
    stmt = (
        select(BodyRoute)
        .join(Body, Body.id == BodyRoute.body_id)
        .where(BodyRoute.category_id == category_id, Body.active.is_(True))
        .order_by(BodyRoute.zone_id.is_(None), BodyRoute.id)
    )
    return list(session.scalars(stmt))


def all_routes(session: Session) -> list[BodyRoute]:
    return list(session.scalars(select(BodyRoute).order_by(BodyRoute.body_id, BodyRoute.id)))


def find_route(session: Session, category_id: int, body_id: int,
               zone_id: int | None) -> BodyRoute | None:  # fmt: skip
    stmt = select(BodyRoute).where(
        BodyRoute.category_id == category_id,
        BodyRoute.body_id == body_id,
        BodyRoute.zone_id.is_(None) if zone_id is None else BodyRoute.zone_id == zone_id,
    )
    return session.scalar(stmt)


def forwards_of_report(session: Session, report_id: int) -> list[BodyForward]:
    stmt = select(BodyForward).where(BodyForward.report_id == report_id).order_by(BodyForward.id)
    return list(session.scalars(stmt))


def late_forwards(session: Session, now: datetime, limit: int = 200) -> list[BodyForward]:
    """Forwards of open reports a body has not answered within its response time and was
    not reminded of yet."""
    stmt = (
        select(BodyForward, Body.response_hours)
        .join(Body, Body.id == BodyForward.body_id)
        .join(Report, Report.id == BodyForward.report_id)
        .where(
            BodyForward.answered_at.is_(None),
            BodyForward.reminded_at.is_(None),
            BodyForward.sent_at.is_not(None),
            Body.kind == BodyKind.EMAIL,  # an Open311 body is followed by its own client
            Report.status.in_(OPEN_STATUSES),
        )
        .order_by(BodyForward.id)
        .limit(limit)
    )
    return [f for f, hours in session.execute(stmt) if f.sent_at + timedelta(hours=hours) <= now]


def forwards_per_body(session: Session) -> list[tuple[Body, list[BodyForward]]]:
    """Every body with the reports forwarded to it (the dashboard's figures)."""
    bodies = all_bodies(session)
    forwards: dict[int, list[BodyForward]] = {b.id: [] for b in bodies}
    for forward in session.scalars(select(BodyForward).order_by(BodyForward.id)):
        forwards.setdefault(forward.body_id, []).append(forward)
    return [(b, forwards[b.id]) for b in bodies]


def count_forwards(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(BodyForward)) or 0


def open_forwarded_reports(session: Session) -> set[int]:
    """The numbers of the open reports forwarded to a body."""
    stmt = (
        select(BodyForward.report_id)
        .join(Report, Report.id == BodyForward.report_id)
        .where(Report.status.in_(OPEN_STATUSES))
    )
    return set(session.scalars(stmt))
