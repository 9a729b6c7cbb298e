"""Named queries of the public view of reports (services/public_view.py)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, literal_column, select, union
from sqlmodel import Session

from models.catalog import Category, Service
from models.citizen import Citizen
from models.report import STATUSES, EventKind, Follower, Media, Report, ReportEvent, Status

# The events a public view is made of: the status history, the agents' public notes, the
# placings on the map. A reopening is a status change (the citizen's words stay out). A
# reply to the followers is never shown; it is read for its writer's name, which the
# redaction of what followers read takes out.
PUBLIC_EVENT_KINDS = (
    EventKind.CREATED,
    EventKind.STATUS,
    EventKind.PUBLIC_NOTE,
    EventKind.REPLY,
    EventKind.REOPENED,
    EventKind.GEOCODED,
)


def reports_with_catalog(
    session: Session, report_ids: list[int]
) -> list[tuple[Report, Category, Service]]:
    """The reports with their category and service, in the order of `report_ids`."""
    if not report_ids:
        return []
    stmt = (
        select(Report, Category, Service)
        .join(Category, Category.id == Report.category_id)
        .join(Service, Service.id == Report.service_id)
        .where(Report.id.in_(report_ids), Report.hidden.is_(False))
    )
    found = {
        report.id: (report, category, service)
        for report, category, service in session.execute(stmt)
    }
    return [found[number] for number in report_ids if number in found]


def public_events(session: Session, report_ids: list[int]) -> dict[int, list[ReportEvent]]:
    """The events of each report that a public view may show, oldest first, by report id."""
    if not report_ids:
        return {}
    stmt = (
        select(ReportEvent)
        .where(ReportEvent.report_id.in_(report_ids), ReportEvent.kind.in_(PUBLIC_EVENT_KINDS))
        .order_by(ReportEvent.created_at, ReportEvent.id)
    )
    found: dict[int, list[ReportEvent]] = {number: [] for number in report_ids}
    for event in session.scalars(stmt):
        found[event.report_id].append(event)
    return found


def people_of_reports(session: Session, report_ids: list[int]) -> dict[int, list[Citizen]]:
    """Everyone a report's texts may name: its author, its followers, who wrote on it."""
    if not report_ids:
        return {}
    pairs = union(
        select(Report.id, Report.citizen_id).where(
            Report.id.in_(report_ids), Report.citizen_id.is_not(None)
        ),
        select(Follower.report_id, Follower.citizen_id).where(Follower.report_id.in_(report_ids)),
        select(ReportEvent.report_id, ReportEvent.citizen_id).where(
            ReportEvent.report_id.in_(report_ids), ReportEvent.citizen_id.is_not(None)
        ),
    ).subquery()
    stmt = select(pairs.c[0], Citizen).join(Citizen, Citizen.id == pairs.c[1])
    found: dict[int, list[Citizen]] = {number: [] for number in report_ids}
    for number, citizen in session.execute(stmt):
        found[number].append(citizen)
    return found


def approved_photos(session: Session, report_ids: list[int]) -> dict[int, list[int]]:
    """The ids of the photos an agent approved, oldest first, by report id."""
    if not report_ids:
        return {}
    stmt = (
        select(Media.report_id, Media.id)
        .where(Media.report_id.in_(report_ids), Media.approved_at.is_not(None))
        .order_by(Media.id)
    )
    found: dict[int, list[int]] = {number: [] for number in report_ids}
    for number, media_id in session.execute(stmt):
        found[number].append(media_id)
    return found


def approved_photo(session: Session, media_id: int) -> Media | None:
    """A photo anyone may see: approved, of a report that is not hidden."""
    stmt = (
        select(Media)
        .join(Report, Report.id == Media.report_id)
        .where(Media.id == media_id, Media.approved_at.is_not(None), Report.hidden.is_(False))
    )
    return session.scalar(stmt)


# --- the public list and map -----------------------------------------------------------

# The public site's two groups of statuses: open ("open") and dealt with ("fixed", which
# also holds the reports closed without action).
STATUS_GROUPS = {
    "open": tuple(s for s, info in STATUSES.items() if info.kind == "open"),
    "fixed": tuple(s for s, info in STATUSES.items() if info.kind != "open"),
}


@dataclass(frozen=True)
class PublicFilter:
    status: str | None = None  # a key of STATUS_GROUPS
    category_id: int | None = None
    since: datetime | None = None  # filed at or after
    commune: str | None = None  # several communes: this one's (INSEE code)


def _filtered(stmt, f: PublicFilter):
    stmt = stmt.where(Report.hidden.is_(False))
    if f.status in STATUS_GROUPS:
        stmt = stmt.where(Report.status.in_(STATUS_GROUPS[f.status]))
    if f.category_id is not None:
        stmt = stmt.where(Report.category_id == f.category_id)
    if f.since is not None:
        stmt = stmt.where(Report.created_at >= f.since)
    if f.commune is not None:
        stmt = stmt.where(Report.commune == f.commune)
    return stmt


def public_page(
    session: Session, f: PublicFilter, before: int | None, limit: int
) -> list[tuple[Report, Category, Service]]:
    """One page of the public list, newest first: `limit` reports numbered below `before`.

    Keyset pagination on the report's number: any page costs one index range.
    """
    stmt = _filtered(
        select(Report, Category, Service)
        .join(Category, Category.id == Report.category_id)
        .join(Service, Service.id == Report.service_id),
        f,
    )
    if before is not None:
        stmt = stmt.where(Report.id < before)
    stmt = stmt.order_by(Report.id.desc()).limit(limit)
    return [tuple(row) for row in session.execute(stmt)]  # type: ignore[misc]


@dataclass(frozen=True)
class MapPoint:
    number: int
    lat: float
    lon: float
    status: str
    category_id: int


def public_points_in_box(
    session: Session, box: tuple[float, float, float, float], f: PublicFilter, limit: int
) -> tuple[list[MapPoint], int]:
    """The newest `limit` public reports inside the box (west, south, east, north), and how
    many the box holds, counted up to 10 x `limit` (a count past that is only "more")."""
    west, south, east, north = box
    inside = _filtered(
        select(Report.id, Report.lat, Report.lon, Report.status, Report.category_id).where(
            Report.lat.between(south, north), Report.lon.between(west, east)
        ),
        f,
    )
    points = [
        MapPoint(*row) for row in session.execute(inside.order_by(Report.id.desc()).limit(limit))
    ]
    if len(points) < limit:
        return points, len(points)
    capped = inside.with_only_columns(literal_column("1")).limit(10 * limit).subquery()
    count = session.scalar(select(func.count()).select_from(capped)) or 0
    return points, count


def latest_public_changes(session: Session, limit: int) -> list[int]:
    """The numbers of the public reports that changed last (the feed), newest first.

    The last changed are among the last updated and the last filed (never updated): two
    index ranges of `limit` rows each, merged here."""
    visible = Report.hidden.is_(False)
    columns = (Report.id, Report.last_public_update_at, Report.created_at)
    updated = session.execute(
        select(*columns)
        .where(visible, Report.last_public_update_at.is_not(None))
        .order_by(Report.last_public_update_at.desc())
        .limit(limit)
    ).all()
    filed = session.execute(
        select(*columns).where(visible).order_by(Report.id.desc()).limit(limit)
    ).all()
    changed = {number: _aware(last or created) for number, last, created in [*updated, *filed]}
    return sorted(changed, key=lambda n: (changed[n], n), reverse=True)[:limit]


# --- the town's figures ----------------------------------------------------------------


@dataclass(frozen=True)
class ServiceFigures:
    service_id: int
    received: int
    dealt_with: int
    median_hours: float | None  # from filing to "resolved", of those resolved in the period


def figures_by_service(session: Session, since: datetime, until: datetime) -> list[ServiceFigures]:
    """What each service received and dealt with (resolved or closed) in [since, until);
    hidden reports do not exist for the public, so they are not counted either."""
    visible = Report.hidden.is_(False)
    received = dict(
        session.execute(
            select(Report.service_id, func.count())
            .where(visible, Report.created_at >= since, Report.created_at < until)
            .group_by(Report.service_id)
        ).all()
    )
    done_at = func.coalesce(Report.resolved_at, Report.closed_at)
    dealt = dict(
        session.execute(
            select(Report.service_id, func.count())
            .where(visible, Report.status.in_(STATUS_GROUPS["fixed"]), done_at >= since)
            .where(done_at < until)
            .group_by(Report.service_id)
        ).all()
    )
    medians = _median_hours(session, since, until)
    services = sorted(set(received) | set(dealt))
    return [
        ServiceFigures(s, received.get(s, 0), dealt.get(s, 0), medians.get(s)) for s in services
    ]


def _median_hours(session: Session, since: datetime, until: datetime) -> dict[int, float]:
    resolved = and_(
        Report.hidden.is_(False),
        Report.status == Status.RESOLVED,
        Report.resolved_at >= since,
        Report.resolved_at < until,
    )
    if session.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", Report.resolved_at - Report.created_at)
        median = func.percentile_cont(0.5).within_group(seconds)
        rows = session.execute(
            select(Report.service_id, median).where(resolved).group_by(Report.service_id)
        )
        return {service: float(value) / 3600 for service, value in rows if value is not None}
    # SQLite has no percentile: the durations of one period are few enough to sort here.
    durations: dict[int, list[float]] = {}
    rows = session.execute(
        select(Report.service_id, Report.created_at, Report.resolved_at).where(resolved)
    )
    for service, created, done in rows:
        durations.setdefault(service, []).append((_aware(done) - _aware(created)).total_seconds())
    return {s: statistics.median(v) / 3600 for s, v in durations.items()}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def followable_report(session: Session, number: int) -> Report | None:
    """The report a citizen may follow from a chat: it exists and is not hidden."""
    return session.scalar(select(Report).where(Report.id == number, Report.hidden.is_(False)))


def add_follower(session: Session, report_id: int, citizen_id: int) -> bool:
    """Makes the citizen a follower; False when they already were."""
    exists = session.scalar(
        select(Follower.citizen_id).where(
            Follower.report_id == report_id, Follower.citizen_id == citizen_id
        )
    )
    if exists is not None:
        return False
    session.add(Follower(report_id=report_id, citizen_id=citizen_id))
    session.flush()
    return True
