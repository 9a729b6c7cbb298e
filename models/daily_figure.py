"""The dashboard's daily figures, kept current in the transaction that changes a report.

One row per day × service × category × commune: the reports filed that day (how many,
how many per channel, how many reopened since, how many are still open, the hours each
took to be acknowledged and to be resolved, packed as little-endian float32: seconds
over a year), and those done with that day (resolved, or else closed or merged, and not
reopened since). A 365-day dashboard reads some three thousand rows instead of a third
of a million reports; the response times stay every report's own, so the medians and
90th percentiles are those computed from the reports (to the second), and the backlog
is a sum over the rows.

The transaction that adds or changes a report recounts, just before it commits, the rows
of the keys it touched before and after the change (the day it was filed, resolved,
closed), from the reports themselves: whatever wrote the report (a status change, a
reopening, a merge, a new category), the rows equal a recount by construction. On
PostgreSQL each key is recounted under its own transaction lock, so two agents closing
reports of one day at once are counted one after the other. A report filed open and
untouched (a citizen's) is the exception: its row gains one received, still open, on its
channel (`add_filed`), which is all a recount would find more, without reading every
report of the key's day. `backfill` recounts everything (the migration, the benchmark).
"""

from __future__ import annotations

import json
import sys
from array import array
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from hashlib import blake2b

from sqlalchemy import (
    Column,
    Index,
    LargeBinary,
    Text,
    and_,
    case,
    delete,
    event,
    false,
    func,
    insert,
    inspect,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from models.report import OPEN_STATUSES, Report
from models.scope import Communes, in_communes

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
# session.info: the (day, service, category, commune) keys to recount at commit
KEYS = "daily_figure_keys"
# session.info: {key: {channel: how many}} of the reports filed fresh (_fresh), added to
# their rows at commit without a recount
ADDED = "daily_figure_added"

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
    # the backlog's sums read this index alone (SQLite would walk each row's hours)
    __table_args__ = (
        Index("ix_dailyfigure_open", "still_open", "category_id", "day", "service_id", "commune"),
    )

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
    # of those filed that day, how many are open now (the backlog: a sum over the rows)
    still_open: int = 0
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
    __slots__ = ("ack", "channels", "closed", "received", "reopened", "resolve", "still_open")

    def __init__(self) -> None:
        self.received = self.reopened = self.closed = self.still_open = 0
        self.channels: dict[str, int] = defaultdict(int)
        self.ack, self.resolve = array("f"), array("f")


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
            figure.still_open += status in OPEN_STATUSES
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


def _packed(hours: array) -> bytes:
    """The hours as little-endian float32 (what the dashboard's numpy reads), whatever the
    machine's byte order."""
    if sys.byteorder == "big":
        hours = array("f", hours)
        hours.byteswap()
    return hours.tobytes()


def _rows(figures: dict[tuple, _Figure]) -> list[dict]:
    return [
        {"day": day, "service_id": s, "category_id": c, "commune": commune,
         "channels": json.dumps(f.channels, sort_keys=True), "received": f.received,
         "reopened": f.reopened, "still_open": f.still_open, "closed": f.closed,
         "ack_hours": _packed(f.ack), "resolve_hours": _packed(f.resolve)}
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
    keys = session.info.setdefault(KEYS, set())
    for report in session.new:
        if isinstance(report, Report):
            values = {n: getattr(report, n) for n in WATCHED}
            if _fresh(values):
                (key,) = _keys(values)
                added = session.info.setdefault(ADDED, {}).setdefault(key, defaultdict(int))
                added[values["channel"]] += 1
            else:
                keys |= _keys(values)
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


def _before_commit(session: Session) -> None:
    """Recounts the rows of every key the transaction touched, once, just before it
    commits, each key under its own lock: two transactions changing reports of one key
    recount it one after the other, the second from what the first committed."""
    session.flush()
    keys = session.info.pop(KEYS, None) or set()
    # A key recounted counts its new reports too.
    added = {k: v for k, v in (session.info.pop(ADDED, None) or {}).items() if k not in keys}
    if keys or added:
        connection = session.connection()
        _lock(connection, keys | set(added))
        recount(connection, keys)
        add_filed(connection, added)


def _lock(connection, keys: set[tuple]) -> None:
    """PostgreSQL: a transaction lock per key, taken in one order (no deadlock between
    two recounts). SQLite needs none: its writers run one at a time (BEGIN IMMEDIATE)."""
    if connection.dialect.name != "postgresql":
        return
    ids = sorted(
        int.from_bytes(blake2b(repr(key).encode(), digest_size=8).digest(), "big", signed=True)
        for key in keys
    )
    for lock_id in ids:
        connection.execute(select(func.pg_advisory_xact_lock(lock_id)))


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:  # rolled back (a commit has taken its keys already)
        session.info.pop(KEYS, None)
        session.info.pop(ADDED, None)
    elif transaction.nested and ADDED in session.info:
        # A savepoint ended, perhaps rolled back with reports it filed: a recount of their
        # keys is right either way.
        session.info.setdefault(KEYS, set()).update(session.info.pop(ADDED))


def _fresh(values: dict) -> bool:
    """A report filed open and untouched (the citizen's, most of all): what a recount of
    its row would find more is one report received, still open, on its channel, with no
    hours and nothing done. Its row gains exactly that (add_filed), where a recount reads
    every report of the key's day: thousands a day in a big town's busiest category."""
    return (
        values["status"] in OPEN_STATUSES
        and not values["reopened_count"]
        and all(values[n] is None for n in WATCHED[1:5])  # acknowledged ... closed
        and values["created_at"] is not None
    )


def add_filed(connection, added: dict[tuple, dict[str, int]]) -> None:
    """Adds fresh reports (_fresh) to the rows of their keys, as a recount would count
    them: received, still open, per channel. Under the keys' locks (_lock)."""
    t = DailyFigure.__table__
    for (day, service_id, category_id, commune), channels in added.items():
        same = [t.c.day == day, _same(t.c.service_id, service_id),
                _same(t.c.category_id, category_id), _same(t.c.commune, commune)]  # fmt: skip
        row = connection.execute(select(t.c.id, t.c.channels).where(*same)).first()
        count = sum(channels.values())
        if row is None:
            connection.execute(
                insert(t), _rows({(day, service_id, category_id, commune): _added(channels)})
            )
            continue
        merged = json.loads(row.channels)
        for channel, n in channels.items():
            merged[channel] = merged.get(channel, 0) + n
        connection.execute(
            t.update()
            .where(t.c.id == row.id)
            .values(received=t.c.received + count, still_open=t.c.still_open + count,
                    channels=json.dumps(merged, sort_keys=True))
        )  # fmt: skip


def _added(channels: dict[str, int]) -> _Figure:
    figure = _Figure()
    figure.received = figure.still_open = sum(channels.values())
    figure.channels.update(channels)
    return figure


event.listen(Session, "before_flush", _before_flush)
event.listen(Session, "before_commit", _before_commit)
event.listen(Session, "after_transaction_end", _forget)


def daily_figures(
    session, since: date, visible_services: tuple[int, ...] | None, communes: Communes = ()
) -> list[tuple]:
    """The rows from `since` on (the dashboard): (day, service_id, category_id, channels,
    received, reopened, closed, ack_hours, resolve_hours), the hours as packed float32."""
    t = DailyFigure.__table__
    conds = [t.c.day >= since]
    if communes:
        conds.append(in_communes(t.c.commune, communes))
    if visible_services is not None:
        conds.append(t.c.service_id.in_(visible_services or (-1,)))
    stmt = select(
        t.c.day, t.c.service_id, t.c.category_id, t.c.channels, t.c.received, t.c.reopened,
        t.c.closed, t.c.ack_hours, t.c.resolve_hours,
    ).where(*conds)  # fmt: skip
    return session.connection().execute(stmt).all()  # fetchall: a third faster than rows one by one


def open_figures(
    session, visible_services: tuple[int, ...] | None, communes: Communes = (),
    deadlines: dict[int, datetime] | None = None,
) -> dict[tuple[int, int], tuple[int, int]]:  # fmt: skip
    """Per (service_id, category_id): the open reports, and those of them filed on the
    days before their category's deadline ({category_id: moment}; the deadline's own day
    is the caller's), summed from the daily figures in one pass."""
    t = DailyFigure.__table__
    late = or_(false(), *(
        and_(t.c.category_id == category_id, t.c.day < _day(moment))
        for category_id, moment in (deadlines or {}).items()
    ))  # fmt: skip
    conds = [t.c.still_open > 0]
    if communes:
        conds.append(in_communes(t.c.commune, communes))
    if visible_services is not None:
        conds.append(t.c.service_id.in_(visible_services or (-1,)))
    stmt = (
        select(
            t.c.service_id, t.c.category_id, func.sum(t.c.still_open),
            func.sum(case((late, t.c.still_open), else_=0)),
        )
        .where(*conds)
        .group_by(t.c.service_id, t.c.category_id)
    )  # fmt: skip
    return {(s, c): (int(n), int(k)) for s, c, n, k in session.connection().execute(stmt)}
