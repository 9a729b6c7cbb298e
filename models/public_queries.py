"""Named queries of the public view of reports (services/public_view.py)."""

from __future__ import annotations

from sqlalchemy import select, union
from sqlmodel import Session

from models.catalog import Category, Service
from models.citizen import Citizen
from models.report import Follower, Report, ReportEvent

# The events a public view is made of: the status history, the agents' words, the
# placings on the map. A reopening is a status change (the citizen's words stay out).
PUBLIC_EVENT_KINDS = ("created", "status", "reply", "reopened", "geocoded")


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
        .where(Report.id.in_(report_ids))
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
