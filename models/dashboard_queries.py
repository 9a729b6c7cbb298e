"""The dashboard's live reads: reports filed (per channel), dealt with per day, the backlog
against each category's deadline. The rest of its figures are the daily rows
(models/daily_figure.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    Date,
    Float,
    and_,
    cast,
    func,
    or_,
    select,
)
from sqlmodel import Session

from models.daily_figure import open_figures
from models.db import utcnow
from models.queue_queries import sla_hours_by_category
from models.report import (
    OPEN_STATUSES,
    Report,
)
from models.scope import Communes, service_and_commune

# --- the dashboard -------------------------------------------------------------------


def _day(session: Session, column):
    """The UTC calendar day of a timestamp column, as the database computes it."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _hours_between(session: Session, later, earlier):
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier) / 3600.0
    return cast((func.julianday(later) - func.julianday(earlier)) * 24.0, Float)


def filed_since(
    session: Session, since: datetime, visible_services: tuple[int, ...] | None,
    communes: Communes = (),
) -> list[tuple]:  # fmt: skip
    """Returns, for each report filed since `since`: (day, service_id, category_id, hours
    to acknowledge, hours to resolve, reopened?), None where the step has not happened.

    One pass over the period's rows (the created_at index) serves the counts per day and
    the response times; the caller aggregates.
    """
    first_response = func.coalesce(
        Report.acknowledged_at, Report.in_progress_at, Report.resolved_at, Report.closed_at
    )
    stmt = select(
        _day(session, Report.created_at),
        Report.service_id,
        Report.category_id,
        _hours_between(session, first_response, Report.created_at),
        _hours_between(session, Report.resolved_at, Report.created_at),
        Report.reopened_count > 0,
    ).where(Report.created_at >= since, *service_and_commune(visible_services, communes))
    # Core, not ORM, rows: tens of thousands of plain tuples, without the ORM's per-row cost.
    return [tuple(r) for r in session.connection().execute(stmt)]


def filed_per_channel(
    session: Session, since: datetime, visible_services: tuple[int, ...] | None,
    communes: Communes = (),
) -> dict[str, int]:  # fmt: skip
    """How many reports each channel brought since `since` (channel -> count)."""
    stmt = (
        select(Report.channel, func.count())
        .where(Report.created_at >= since, *service_and_commune(visible_services, communes))
        .group_by(Report.channel)
    )
    return {channel: count for channel, count in session.execute(stmt).all()}


def reports_closed_per_day(
    session: Session, since: datetime, visible_services: tuple[int, ...] | None,
    communes: Communes = (),
) -> list[tuple]:  # fmt: skip
    """Returns (day, service_id, category_id, count) of the reports done with since `since`.

    A report is done when resolved, or else when closed (or merged); a report reopened
    since counts again only when done again, as it is no longer done now.
    """
    done = Report.status.not_in(OPEN_STATUSES)
    rows = []
    for column in (Report.resolved_at, Report.closed_at):
        day = _day(session, column)
        # Grouped by "resolved?" rather than filtered on it: the filter would lead the
        # planner to the resolved_at index (mostly NULLs) instead of this column's.
        resolved = Report.resolved_at.is_not(None)
        stmt = (
            select(day, Report.service_id, Report.category_id, resolved, func.count())
            .where(column >= since, done, *service_and_commune(visible_services, communes))
            .group_by(day, Report.service_id, Report.category_id, resolved)
        )
        keep = column is Report.resolved_at
        rows += [(d, s, c, n) for d, s, c, r, n in session.execute(stmt) if bool(r) == keep]
    return rows


def backlog(
    session: Session, visible_services: tuple[int, ...] | None, now: datetime | None = None,
    communes: Communes = (),
) -> list[tuple]:  # fmt: skip
    """Returns (service_id, category_id, open, overdue) for the open reports.

    Both from the daily figures (a few thousand rows, not a scan of the open reports):
    the open ones filed on each day are kept there, so overdue = those filed on the days
    before each category's deadline day, plus the few open reports of the deadline day
    itself filed before the deadline (the created_at index).
    """
    now = now or utcnow()
    deadlines = {
        category_id: now - timedelta(hours=hours)
        for category_id, hours in sla_hours_by_category(session).items()
        if hours is not None
    }
    counts = open_figures(session, visible_services, communes, deadlines)
    late = {key: k for key, (_n, k) in counts.items()}
    if deadlines:
        day_start = lambda moment: moment.replace(hour=0, minute=0, second=0, microsecond=0)  # noqa: E731
        that_day = or_(*(
            and_(Report.category_id == category_id,
                 Report.created_at >= day_start(deadline), Report.created_at < deadline)
            for category_id, deadline in deadlines.items()
        ))  # fmt: skip
        stmt = (
            select(Report.service_id, Report.category_id, func.count())
            .where(
                that_day,
                Report.status.in_(OPEN_STATUSES),
                *service_and_commune(visible_services, communes),
            )
            .group_by(Report.service_id, Report.category_id)
        )
        for s, c, n in session.execute(stmt):
            late[s, c] = late.get((s, c), 0) + n
    # a category without an SLA is never overdue
    return [(s, c, n, late.get((s, c), 0)) for (s, c), (n, _k) in counts.items()]
