"""Reports pushed to another body's Open311 GeoReport v2 endpoint, and what it says back.

One row per report and body (its `target`, the body's code): it is the worker's queue for
the push (`next_try_at`, `attempts`, `last_error`) and the memory of the far end's answer
(`service_request_id`, or the `token` to resolve first; the last status and notes pulled).
The row keeps the endpoint, key and service code it was queued with, so the worker needs
nothing else to run.

`ref` is our idempotency key: sent with the request (in its description and as an
attribute), it lets the worker find a request the far end stored when the answer was lost
(a timeout, a crash between the send and the commit) before it sends again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint, or_, select, update
from sqlmodel import Field, Session, SQLModel

from models.db import utcnow


class ForwardState(StrEnum):
    QUEUED = "queued"  # to send (first time, or again after a failure)
    SENDING = "sending"  # claimed by a worker; a crash leaves it here until its lease ends
    TOKEN_PENDING = "token_pending"  # accepted, the far end's number comes later
    SENT = "sent"  # the far end's number is known: its status is pulled
    FAILED = "failed"  # refused by the far end, or given up after the last try


class Open311Forward(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("report_id", "target", name="uq_open311forward_report_target"),
        Index("ix_open311forward_due", "state", "next_try_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", ondelete="CASCADE", index=True)
    target: str = Field(max_length=64)  # the body's code
    endpoint: str = Field(max_length=500)  # the root, http(s)://host/…/v2
    api_key: str = Field(max_length=255)
    service_code: str = Field(max_length=100)
    jurisdiction_id: str = Field(default="", max_length=64)
    ref: str = Field(max_length=40, unique=True)
    state: str = Field(default=ForwardState.QUEUED, max_length=16)
    service_request_id: str | None = Field(default=None, max_length=100)
    token: str | None = Field(default=None, max_length=255)
    remote_status: str | None = Field(default=None, max_length=16)
    remote_notes: str | None = Field(default=None, max_length=4000)
    last_error: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    next_try_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    last_pulled_at: datetime | None = None


def forward_of(session: Session, report_id: int, target: str) -> Open311Forward | None:
    return session.scalar(
        select(Open311Forward).where(
            Open311Forward.report_id == report_id, Open311Forward.target == target
        )
    )


def forwards_of_report(session: Session, report_id: int) -> list[Open311Forward]:
    stmt = select(Open311Forward).where(Open311Forward.report_id == report_id)
    return list(session.scalars(stmt.order_by(Open311Forward.id)))


def claim_pushes(session: Session, *, limit: int, lease: timedelta, now: datetime) -> list[int]:
    """Claims the pushes due (queued ones, and those whose worker died while sending);
    returns their ids. Several workers never claim the same one."""
    due = (Open311Forward.next_try_at <= now) & Open311Forward.state.in_(
        [ForwardState.QUEUED, ForwardState.SENDING]
    )
    stmt = select(Open311Forward.id).where(due).order_by(Open311Forward.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(
            update(Open311Forward)
            .where(Open311Forward.id.in_(ids))
            .values(
                state=ForwardState.SENDING,
                next_try_at=now + lease,
                attempts=Open311Forward.attempts + 1,
            )
        )
    return ids


def tokens_to_resolve(session: Session, now: datetime) -> list[Open311Forward]:
    stmt = select(Open311Forward).where(
        Open311Forward.state == ForwardState.TOKEN_PENDING, Open311Forward.next_try_at <= now
    )
    return list(session.scalars(stmt.order_by(Open311Forward.id)))


def forwards_to_pull(
    session: Session, pulled_before: datetime, sent_after: datetime
) -> list[Open311Forward]:
    """The requests sent since `sent_after` (closed ones too: the far end may reopen one),
    not read since `pulled_before`."""
    stmt = select(Open311Forward).where(
        Open311Forward.state == ForwardState.SENT,
        Open311Forward.sent_at >= sent_after,
        or_(
            Open311Forward.last_pulled_at.is_(None),
            Open311Forward.last_pulled_at <= pulled_before,
        ),
    )
    return list(session.scalars(stmt.order_by(Open311Forward.id)))


def recent_forwards(session: Session, limit: int = 200) -> list[Open311Forward]:
    """The console's list: failures and those still trying first, then the newest."""
    waiting = Open311Forward.state.in_([ForwardState.FAILED, ForwardState.QUEUED])
    stmt = select(Open311Forward).order_by(
        waiting.desc(), Open311Forward.last_error.is_(None), Open311Forward.id.desc()
    )
    return list(session.scalars(stmt.limit(limit)))


def retry_forward(session: Session, forward_id: int) -> int | None:
    """Puts a failed push back in the queue with fresh tries; returns its report's number
    (None: no such forward)."""
    forward = session.get(Open311Forward, forward_id)
    if forward is None:
        return None
    if forward.state == ForwardState.FAILED:
        forward.state, forward.attempts, forward.next_try_at = ForwardState.QUEUED, 0, utcnow()
        session.add(forward)
    return forward.report_id
