"""The dashboard's daily figures, kept current in the transaction that changes a report.

One row per day × service × category × commune: the reports filed that day (how many,
how many per channel, how many reopened since, the hours each took to be acknowledged
and to be resolved, packed as float64), and those done with that day (resolved, or else
closed or merged, and not reopened since). A 365-day dashboard reads some three thousand rows
instead of a third of a million reports; the response times stay every report's own, so
the medians and 90th percentiles are exactly those computed from the reports.

A flush that adds or changes a report recounts the rows of its key before and after the
change (the day it was filed, resolved, closed), from the reports themselves: whatever
wrote the report (a status change, a reopening, a merge, a new category), the rows equal
a recount by construction. `backfill` recounts everything (the migration, the benchmark).
"""

from __future__ import annotations

import json
from array import array
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Column, LargeBinary, Text, and_, delete, event, insert, inspect, or_, select
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from models.report import OPEN_STATUSES, Report

# Report attributes a daily figure depends on.
WATCHED = (
    "created_at",
    "acknowledged_at",
    "in_progress_at",
    "resolved_at",
    "closed_at",
    "reopened_count",
    "status",
    "service_id",
    "category_id",
    "commune",
    "channel",
)
READ = (
    Report.created_at,
    Report.acknowledged_at,
    Report.in_progress_at,
    Report.resolved_at,
    Report.closed_at,
    Report.reopened_count,
    Report.status,
    Report.channel,
    Report.service_id,
    Report.category_id,
    Report.commune,
)


class DailyFigure(SQLModel, table=True):
    __tablename__ = "dailyfigure"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(index=True)
    service_id: int
    category_id: int
    commune: str | None = Field(default=None, max_length=5)
    received: int = 0
    # '{"telegram": 3, "sms": 1}': the received ones per channel, JSON in a text column
    # (psycopg's json type costs three times json.loads at a year's rows)
    channels: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    reopened: int = 0
    closed: int = 0
    ack_hours: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    resolve_hours: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _day(value: datetime | None) -> date | None:
    return None if value is None else _utc(value).date()


def _hours(later: datetime | None, earlier: datetime) -> float | None:
    if later is None:
        return None
    return (_utc(later) - _utc(earlier)).total_seconds() / 3600.0


class _Figure:
    __slots__ = ("ack", "channels", "closed", "received", "reopened", "resolve")

    def __init__(self) -> None:
        self.received = self.reopened = self.closed = 0
        self.channels: dict[str, int] = defaultdict(int)
        self.ack, self.resolve = array("d"), array("d")


def _count(rows, days: set[date] | None = None) -> dict[tuple, _Figure]:
    """Adds reports (rows of READ) to the figures of their keys; only `days` when given."""
    figures: dict[tuple, _Figure] = defaultdict(_Figure)
    for created, ack, in_progress, resolved, closed, reopened, status, channel, *rest in rows:
        filed = _day(created)
        if days is None or filed in days:
            figure = figures[(filed, *rest)]
            figure.received += 1
            figure.channels[channel] += 1
            figure.reopened += bool(reopened)
            first = ack or in_progress or resolved or closed
            if first is not None:
                figure.ack.append(_hours(first, created))
            if resolved is not None:
                figure.resolve.append(_hours(resolved, created))
        if status not in OPEN_STATUSES:
            done = _day(resolved if resolved is not None else closed)
            if done is not None and (days is None or done in days):
                figures[(done, *rest)].closed += 1
    return figures


def _rows(figures: dict[tuple, _Figure]) -> list[dict]:
    return [
        {"day": day, "service_id": s, "category_id": c, "commune": commune,
         "channels": json.dumps(f.channels, sort_keys=True), "received": f.received,
         "reopened": f.reopened, "closed": f.closed,
         "ack_hours": f.ack.tobytes(), "resolve_hours": f.resolve.tobytes()}
        for (day, s, c, commune), f in figures.items()
    ]  # fmt: skip


def _same(column, value):
    return column.is_(None) if value is None else column == value


def recount(connection, keys: set[tuple]) -> None:
    """Recounts the rows of these (day, service_id, category_id, commune) keys."""
    groups: dict[tuple, set[date]] = defaultdict(set)
    for day, *rest in keys:
        if day is not None:
            groups[tuple(rest)].add(day)
    t = DailyFigure.__table__
    for (service_id, category_id, commune), days in groups.items():
        same = [_same(Report.service_id, service_id), _same(Report.category_id, category_id),
                _same(Report.commune, commune)]  # fmt: skip
        within = []
        for day in days:
            start = datetime.combine(day, time.min, UTC)
            end = start + timedelta(days=1)
            for column in (Report.created_at, Report.resolved_at, Report.closed_at):
                within.append(and_(column >= start, column < end))
        rows = connection.execute(select(*READ).where(*same, or_(*within)))
        figures = _count(rows, days)
        connection.execute(
            delete(t).where(
                t.c.day.in_(days), _same(t.c.service_id, service_id),
                _same(t.c.category_id, category_id), _same(t.c.commune, commune),
            )
        )  # fmt: skip
        if figures:
            connection.execute(insert(t), _rows(figures))


def backfill(connection, batch: int = 50_000) -> int:
    """Recounts every row from the reports; returns how many rows there are."""
    t = DailyFigure.__table__
    connection.execute(delete(t))
    figures = _count(connection.execute(select(*READ).execution_options(yield_per=batch)))
    rows = _rows(figures)
    for start in range(0, len(rows), batch):
        connection.execute(insert(t), rows[start : start + batch])
    return len(rows)


def _keys(values: dict) -> set[tuple]:
    rest = tuple(values[n] for n in ("service_id", "category_id", "commune"))
    days = {_day(values[n]) for n in ("created_at", "resolved_at", "closed_at")}
    return {(day, *rest) for day in days if day is not None}


def _before_flush(session: Session, _context, _instances) -> None:
    keys = session.info.setdefault("daily_figure_keys", set())
    for report in session.new:
        if isinstance(report, Report):
            keys |= _keys({n: getattr(report, n) for n in WATCHED})
    for report in (*session.dirty, *session.deleted):
        if not isinstance(report, Report):
            continue
        state = inspect(report)
        now, before, changed = {}, {}, False
        for name in WATCHED:
            history = state.attrs[name].history
            now[name] = getattr(report, name)
            before[name] = history.deleted[0] if history.deleted else now[name]
            changed |= history.has_changes()
        if changed or report in session.deleted:
            keys |= _keys(before) | _keys(now)


def _after_flush(session: Session, _context) -> None:
    keys = session.info.pop("daily_figure_keys", None)
    if keys:
        recount(session.connection(), keys)


event.listen(Session, "before_flush", _before_flush)
event.listen(Session, "after_flush", _after_flush)


def daily_figures(
    session, since: date, visible_services: tuple[int, ...] | None, communes: tuple[str, ...] = ()
) -> list[tuple]:
    """The rows from `since` on (the dashboard): (day, service_id, category_id, channels,
    received, reopened, closed, ack_hours, resolve_hours), the hours as packed float64."""
    t = DailyFigure.__table__
    conds = [t.c.day >= since]
    if communes:
        conds.append(t.c.commune.in_(communes))
    if visible_services is not None:
        conds.append(t.c.service_id.in_(visible_services or (-1,)))
    stmt = select(
        t.c.day, t.c.service_id, t.c.category_id, t.c.channels, t.c.received, t.c.reopened,
        t.c.closed, t.c.ack_hours, t.c.resolve_hours,
    ).where(*conds)  # fmt: skip
    return list(session.connection().execute(stmt))
