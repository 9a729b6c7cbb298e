"""Work that needs the network (downloads, geocoding), done by the worker, and the
citizens' messages held behind it.

A webhook never waits on another service: a step that needs one queues a job here, in
its own transaction, and the conversation waits (`Conversation.waiting_on`). The worker
claims the job, does the network call outside any transaction, then hands the result
back to the conversation (bot/engine.py `resume`), followed by whatever the citizen
said meanwhile, in order (`HeldInbound`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, delete, func, or_, select, update
from sqlmodel import Field, Session, SQLModel

from models.db import utcnow


class JobKind(StrEnum):
    FETCH_MEDIA = "fetch_media"  # a citizen's picture, still at the provider
    FIND_ADDRESS = "find_address"  # a typed address, to geocode
    NAME_PIN = "name_pin"  # a shared location, to turn into a readable address
    NAME_REPORT_PLACE = "name_report_place"  # a pin dropped on a report (the link page)
    LINK_PHOTO = "link_photo"  # a picture uploaded on the link page, to check and keep
    FORWARD_BODY = "forward_body"  # a report e-mailed to another body (or a reminder)
    BODY_PHOTO = "body_photo"  # a body's photo of the work done (its /b/ page)


# The jobs that decode a citizen's picture: a few seconds of CPU each at most, and no more
# than this many of one citizen's at a time, so one sender never holds every job thread.
PHOTO_JOBS = (JobKind.FETCH_MEDIA, JobKind.LINK_PHOTO)
PHOTO_JOBS_PER_CITIZEN = 2


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class Job(SQLModel, table=True):
    __table_args__ = (Index("ix_job_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    # The conversation waiting for the result (None for work on a report alone).
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", ondelete="CASCADE")
    report_id: int | None = Field(default=None, foreign_key="report.id", ondelete="CASCADE")
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default=JobStatus.QUEUED, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    # A claimed job is leased: if its worker dies, the lease expires and it runs again.
    locked_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None


class HeldInbound(SQLModel, table=True):
    """A citizen's message that arrived while their conversation waited on a job."""

    __table_args__ = (Index("ix_heldinbound_citizen", "citizen_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    citizen_id: int = Field(foreign_key="citizen.id", ondelete="CASCADE")
    inbound: dict = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)


def queue_job(
    session: Session,
    kind: JobKind,
    payload: dict,
    *,
    citizen_id: int | None = None,
    report_id: int | None = None,
) -> int:
    """Adds a job (part of the caller's transaction); returns its id."""
    job = Job(kind=kind, payload=payload, citizen_id=citizen_id, report_id=report_id)
    session.add(job)
    session.flush()
    return job.id  # type: ignore[return-value]


def claim_jobs(session: Session, *, limit: int, lease: timedelta) -> list[Job]:
    """Claims due jobs; several workers never claim the same one."""
    now = utcnow()
    due = or_(
        (Job.status == JobStatus.QUEUED) & (Job.next_attempt_at <= now),
        (Job.status == JobStatus.RUNNING) & (Job.locked_until < now),
    )
    stmt = select(Job).where(due).order_by(Job.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    jobs = list(session.scalars(stmt))
    if jobs:
        session.connection().execute(
            Job.__table__.update()
            .where(Job.__table__.c.id.in_([j.id for j in jobs]))
            .values(
                status=JobStatus.RUNNING,
                locked_until=now + lease,
                attempts=Job.__table__.c.attempts + 1,
            )
        )
        for job in jobs:
            job.status, job.attempts = JobStatus.RUNNING, job.attempts + 1
            job.locked_until = now + lease
    return jobs


def finish_job(session: Session, job_id: int) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status=JobStatus.DONE, done_at=utcnow(), locked_until=None)
    )


def retry_job(session: Session, job_id: int, when: datetime, error: str) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status=JobStatus.QUEUED, next_attempt_at=when, locked_until=None,
                last_error=error[:500])
    )  # fmt: skip


def pending_jobs(session: Session) -> int:
    """How many jobs are not done (the console's health, and tests)."""
    stmt = select(func.count()).select_from(Job).where(Job.status != JobStatus.DONE)
    return session.scalar(stmt) or 0


def photo_jobs_pending(session: Session, citizen_id: int) -> int:
    """How many of the citizen's pictures wait for the worker or are being decoded."""
    stmt = (
        select(func.count())
        .select_from(Job)
        .where(
            Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]),
            Job.citizen_id == citizen_id,
            Job.kind.in_(PHOTO_JOBS),
        )
    )
    return session.scalar(stmt) or 0


def purge_done_jobs(session: Session, before: datetime) -> int:
    """Deletes jobs done before `before` (their payloads hold citizens' words); returns how many."""
    done = select(Job.id).where(Job.status == JobStatus.DONE, Job.done_at < before)
    ids = list(session.scalars(done))
    if ids:
        session.execute(delete(Job).where(Job.id.in_(ids)))
    return len(ids)


def hold_inbound(session: Session, citizen_id: int, inbound: dict) -> None:
    session.add(HeldInbound(citizen_id=citizen_id, inbound=inbound))
    session.flush()


def next_held(session: Session, citizen_id: int) -> dict | None:
    """Takes the citizen's oldest held message out of the queue; None when empty."""
    row = session.scalar(
        select(HeldInbound)
        .where(HeldInbound.citizen_id == citizen_id)
        .order_by(HeldInbound.id)
        .limit(1)
    )
    if row is None:
        return None
    session.execute(delete(HeldInbound).where(HeldInbound.id == row.id))
    return row.inbound


def drop_held(session: Session, citizen_id: int) -> None:
    session.execute(delete(HeldInbound).where(HeldInbound.citizen_id == citizen_id))
