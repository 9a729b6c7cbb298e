"""Reports, their history (events), their followers and their photos."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Identity, Index, Text, bindparam, func, select, update
from sqlmodel import Column, Field, Session, SQLModel

from models.citizen import Citizen
from models.db import detached, utcnow


@dataclass(frozen=True)
class StatusInfo:
    label: str
    kind: str  # "open", "fixed" or "closed"
    timestamp_column: str | None


class Status(StrEnum):
    """A report's stored status; display names are in the texts."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"  # not resolved: out of scope, no action (a reason is required)
    DUPLICATE = "duplicate"  # merged into another report


class EventKind(StrEnum):
    """What a row of a report's history records."""

    CREATED = "created"
    STATUS = "status"
    REPLY = "reply"  # the agent's words to the followers: private, never on the public site
    # The agent's words for the public site only (services/moderation.py): shown redacted
    # on the public page, the feeds and keyless Open311; sent to nobody.
    PUBLIC_NOTE = "public_note"
    NOTE = "note"
    CITIZEN_MESSAGE = "citizen_message"
    FOLLOWER = "follower"
    ASSIGNED = "assigned"
    RECATEGORISED = "recategorised"
    GEOCODED = "geocoded"
    FEEDBACK = "feedback"
    REOPENED = "reopened"
    REMINDER = "reminder"
    # The public site's moderation (services/moderation.py): published, hidden, redacted,
    # a photo approved; the detail says which.
    MODERATED = "moderated"
    # An agent set the report's priority (the detail keeps the change).
    PRIORITISED = "prioritised"
    # Another body: forwarded to it, reminded, or its answer (the detail keeps body and
    # answer; a status change it brought is in from/to_status).
    BODY = "body"
    # On call (services/oncall.py): an urgent report paged to an agent's chat (the event's
    # agent), the page left unanswered past its delay, and the agent who answered it.
    PAGED = "paged"
    ESCALATED = "escalated"
    PAGE_ACKNOWLEDGED = "page_acknowledged"


class Priority(StrEnum):
    """How pressing an agent says a report is; the queue opens with the most pressing."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"


# Most pressing first: a priority's place here is its rank in the queue (0 opens it).
PRIORITIES: tuple[Priority, ...] = (Priority.URGENT, Priority.HIGH, Priority.NORMAL)


# Stored labels, their type and the step timestamp they set. Display names are in texts.
STATUSES: dict[Status, StatusInfo] = {
    Status.NEW: StatusInfo("new", "open", None),
    Status.ACKNOWLEDGED: StatusInfo("acknowledged", "open", "acknowledged_at"),
    Status.IN_PROGRESS: StatusInfo("in_progress", "open", "in_progress_at"),
    Status.RESOLVED: StatusInfo("resolved", "fixed", "resolved_at"),
    Status.CLOSED: StatusInfo("closed", "closed", "closed_at"),
    Status.DUPLICATE: StatusInfo("duplicate", "closed", "closed_at"),
}
OPEN_STATUSES = tuple(s for s, info in STATUSES.items() if info.kind == "open")

# from -> the statuses a report may move to (services/reports.py move_status is the one writer).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset(
        {Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED, Status.DUPLICATE}
    ),
    Status.ACKNOWLEDGED: frozenset(
        {Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED, Status.DUPLICATE}
    ),
    Status.IN_PROGRESS: frozenset(
        {Status.ACKNOWLEDGED, Status.RESOLVED, Status.CLOSED, Status.DUPLICATE}
    ),
    # Reopening: the work was not done after all, or a closed report deserves action.
    Status.RESOLVED: frozenset({Status.IN_PROGRESS, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS}),
    Status.DUPLICATE: frozenset(),
}
# A status change to these needs a public reason, said to the citizen.
REASON_REQUIRED = frozenset({Status.CLOSED})


def is_open(status: str) -> bool:
    return STATUSES[status].kind == "open"


def can_transition(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, frozenset())


class Report(SQLModel, table=True):
    # SQLite: AUTOINCREMENT so numbers are never reused after a delete.
    __table_args__ = (
        Index("ix_report_lat_lon", "lat", "lon"),
        Index("ix_report_status_service", "status", "service_id"),
        # The public list filtered by category, newest first (keyset on the number).
        Index("ix_report_category_id", "category_id", "id"),
        # the backlog's overdue ones on each category's deadline day (console_queries)
        Index("ix_report_category_created", "category_id", "created_at"),
        # The queue, most urgent first (queue_queries.Urgency): one range per priority,
        # status and category in deadline order; the service read from it too.
        Index(
            "ix_report_urgency",
            "priority",
            "status",
            "category_id",
            "created_at",
            "id",
            "service_id",
        ),
        # The same for an agent's services, one range per service too.
        Index(
            "ix_report_service_urgency",
            "service_id",
            "priority",
            "status",
            "category_id",
            "created_at",
            "id",
        ),
        # The public feed: the reports whose public side changed last.
        Index("ix_report_last_public_update_at", "last_public_update_at"),
        {"sqlite_autoincrement": True},
    )

    # The report's number is its key: citizens and agents say "#1042". Starts at 1001.
    id: int | None = Field(
        default=None,
        sa_column_args=[Identity(start=1001)],
        primary_key=True,
    )
    category_id: int = Field(foreign_key="category.id")
    service_id: int = Field(foreign_key="service.id")
    # The INSEE code of the commune whose boundary holds it (several communes only).
    commune: str | None = Field(default=None, max_length=5, index=True)
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", ondelete="SET NULL")
    channel: str = Field(max_length=16)
    description: str = Field(sa_column=Column(Text, nullable=False))
    lat: float | None = None
    lon: float | None = None
    address: str | None = Field(default=None, max_length=255)
    geolocated: bool = False
    status: str = Field(default=Status.NEW, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    acknowledged_at: datetime | None = None
    in_progress_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    last_public_update_at: datetime | None = None
    assigned_agent_id: int | None = Field(default=None, foreign_key="agent.id")
    duplicate_of_id: int | None = Field(default=None, foreign_key="report.id")
    reopened_count: int = 0
    # The public site (services/public_view.py): a hidden report is not there at all (404).
    hidden: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # Whether the citizen's description is public: None follows the category's default,
    # True once an agent published it (or wrote its public text), False once withheld.
    text_public: bool | None = None
    # The public text an agent wrote in place of the citizen's words (redaction).
    public_text: str | None = Field(default=None, sa_column=Column(Text))
    # When an agent first opened it in the console or acted on it: a category's "public by
    # default" shows the citizen's words only from then on (services/public_view.py).
    seen_by_agent_at: datetime | None = None
    # A Priority, set by an agent (services/reports.py set_priority); the queue's first key.
    priority: str = Field(
        default=Priority.NORMAL, max_length=8, sa_column_kwargs={"server_default": "normal"}
    )
    # Handed to another body instead of a service (services/bodies.py): out of the town's
    # queue until the body says it is not theirs.
    with_body: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # The answers to the category's questions (models/question.py Answer), as JSON.
    answers: list | None = Field(default=None, sa_column=Column(JSON, nullable=True))

    @property
    def number(self) -> int:
        return self.id  # type: ignore[return-value]

    @property
    def ref(self) -> str:
        return f"#{self.id}"

    @property
    def is_open(self) -> bool:
        return is_open(self.status)


class ReportEvent(SQLModel, table=True):
    """One row per thing that happened to a report: the thread and the audit trail."""

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=24)  # an EventKind
    agent_id: int | None = Field(default=None, foreign_key="agent.id")
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", ondelete="SET NULL")
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    public_message: str | None = Field(default=None, sa_column=Column(Text))
    # An agent's own words, for agents only (a note, the note of a status change).
    internal_note: str | None = Field(default=None, sa_column=Column(Text))
    # What the event did, as data the console, the public site and the audit export read:
    # {"source": "typed", "label", "score"} or {"source": "link", "lat", "lon", "before"}
    # (geocoded), {"verdict"} (feedback, reopened), {"action", ...} (moderated), the change
    # (assigned, recategorised, prioritised), {"body", "name", "answer"} (body).
    detail: dict | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))


class Follower(SQLModel, table=True):
    # A citizen's reports (open_reports_of_citizen, reports_of_citizen), from the citizen.
    __table_args__ = (Index("ix_follower_citizen", "citizen_id", "report_id"),)

    report_id: int = Field(foreign_key="report.id", primary_key=True)
    citizen_id: int = Field(foreign_key="citizen.id", primary_key=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    is_author: bool = False


class Media(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    report_id: int | None = Field(default=None, foreign_key="report.id", index=True)
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", ondelete="SET NULL")
    sha256: str = Field(max_length=64)
    path: str = Field(max_length=255)
    content_type: str = Field(max_length=64)
    size: int
    width: int | None = None
    height: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # A photo is public once an agent approved it (never before).
    approved_at: datetime | None = None


# --- named queries -------------------------------------------------------------------


def get_report(session: Session, number: int) -> Report | None:
    return session.get(Report, number)


def read_report(session: Session, number: int) -> Report | None:
    """A report to read, not to change (a citizen's `#N`): one built statement and a
    detached instance, a third of session.get's CPU, which goes through the ORM's
    identity map and loading."""
    row = session.connection().execute(_READ_REPORT, {"number": number}).one_or_none()
    return detached(Report, row._asdict()) if row is not None else None


def mark_seen_by_agent(session: Session, number: int) -> None:
    """Records that an agent has seen the report, the first time only."""
    session.execute(
        update(Report)
        .where(Report.id == number, Report.seen_by_agent_at.is_(None))
        .values(seen_by_agent_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def lock_report(session: Session, number: int) -> Report | None:
    """Loads a report, row-locked until commit (PostgreSQL), before changing it."""
    return session.scalar(select(Report).where(Report.id == number).with_for_update())


def reports_of_citizen(session: Session, citizen_id: int, limit: int = 10) -> list[Report]:
    """Returns the reports a citizen wrote or follows, newest first."""
    stmt = (
        select(Report)
        .join(Follower, Follower.report_id == Report.id)
        .where(Follower.citizen_id == citizen_id)
        .order_by(Report.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def open_reports_of_citizen(session: Session, citizen_id: int) -> list[Report]:
    """The open reports a citizen wrote or follows, newest first (asked by every message
    of a citizen with no report under way: the statement is built once)."""
    return list(session.scalars(_OPEN_REPORTS_OF_CITIZEN, {"citizen_id": citizen_id}))


def follower_ids(session: Session, report_id: int) -> list[int]:
    stmt = select(Follower.citizen_id).where(Follower.report_id == report_id)
    return list(session.scalars(stmt))


def is_follower(session: Session, report_id: int, citizen_id: int) -> bool:
    values = {"report_id": report_id, "citizen_id": citizen_id}
    return session.connection().execute(_IS_FOLLOWER, values).first() is not None


def report_events(session: Session, report_id: int) -> list[ReportEvent]:
    stmt = (
        select(ReportEvent)
        .where(ReportEvent.report_id == report_id)
        .order_by(ReportEvent.created_at, ReportEvent.id)
    )
    return list(session.scalars(stmt))


def add_event(session: Session, report: Report, kind: EventKind, at: datetime | None = None,
              **fields) -> ReportEvent:  # fmt: skip
    """Writes an event of the report's history (`fields`: who, what) and marks the report
    updated at the same moment (`at`, now by default)."""
    at = at or utcnow()
    report.updated_at = at
    session.add(report)
    event = ReportEvent(report_id=report.id, kind=kind, created_at=at, **fields)
    session.add(event)
    session.flush()
    return event


def attach_media(session: Session, media_ids: list[int], report_id: int) -> None:
    if media_ids:
        session.execute(update(Media).where(Media.id.in_(media_ids)).values(report_id=report_id))


def media_of_report(session: Session, report_id: int) -> list[Media]:
    return list(session.scalars(select(Media).where(Media.report_id == report_id)))


def count_reports(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Report)) or 0


def add_media(session: Session, photo, citizen_id: int | None) -> int:
    """Records a stored photo (not yet attached to a report); returns its id."""
    media = Media(
        citizen_id=citizen_id,
        sha256=photo.sha256,
        path=photo.path,
        content_type=photo.content_type,
        size=photo.size,
        width=photo.width,
        height=photo.height,
    )
    session.add(media)
    session.flush()
    return media.id  # type: ignore[return-value]


def open_reports_near(
    session: Session,
    lat: float,
    lon: float,
    category_id: int,
    metres: float,
    limit: int = 3,
) -> list[tuple[Report, float]]:
    """Returns open, unhidden reports of a category within `metres`, nearest first, with
    distances.

    A bounding box on the indexed (lat, lon) narrows the rows; the exact distance is
    computed on the few that remain.
    """
    dlat = metres / METRES_PER_DEGREE
    dlon = metres / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    stmt = select(Report).where(
        Report.lat.between(lat - dlat, lat + dlat),
        Report.lon.between(lon - dlon, lon + dlon),
        Report.category_id == category_id,
        Report.status.in_(OPEN_STATUSES),
        Report.hidden.is_(False),  # a hidden report is never offered to join
    )
    near = []
    for report in session.scalars(stmt):
        distance = haversine_metres(lat, lon, report.lat, report.lon)
        if distance <= metres:
            near.append((report, distance))
    near.sort(key=lambda pair: pair[1])
    return near[:limit]


METRES_PER_DEGREE = 111_320.0
EARTH_RADIUS_METRES = 6_371_000.0


def haversine_metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(math.sqrt(a))


def unlocated_reports(session: Session, limit: int = 100) -> list[Report]:
    """Reports whose typed address could not be placed on the map yet."""
    stmt = (
        select(Report)
        .where(Report.geolocated.is_(False), Report.lat.is_(None), Report.address.is_not(None))
        .order_by(Report.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def silent_reports(session: Session, now, limit: int = 500) -> list[Report]:
    """Open reports with no public update for longer than their category's SLA."""
    from datetime import timedelta

    from models.catalog import Category

    found: list[Report] = []
    for category in session.scalars(select(Category)):
        cutoff = now - timedelta(hours=category.sla_hours)
        last_update = func.coalesce(Report.last_public_update_at, Report.created_at)
        stmt = (
            select(Report)
            .where(
                Report.category_id == category.id,
                Report.status.in_(OPEN_STATUSES),
                last_update < cutoff,
            )
            .order_by(Report.id)
            .limit(limit - len(found))
        )
        found += session.scalars(stmt)
        if len(found) >= limit:
            break
    return found


def report_author(session: Session, report: Report) -> Citizen | None:
    """The citizen who filed the report (None once erased)."""
    if report.citizen_id is None:
        return None
    return session.scalar(select(Citizen).where(Citizen.id == report.citizen_id))


def pin_report(
    session: Session,
    report: Report,
    lat: float,
    lon: float,
    address: str | None,
    citizen_id: int | None,
    at: datetime,
) -> None:
    """Places a report where its citizen dropped the pin, and says so in its history."""
    before = [report.lat, report.lon] if report.lat is not None else None
    report.lat, report.lon, report.geolocated = lat, lon, True
    if address:
        report.address = address[:255]
    # The kind services.placing uses when a report gets its place on the map.
    add_event(session, report, EventKind.GEOCODED, at, citizen_id=citizen_id,
              detail={"source": "link", "lat": lat, "lon": lon, "before": before})  # fmt: skip


def followers_of(session: Session, report_id: int) -> list[tuple[int, bool]]:
    """Each follower of a report as (citizen id, whether they filed it), oldest first."""
    stmt = (
        select(Follower.citizen_id, Follower.is_author)
        .where(Follower.report_id == report_id)
        .order_by(Follower.created_at, Follower.citizen_id)
    )
    return [(citizen_id, bool(is_author)) for citizen_id, is_author in session.execute(stmt)]


def count_followed_open(session: Session, citizen_id: int) -> int:
    """How many open reports a citizen follows without having filed them."""
    stmt = (
        select(func.count())
        .select_from(Follower)
        .join(Report, Report.id == Follower.report_id)
        .where(
            Follower.citizen_id == citizen_id,
            Follower.is_author.is_(False),
            Report.status.in_(OPEN_STATUSES),
        )
    )
    return session.scalar(stmt) or 0


def count_follows_since(session: Session, citizen_id: int, since: datetime) -> int:
    """How many reports a citizen started to follow since a moment."""
    stmt = (
        select(func.count())
        .select_from(ReportEvent)
        .where(
            ReportEvent.citizen_id == citizen_id,
            ReportEvent.kind == EventKind.FOLLOWER,
            ReportEvent.created_at >= since,
        )
    )
    return session.scalar(stmt) or 0


# Built once: a citizen's `#N` (read_report, is_follower).
_READ_REPORT = select(Report.__table__).where(Report.__table__.c.id == bindparam("number"))
_IS_FOLLOWER = select(Follower.__table__.c.citizen_id).where(
    Follower.__table__.c.report_id == bindparam("report_id"),
    Follower.__table__.c.citizen_id == bindparam("citizen_id"),
)
_OPEN_REPORTS_OF_CITIZEN = (
    select(Report)
    .join(Follower, Follower.report_id == Report.id)
    .where(Follower.citizen_id == bindparam("citizen_id"), Report.status.in_(OPEN_STATUSES))
    .order_by(Report.id.desc())
)
