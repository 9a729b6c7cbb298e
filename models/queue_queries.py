"""The console's queue: its filters, its order (most urgent first), its pages, counts and map.

The queue is paged by keyset (the last row's sort key, never OFFSET), so the hundredth
page costs what the first does at a million reports. It opens most urgent first
(`URGENT`, described at `queue_page`). A zone filter narrows the rows by
the zone's bounding box in SQL (the indexed lat/lon), then keeps the points inside the
polygon with shapely.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import product

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    String,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session

from models.catalog import Category
from models.db import read_number, utcnow
from models.report import (
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    Priority,
    Report,
)
from models.scope import EVERYTHING, AgentScope, in_scope, service_and_commune

PAGE_SIZE = 50
# Counts per status above this are shown as "10 000+".
COUNT_CAP = 10_000
MAP_LIMIT = 2000
# Rows read per round when a zone filter drops some of them in Python.
ZONE_BATCH = 500

# The agents' default order: the most pressing first (see queue_page).
URGENT = "urgent"
# sort name -> (column, descending); every sort ends with the report number as tiebreak.
SORTS = {
    URGENT: (URGENT, False),
    "newest": (None, True),
    "oldest": (None, False),
    "updated": ("updated_at", True),
}


@dataclass(frozen=True)
class QueueFilter:
    """What an agent asked to see, already limited to what they may see."""

    statuses: tuple[str, ...] = ()
    service_ids: tuple[int, ...] = ()
    category_ids: tuple[int, ...] = ()
    channel: str | None = None
    overdue: bool = False
    assigned_to: int | None = None
    search: str = ""
    zone: object | None = None  # a shapely geometry (lon, lat)
    # What the agent sees (models/scope.py; the default: everything, an admin's).
    scope: AgentScope = EVERYTHING
    # Several communes: the commune asked for.
    commune: str | None = None
    sort: str = URGENT

    def without_status(self) -> QueueFilter:
        return replace(self, statuses=())


@dataclass(frozen=True)
class Page:
    reports: list[Report]
    next_cursor: str | None
    prev_cursor: str | None


# --- filters -------------------------------------------------------------------------


def _conditions(session: Session, f: QueueFilter, now: datetime, ranged: bool = False) -> list:
    """The filter as SQL; `ranged`: without the statuses, services and categories, which
    the urgent sort's ranges say one by one (an IN beside them would cost PostgreSQL the
    ranges' order)."""
    conds = service_and_commune(None, f.scope.commune_filter) if ranged else in_scope(f.scope)
    if not f.search:  # handed to another body (services/bodies): found by a search only
        conds.append(Report.with_body.is_(False))
    if f.commune:
        conds.append(Report.commune == f.commune)
    if f.statuses and not ranged:
        conds.append(Report.status.in_(f.statuses))
    if f.service_ids and not ranged:
        conds.append(Report.service_id.in_(f.service_ids))
    if f.category_ids and not ranged:
        conds.append(Report.category_id.in_(f.category_ids))
    if f.channel:
        conds.append(Report.channel == f.channel)
    if f.assigned_to is not None:
        conds.append(Report.assigned_agent_id == f.assigned_to)
    if f.overdue:
        # the open statuses once: twice, PostgreSQL squares their share in its estimate,
        # takes the overdue reports for a few hundred and sorts them all (40 ms at a million)
        already_open = ranged or (bool(f.statuses) and set(f.statuses) <= set(OPEN_STATUSES))
        conds.append(overdue_clause(session, now, open_only=not already_open))
    if f.search:
        conds.append(_search_clause(f.search))
    if f.zone is not None:
        min_lon, min_lat, max_lon, max_lat = f.zone.bounds
        conds += [Report.lat.between(min_lat, max_lat), Report.lon.between(min_lon, max_lon)]
    return conds


def _search_clause(text: str):
    text = text.strip()
    number = read_number(text.lstrip("#").strip())
    if number is not None:
        return Report.id == number
    pattern = "%" + text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    return or_(
        Report.description.ilike(pattern, escape="\\"),
        Report.address.ilike(pattern, escape="\\"),
    )


def sla_hours_by_category(session: Session) -> dict[int, int]:
    return dict(session.execute(select(Category.id, Category.sla_hours)).all())


def urgent_sla_hours_by_category(session: Session) -> dict[int, int]:
    """An urgent report's SLA hours, per category (its own, shorter deadline)."""
    return dict(session.execute(select(Category.id, Category.urgent_sla_hours)).all())


def overdue_clause(session: Session, now: datetime, open_only: bool = True):
    """Open, and older than its category's SLA (an urgent one's for an urgent report):
    indexed ranges per category (without the open test when the caller has it already)."""
    urgent = urgent_sla_hours_by_category(session)
    per_category = [
        and_(
            Report.category_id == category_id,
            or_(
                and_(Report.priority != Priority.URGENT, Report.created_at < now - HOUR * hours),
                and_(
                    Report.priority == Priority.URGENT,
                    Report.created_at < now - HOUR * urgent.get(category_id, hours),
                ),
            ),
        )
        for category_id, hours in sla_hours_by_category(session).items()
    ]
    late = or_(false(), *per_category)
    return and_(Report.status.in_(OPEN_STATUSES), late) if open_only else late


def _inside(zone, rows: list, lat_index: int, lon_index: int) -> list[bool]:
    """Tells which rows' points lie inside the zone (vectorised: a million in ~0.1 s)."""
    if not rows:
        return []
    lons = [row[lon_index] for row in rows]
    lats = [row[lat_index] for row in rows]
    import shapely  # with numpy: when a queue is filtered by a drawn zone

    return list(shapely.contains_xy(zone, lons, lats))


# --- the queue -----------------------------------------------------------------------

DEFAULT_SLA_HOURS = 72  # a category's default (models/catalog.py)
HOUR = timedelta(hours=1)
# A priority's rank in the queue: 0 (urgent) opens it.
RANKS = {p.value: rank for rank, p in enumerate(PRIORITIES)}


@dataclass(frozen=True)
class Urgency:
    """The urgent sort's key, (priority rank, deadline, number), and how to read in it.

    A report's deadline is its filing time plus its category's SLA, so within one
    priority, status and category the deadline order is the filing order: the rows come
    from one indexed range each (ix_report_urgency), and the few ranges are merged here.
    No database sorts every open report by a computed deadline.
    """

    sla: dict[int, int]  # category -> SLA hours
    urgent_sla: dict[int, int] = field(default_factory=dict)  # category -> an urgent one's

    @classmethod
    def of(cls, session: Session) -> Urgency:
        return cls(sla_hours_by_category(session), urgent_sla_hours_by_category(session))

    def hours(self, category_id: int, priority: str = Priority.NORMAL) -> int:
        if priority == Priority.URGENT and category_id in self.urgent_sla:
            return self.urgent_sla[category_id]
        return self.sla.get(category_id, DEFAULT_SLA_HOURS)

    def sort_key(self, priority: str, category_id: int, created_at: datetime, number: int):
        deadline = created_at + HOUR * self.hours(category_id, priority)
        return (RANKS[priority], deadline, number)  # an unknown priority is a bug: KeyError

    def key(self, report: Report) -> str:
        rank, deadline, number = self.sort_key(
            report.priority, report.category_id, report.created_at, report.id
        )
        return f"{rank}|{deadline.isoformat()}|{number}"

    def fetch(
        self, session: Session, f: QueueFilter, conds: list, cursor, descending: bool, limit: int
    ) -> list[Report]:
        """Up to `limit` reports after the cursor, in key order (reversed if descending)."""
        after = _read_urgent_cursor(cursor) if cursor is not None else None
        statuses = f.statuses or tuple(STATUSES)
        if f.overdue:  # overdue is for open reports only
            statuses = tuple(s for s in statuses if s in OPEN_STATUSES)
        categories = f.category_ids or tuple(self.sla)
        # An agent's services split the ranges too (ix_report_service_urgency): a category
        # of another service is then an empty range, not a scan of its reports.
        services = _services_of(f)
        ranges = []
        for rank, priority in enumerate(PRIORITIES):
            for category_id in categories:
                bound = self._bound(rank, category_id, after, descending)
                if bound is False:
                    continue  # the whole range lies before the cursor
                for status, service_id in product(statuses, services):
                    ranges.append(Range(priority, status, category_id, service_id, bound))
        numbers = self._merge(session, ranges, conds, descending, limit)
        found = {r.id: r for r in session.scalars(select(Report).where(Report.id.in_(numbers)))}
        return [found[n] for n in numbers]

    def _merge(self, session: Session, ranges: list[Range], conds, descending, limit) -> list:
        """Merges the ranges' rows into the first `limit` numbers in key order.

        Each round reads a chunk of every range still open; a range whose chunk came back
        full may hold more, so only the rows up to the earliest such range's last key are
        sure of their place. When they are fewer than `limit`, those ranges are read on.
        """
        read = _read_lateral if session.get_bind().dialect.name == "postgresql" else _read_union
        chunk = min(limit, RANGE_CHUNK)
        by_service = ranges[0].service_id is not None
        keyed: list[tuple] = []  # (key, number), every row read so far
        while ranges:
            read_now: dict[tuple, list] = {}  # range -> the keys of its rows read this round
            for row in read(session, ranges, conds, descending, chunk):
                key = self.sort_key(row.priority, row.category_id, row.created_at, row.id)
                keyed.append((key, row.id))
                service = row.service_id if by_service else None
                read_now.setdefault((row.priority, row.status, row.category_id, service), [])
                read_now[(row.priority, row.status, row.category_id, service)].append(key)
            keyed.sort(reverse=descending)
            # the ranges read to the end of their chunk may hold more, from their last row
            more, edges = [], []
            for r in ranges:
                keys = read_now.get((r.priority, r.status, r.category_id, r.service_id), ())
                if len(keys) >= chunk:
                    last = min(keys) if descending else max(keys)
                    start = last[1] - HOUR * self.hours(r.category_id, r.priority)
                    more.append(replace(r, after=(start, last[2])))
                    edges.append(last)
            if not more:
                break
            edge = max(edges) if descending else min(edges)
            sure = sum(1 for key, _ in keyed if (key >= edge if descending else key <= edge))
            if sure >= limit:
                break
            ranges = more
        return [number for _, number in keyed[:limit]]

    def _bound(self, rank: int, category_id: int, after, descending: bool):
        """Where the cursor cuts one priority and category: None (nothing cut), False (all
        of it lies before the cursor), or the (filing time, number) the range starts after."""
        if after is None:
            return None
        c_rank, deadline, number = after
        if rank != c_rank:
            return None if (rank > c_rank) != descending else False
        return deadline - timedelta(hours=self.hours(category_id, PRIORITIES[rank])), number


@dataclass(frozen=True)
class Range:
    """One priority, status, category (and service) of the urgent sort: its reports in
    filing order, from the cursor's (filing time, number) if it cuts it."""

    priority: str
    status: str
    category_id: int
    service_id: int | None
    after: tuple[datetime, int] | None


def _columns():
    return select(
        Report.id,
        Report.priority,
        Report.status,
        Report.category_id,
        Report.service_id,
        Report.created_at,
    )


def _in_order(stmt, descending: bool, limit: int):
    order = (Report.created_at, Report.id)
    return stmt.order_by(*(c.desc() for c in order) if descending else order).limit(limit)


def _read_union(session: Session, ranges: list[Range], conds: list, descending, limit) -> list:
    """Reads each range with its own indexed SELECT, UNION ALL (SQLite plans them cheaply)."""
    selects = []
    for r in ranges:
        stmt = _columns().where(
            Report.priority == r.priority,
            Report.status == r.status,
            Report.category_id == r.category_id,
            *conds,
        )
        if r.service_id is not None:
            stmt = stmt.where(Report.service_id == r.service_id)
        if r.after is not None:
            past = (Report.created_at, Report.id)
            if descending:
                stmt = stmt.where(tuple_(*past) < tuple_(*r.after))
            else:
                stmt = stmt.where(tuple_(*past) > tuple_(*r.after))
        selects.append(select(_in_order(stmt, descending, limit).subquery()))
    rows = []
    for start in range(0, len(selects), RANGES_PER_QUERY):
        rows += session.execute(union_all(*selects[start : start + RANGES_PER_QUERY])).all()
    return rows


# A cursor before (after) every report, for the ranges the cursor does not cut.
FIRST_FILED, LAST_FILED = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)


def _read_lateral(session: Session, ranges: list[Range], conds: list, descending, limit):
    """Reads every range with one plan (PostgreSQL: a LATERAL subquery per row of the
    ranges, unnested from arrays), as planning a UNION of dozens of SELECTs costs more than
    reading them; the statement's shape is the same whatever the ranges, so it is cached."""
    by_service = ranges[0].service_id is not None
    edge = (LAST_FILED, 2**62) if descending else (FIRST_FILED, 0)
    starts = [r.after or edge for r in ranges]
    arrays = [
        ([r.priority for r in ranges], String),
        ([r.status for r in ranges], String),
        ([r.category_id for r in ranges], Integer),
        ([r.service_id or 0 for r in ranges], Integer),
        ([filed for filed, _ in starts], DateTime(timezone=True)),
        ([number for _, number in starts], BigInteger),
    ]
    names = ("priority", "status", "category_id", "service_id", "filed", "number")
    keys = (
        func.unnest(
            *(
                bindparam(f"wanted_{n}", v, type_=ARRAY(t))
                for n, (v, t) in zip(names, arrays, strict=True)
            )
        )
        .table_valued(*names)
        .render_derived(name="wanted")
    )
    past, start = (Report.created_at, Report.id), (keys.c.filed, keys.c.number)
    stmt = _columns().where(
        Report.priority == keys.c.priority,
        Report.status == keys.c.status,
        Report.category_id == keys.c.category_id,
        tuple_(*past) < tuple_(*start) if descending else tuple_(*past) > tuple_(*start),
        *conds,
    )
    if by_service:
        stmt = stmt.where(Report.service_id == keys.c.service_id)
    inner = _in_order(stmt, descending, limit).lateral("found")
    return session.execute(select(inner).select_from(keys).join(inner, true())).all()


# Rows read per range and round: a page's worth; an export reads on, round by round.
RANGE_CHUNK = 64
# Ranges read per statement: well under SQLite's 500 terms of a compound SELECT.
RANGES_PER_QUERY = 200


def _services_of(f: QueueFilter) -> tuple[int | None, ...]:
    """The services the filter keeps (its own, within the agent's), or (None,): any."""
    services = f.scope.services
    if f.service_ids:
        services = tuple(s for s in f.service_ids if services is None or s in services)
    return (None,) if services is None else tuple(services)


def _read_urgent_cursor(cursor: str) -> tuple[int, datetime, int]:
    rank, stamp, number = cursor.split("|")
    return int(rank), datetime.fromisoformat(stamp), int(number)


def _sort_key(f: QueueFilter, report: Report, urgency: Urgency | None = None) -> str:
    if urgency is not None:
        return urgency.key(report)
    column, _ = SORTS.get(f.sort, SORTS["newest"])
    if column is None:
        return str(report.id)
    return f"{getattr(report, column).isoformat()}|{report.id}"


def _after(f: QueueFilter, cursor: str, descending: bool):
    """The rows strictly after `cursor` in the sort order (reversed when paging back)."""
    column, _ = SORTS.get(f.sort, SORTS["newest"])
    if column is None:
        number = int(cursor)
        return Report.id < number if descending else Report.id > number
    stamp, _, number = cursor.rpartition("|")
    value, number = datetime.fromisoformat(stamp), int(number)
    col = getattr(Report, column)
    if descending:
        return or_(col < value, and_(col == value, Report.id < number))
    return or_(col > value, and_(col == value, Report.id > number))


def _ordered(f: QueueFilter, descending: bool) -> list:
    column, _ = SORTS.get(f.sort, SORTS["newest"])
    cols = [Report.id] if column is None else [getattr(Report, column), Report.id]
    return [c.desc() if descending else c.asc() for c in cols]


def queue_page(
    session: Session,
    f: QueueFilter,
    *,
    after: str | None = None,
    before: str | None = None,
    size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> Page:
    """Returns one page of the queue, with the cursors of the next and previous pages.

    The default sort, `urgent`, opens with the most pressing reports. Its key is
    (priority rank, deadline, number), ascending:
    1. the priority an agent set: every urgent report, then every high one, then the
       normal ones (most reports);
    2. within a priority, the deadline (filing time + the category's SLA hours), earliest
       first: the overdue reports come first, the latest of them (the earliest deadline)
       at the top, then the reports nearest to their deadline;
    3. the report number, oldest first, between equal deadlines.
    An overdue normal report thus comes after an urgent one not yet due. On closed
    reports (status "all" and the like) the same key applies, the deadline then says how
    long ago they were due.
    """
    now = now or utcnow()
    _, descending = SORTS.get(f.sort, SORTS["newest"])
    urgency = Urgency.of(session) if f.sort == URGENT else None
    backwards = before is not None and after is None
    direction = descending != backwards
    conds = _conditions(session, f, now, ranged=urgency is not None)
    cursor = before if backwards else after
    rows = _fetch(session, f, conds, cursor, direction, size + 1, urgency)
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    if not rows:
        return Page([], None, None)
    has_next = more if not backwards else True
    has_prev = (after is not None) if not backwards else more
    return Page(
        rows,
        _sort_key(f, rows[-1], urgency) if has_next else None,
        _sort_key(f, rows[0], urgency) if has_prev else None,
    )


def _fetch(
    session, f: QueueFilter, conds: list, cursor, descending: bool, limit: int,
    urgency: Urgency | None = None,
) -> list:  # fmt: skip
    """Reads up to `limit` rows after the cursor; with a zone, batch by batch until full."""
    found: list[Report] = []
    while True:
        batch_size = limit if f.zone is None else max(ZONE_BATCH, limit)
        if urgency is not None:
            batch = urgency.fetch(session, f, conds, cursor, descending, batch_size)
        else:
            stmt = select(Report).where(*conds)
            if cursor is not None:
                stmt = stmt.where(_after(f, cursor, descending))
            batch = list(session.scalars(stmt.order_by(*_ordered(f, descending)).limit(batch_size)))
        if f.zone is None:
            return batch
        rows = [(r.lat, r.lon) for r in batch]
        inside = _inside(f.zone, rows, 0, 1)
        found += [r for r, keep in zip(batch, inside, strict=True) if keep]
        if len(found) >= limit or len(batch) < batch_size:
            return found[:limit]
        cursor = _sort_key(f, batch[-1], urgency)


def iter_queue(session: Session, f: QueueFilter, batch: int = 1000) -> Iterator[Report]:
    """Yields every report of the filter in sort order (the CSV export), batch by batch."""
    after = None
    while True:
        page = queue_page(session, f, after=after, size=batch)
        yield from page.reports
        if page.next_cursor is None:
            return
        after = page.next_cursor


def status_counts(
    session: Session, f: QueueFilter, now: datetime | None = None, cap: int = COUNT_CAP
) -> dict:
    """Counts the filter's reports per status (the status filter itself left out).

    Each count stops at `cap` + 1 ("more than cap"): a tab needs no exact figure for
    tens of thousands of resolved reports, and the cost stays bounded at any size.
    """
    f = f.without_status()
    conds = _conditions(session, f, now or utcnow())
    counts = dict.fromkeys(STATUSES, 0)
    if f.zone is None:
        for status in STATUSES:
            capped = (
                select(Report.id).where(*conds, Report.status == status).limit(cap + 1).subquery()
            )
            counts[status] = session.scalar(select(func.count()).select_from(capped)) or 0
        return counts
    rows = session.execute(select(Report.status, Report.lat, Report.lon).where(*conds)).all()
    for row, inside in zip(rows, _inside(f.zone, rows, 1, 2), strict=True):
        if inside:
            counts[row[0]] += 1
    return {status: min(n, cap + 1) for status, n in counts.items()}


def map_points(session: Session, f: QueueFilter, limit: int = MAP_LIMIT) -> list[tuple]:
    """Returns (number, lat, lon, status, category_id) of the newest located reports."""
    conds = [*_conditions(session, f, utcnow()), Report.lat.is_not(None), Report.lon.is_not(None)]
    stmt = (
        select(Report.id, Report.lat, Report.lon, Report.status, Report.category_id)
        .where(*conds)
        .order_by(Report.id.desc())
        .limit(limit if f.zone is None else limit * 4)
    )
    rows = session.execute(stmt).all()
    if f.zone is not None:
        inside = _inside(f.zone, rows, 1, 2)
        rows = [r for r, keep in zip(rows, inside, strict=True) if keep][:limit]
    return [tuple(r) for r in rows]
