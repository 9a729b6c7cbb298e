"""What the agents' console keeps of its own: response templates and login attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Index, Text, delete, func, or_, select
from sqlmodel import Column, Field, Session, SQLModel

from models.db import utcnow
from models.report import Report

# Indexes on the report table that the console's queries need (the dashboard counts the
# reports done per day): declared here, beside the queries, and created by migration 0003.
_report = Report.__table__.c
REPORT_INDEXES = (
    # Reports done per day, read from the index alone (no row lookups).
    Index(
        "ix_report_resolved_at",
        _report.resolved_at,
        _report.status,
        _report.service_id,
        _report.category_id,
    ),
    Index(
        "ix_report_closed_at",
        _report.closed_at,
        _report.status,
        _report.service_id,
        _report.category_id,
        _report.resolved_at,
    ),
    # The queue filtered by category, and its counts per status.
    Index("ix_report_category_status", _report.category_id, _report.status),
    # The backlog and overdue counts read the open reports from the index alone.
    Index(
        "ix_report_status_service_category_created",
        _report.status,
        _report.service_id,
        _report.category_id,
        _report.created_at,
    ),
    # The queue sorted by latest activity.
    Index("ix_report_updated_at", _report.updated_at),
)


class ResponseTemplate(SQLModel, table=True):
    """A ready-made public message, offered for a status and a category (None = any).

    The body may hold placeholders filled for the report at hand: {name}, {ref},
    {category}, {address}, {service}.
    """

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=128)
    status: str | None = Field(default=None, max_length=16)
    category_id: int | None = Field(default=None, foreign_key="category.id", ondelete="CASCADE")
    body: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class LoginAttempt(SQLModel, table=True):
    """A failed console login: counted per email and address to slow down guessing."""

    __table_args__ = (Index("ix_loginattempt_email_ip", "email", "ip", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=255)
    ip: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


# --- response templates --------------------------------------------------------------


def all_templates(session: Session) -> list[ResponseTemplate]:
    stmt = select(ResponseTemplate).order_by(ResponseTemplate.title, ResponseTemplate.id)
    return list(session.scalars(stmt))


def templates_for(session: Session, category_id: int) -> list[ResponseTemplate]:
    """Returns the active templates that fit a report's category (any status)."""
    stmt = (
        select(ResponseTemplate)
        .where(
            ResponseTemplate.active.is_(True),
            or_(
                ResponseTemplate.category_id.is_(None),
                ResponseTemplate.category_id == category_id,
            ),
        )
        .order_by(ResponseTemplate.title, ResponseTemplate.id)
    )
    return list(session.scalars(stmt))


# --- login attempts ------------------------------------------------------------------


def recent_failures(session: Session, email: str, ip: str, window: timedelta) -> list[datetime]:
    """Returns when the failed logins of this email from this address happened, oldest first."""
    stmt = (
        select(LoginAttempt.created_at)
        .where(
            LoginAttempt.email == email,
            LoginAttempt.ip == ip,
            LoginAttempt.created_at > utcnow() - window,
        )
        .order_by(LoginAttempt.created_at)
    )
    return list(session.scalars(stmt))


def record_failure(session: Session, email: str, ip: str) -> None:
    session.add(LoginAttempt(email=email[:255], ip=ip[:64]))


def clear_failures(session: Session, email: str, ip: str, older_than: timedelta) -> None:
    """Forgets this pair's failures after a success, and everyone's stale ones."""
    session.execute(
        delete(LoginAttempt).where(
            or_(
                (LoginAttempt.email == email) & (LoginAttempt.ip == ip),
                LoginAttempt.created_at < utcnow() - older_than,
            )
        )
    )


def count_failures(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LoginAttempt)) or 0
