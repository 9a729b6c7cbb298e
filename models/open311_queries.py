"""Named queries of the Open311 GeoReport v2 server (api/open311.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from models.catalog import Category, Service
from models.report import STATUSES, EventKind, Report, ReportEvent

# The agents' words in the town's full record: a status change, a reply, a public note.
PUBLIC_KINDS = (EventKind.STATUS, EventKind.REPLY, EventKind.PUBLIC_NOTE)


@dataclass(frozen=True)
class RequestFilter:
    ids: tuple[int, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()  # our stored labels
    limit: int = 1000
    commune: str | None = None  # jurisdiction_id: the commune's INSEE code
    # The communes an api_key is limited to (None: every commune, and reports without one).
    communes: tuple[str, ...] | None = None


def find_requests(session: Session, f: RequestFilter) -> list[tuple[Report, Category, Service]]:
    """Reports with their category and service, newest first, as the filter says."""
    stmt = (
        select(Report, Category, Service)
        .join(Category, Category.id == Report.category_id)
        .join(Service, Service.id == Report.service_id)
    )
    if f.commune is not None:
        stmt = stmt.where(Report.commune == f.commune)
    if f.communes is not None:
        stmt = stmt.where(Report.commune.in_(f.communes))
    if f.ids:
        stmt = stmt.where(Report.id.in_(f.ids))
    else:
        if f.service_codes:
            stmt = stmt.where(Category.code.in_(f.service_codes))
        if f.start is not None:
            stmt = stmt.where(Report.created_at >= f.start)
        if f.end is not None:
            stmt = stmt.where(Report.created_at <= f.end)
        if f.statuses:
            stmt = stmt.where(Report.status.in_(f.statuses))
    stmt = stmt.order_by(Report.created_at.desc(), Report.id.desc()).limit(f.limit)
    return [tuple(row) for row in session.execute(stmt)]  # type: ignore[misc]


def last_public_messages(session: Session, report_ids: list[int]) -> dict[int, str]:
    """The latest public message an agent wrote on each report, by report id."""
    if not report_ids:
        return {}
    latest = (
        select(func.max(ReportEvent.id))
        .where(
            ReportEvent.report_id.in_(report_ids),
            ReportEvent.kind.in_(PUBLIC_KINDS),
            ReportEvent.public_message.is_not(None),
        )
        .group_by(ReportEvent.report_id)
    )
    stmt = select(ReportEvent.report_id, ReportEvent.public_message).where(
        ReportEvent.id.in_(latest)
    )
    return {report_id: message for report_id, message in session.execute(stmt)}


def service_lookup(session: Session) -> dict[int, Service]:
    return {s.id: s for s in session.scalars(select(Service))}


def statuses_of_kind(kinds: set[str]) -> tuple[str, ...]:
    """Our stored statuses whose kind ('open', 'fixed', 'closed') is in `kinds`."""
    return tuple(s for s, info in STATUSES.items() if info.kind in kinds)
