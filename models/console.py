"""What the agents' console keeps of its own: response templates and login throttling."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Index, Text, case, delete, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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


class LoginThrottle(SQLModel, table=True):
    """Failed console logins in the current window of one key (console.auth names the keys).

    A key is what is counted: one client guessing one account, one client, one account,
    the whole site. Its value is a keyed hash: no email or address is stored here.
    """

    __table_args__ = (Index("ix_loginthrottle_window_start", "window_start"),)

    key: str = Field(primary_key=True, max_length=48)
    window_start: datetime = Field(default_factory=utcnow)
    failures: int = 0


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


# --- login throttling ---------------------------------------------------------------


def count_attempt(session: Session, caps: dict[str, int], window: timedelta) -> str | None:
    """Counts one login attempt against every key, or against none when one is at its cap.

    Returns the key at its cap, if any. Each key is counted in one statement that also
    checks the cap, and holds the key's row until the transaction ends, so concurrent
    attempts cannot all read "4 failures so far" and all go on (PostgreSQL and SQLite).
    """
    now = utcnow()
    new_window = False
    savepoint = session.begin_nested()
    for key, cap in caps.items():
        failures = session.scalar(_count_one(session, key, cap, now, now - window))
        if failures is None:
            savepoint.rollback()
            return key
        new_window = new_window or failures == 1
    savepoint.commit()
    if new_window:  # a window starts: forget the ended ones, so attackers' keys do not pile up
        _forget_ended(session, now - window)
    return None


def _forget_ended(session: Session, ended: datetime) -> None:
    # SKIP LOCKED: a row another login holds is left for later rather than waited on (that
    # login may be waiting on one of ours). SQLite has one writer and ignores the clause.
    ended_keys = (
        select(LoginThrottle.key)
        .where(LoginThrottle.window_start <= ended)
        .with_for_update(skip_locked=True)
    )
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(ended_keys)))


def _count_one(session: Session, key: str, cap: int, now: datetime, ended: datetime):
    table = LoginThrottle.__table__
    column = table.c
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stale = column.window_start <= ended
    return (
        insert(table)
        .values(key=key, window_start=now, failures=1)
        .on_conflict_do_update(
            index_elements=[column.key],
            set_={
                "failures": case((stale, 1), else_=column.failures + 1),
                "window_start": case(
                    (stale, literal(now, column.window_start.type)), else_=column.window_start
                ),
            },
            where=stale | (column.failures < cap),
        )
        .returning(column.failures)
    )


def throttle_ends(session: Session, key: str, window: timedelta) -> datetime:
    """Returns when the key's current window ends (its attempts count again from zero)."""
    started = session.scalar(select(LoginThrottle.window_start).where(LoginThrottle.key == key))
    return (started or utcnow()) + window


def forget_attempt(session: Session, keys: list[str]) -> None:
    """Takes back a counted attempt that succeeded; the first key's count starts afresh."""
    # One key at a time, in count_attempt's order: two transactions never wait on each
    # other's rows in opposite orders (no deadlock on PostgreSQL).
    first, *others = keys
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == first))
    for key in others:
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key, LoginThrottle.failures > 0)
            .values(failures=LoginThrottle.failures - 1)
        )
