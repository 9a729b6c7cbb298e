"""The team dashboard: do the services keep up? Flows, response times, backlog, SLA."""

from __future__ import annotations

import functools
import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy
from flask import current_app, render_template, request
from flask_babel import format_timedelta, get_locale
from flask_login import current_user

from console import bp
from console.oncall import oncall_panel
from console.phone import field_share
from console.present import channel_labels
from console.queue import load_lookups
from models.daily_figure import daily_figures
from models.dashboard_queries import backlog
from models.db import utcnow
from models.scope import Communes
from services.runtime import current_runtime

PERIODS = (7, 30, 90, 365)
CACHE_SECONDS = 60


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..1) with linear interpolation; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Line:
    """One row of the table: a service, or one of its categories."""

    name: str
    reports_in: int = 0
    closed: int = 0
    open: int = 0
    overdue: int = 0
    reopened: int = 0
    # arrays of hours (numpy, from the daily figures), one per category of the line
    ack_hours: list = field(default_factory=list)
    resolve_hours: list = field(default_factory=list)
    categories: dict = field(default_factory=dict)
    # (which, q) -> hours, computed once from the daily figures' packed hours
    percentiles: dict = field(default_factory=dict)

    @property
    def reopened_share(self) -> float | None:
        return self.reopened / self.reports_in if self.reports_in else None

    def duration(self, which: str, q: float) -> str:
        hours = self.percentiles.get((which, q))
        if hours is None:
            return "—"
        return format_timedelta(timedelta(hours=hours), threshold=1.5, add_direction=False)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@functools.lru_cache(maxsize=4096)
def _week(day: date) -> str:
    """The week a day belongs to, named by its Monday (ISO 8601 weeks)."""
    return (day - timedelta(days=day.weekday())).isoformat()


@bp.get("/dashboard")
def dashboard():
    """Shows reports in and closed, response times, backlog and overdue, per service."""
    days = request.args.get("days", type=int)
    days = days if days in PERIODS else 30
    # The agent's own communes only: asking for another one shows nothing more.
    mine = current_user.visible_communes
    communes = {insee: name for insee, name in _communes().items() if not mine or insee in mine}
    asked = request.args.get("commune") if request.args.get("commune") in communes else None
    # Without one asked: the agent's communes, and their reports without a commune yet.
    scope = (asked,) if asked else current_user.scope.commune_filter
    services = current_user.visible_services
    figures = cached_figures(days, services, str(get_locale()), scope)
    field = field_share(services, str(get_locale()), scope)
    paged = oncall_panel(services, days, str(get_locale()))
    return render_template("console/dashboard.html", days=days, periods=PERIODS,
                           communes=communes, commune=asked, field_share=field, oncall=paged,
                           channel_labels=channel_labels(), bodies=_bodies(),
                           **figures)  # fmt: skip


def _bodies() -> list:
    """Each other body's figures: forwarded, answered, median answer time, late."""
    from services.bodies import body_figures

    with current_runtime().db.reading() as db:
        return body_figures(db)


def _communes() -> dict[str, str]:
    from models.commune import communes

    with current_runtime().db.reading() as db:
        return {z.insee: z.name for z in communes(db)}


def cached_figures(days: int, scope: tuple[int, ...] | None, locale: str,
                   communes: Communes = ()) -> dict:  # fmt: skip
    """The figures of a period, computed at most once a minute per period and scope.

    At a million reports a month's figures read tens of thousands of rows; a dashboard a
    minute old is as useful, and the next agents who open it get it at once.
    """
    cache = current_app.extensions.setdefault("console_dashboard", {})
    key = (days, scope, locale, communes)
    hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    figures = compute_figures(days, scope, communes)
    cache[key] = (time.monotonic(), figures)
    return figures


def clear_cache(app) -> None:
    """Forgets the cached figures (after a benchmark's request, or in tests)."""
    app.extensions.pop("console_dashboard", None)


def compute_figures(days: int, scope: tuple[int, ...] | None,
                    communes: Communes = ()) -> dict:  # fmt: skip
    """Reads and aggregates everything the dashboard shows."""
    now = utcnow()
    since = datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), now.tzinfo)
    rt = current_runtime()
    with rt.db.reading() as db:
        lookups = load_lookups(db)
        rows = daily_figures(db, since.date(), scope, communes)
        pending = backlog(db, scope, now, communes)
    arrivals, closures, per_channel, times = _sums(rows)
    table = _table(lookups, arrivals, closures, times, pending)
    charts = _charts(lookups, since.date(), now.date(), arrivals, closures, table)
    total = Line("total")
    for line in table.values():
        for name in ("reports_in", "closed", "open", "overdue", "reopened"):
            setattr(total, name, getattr(total, name) + getattr(line, name))
    _percentiles(total, [h for line in table.values() for h in line.ack_hours],
                 [h for line in table.values() for h in line.resolve_hours])  # fmt: skip
    channels = sorted(per_channel.items(), key=lambda item: (-item[1], item[0]))
    return {"table": table, "total": total, "charts": charts, "since": since, "as_of": now,
            "per_channel": channels}  # fmt: skip


def _sums(rows) -> tuple[list, list, dict, list]:
    """Sums the daily figures: arrivals and closures per (day, service, category), reports
    per channel, and per (service, category) the reopened count and the packed hours."""
    arrivals: dict[tuple, int] = defaultdict(int)
    closures: dict[tuple, int] = defaultdict(int)
    per_channel: dict[str, int] = defaultdict(int)
    times: dict[tuple, list] = {}
    # one parse for every row's channels: a JSON array of the rows' little objects
    for counts in json.loads("[" + ",".join(row[3] for row in rows if row[4]) + "]"):
        for channel, n in counts.items():
            per_channel[channel] += n
    for day, service_id, category_id, _channels, received, reopened, closed, ack, resolve in rows:
        if received:
            arrivals[day, service_id, category_id] += received
            entry = times.setdefault((service_id, category_id), [0, [], []])
            entry[0] += reopened
            entry[1].append(ack)
            entry[2].append(resolve)
        if closed:
            closures[day, service_id, category_id] += closed
    return (
        [(*key, n) for key, n in arrivals.items()],
        [(*key, n) for key, n in closures.items()],
        dict(per_channel),
        [(s, c, n, _hours(ack), _hours(resolve)) for (s, c), (n, ack, resolve) in times.items()],
    )


def _hours(packed: list[bytes]) -> numpy.ndarray:
    return numpy.frombuffer(b"".join(packed), dtype="<f4")


def _percentiles(line: Line, ack: list, resolve: list) -> None:
    """Medians and 90th percentiles of these arrays of hours, as `percentile` computes them.

    numpy sorts a third of a million floats in a few ms (faster than its partition).
    """
    for which, parts in (("ack", ack), ("resolve", resolve)):
        values = numpy.sort(numpy.concatenate(parts)) if parts else numpy.empty(0)
        for q in (0.5, 0.9):
            line.percentiles[which, q] = _of_sorted(values, q)


def _of_sorted(ordered, q: float) -> float | None:
    """`percentile` of an already sorted array."""
    if not len(ordered):
        return None
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def _table(lookups, arrivals, closures, times, pending) -> dict[int, Line]:
    table: dict[int, Line] = {}

    def line(service_id: int, category_id: int) -> tuple[Line, Line]:
        # Called once per report of the period: names are looked up on first sight only.
        service = table.get(service_id)
        if service is None:
            service = table[service_id] = Line(lookups.service_name(service_id))
        category = service.categories.get(category_id)
        if category is None:
            category = service.categories[category_id] = Line(lookups.category_name(category_id))
        return service, category

    for _day, service_id, category_id, n in arrivals:
        for target in line(service_id, category_id):
            target.reports_in += n
    for _day, service_id, category_id, n in closures:
        for target in line(service_id, category_id):
            target.closed += n
    for service_id, category_id, n, late in pending:
        for target in line(service_id, category_id):
            target.open += n
            target.overdue += late
    for service_id, category_id, reopened, ack, resolve in times:
        for target in line(service_id, category_id):
            target.reopened += reopened
            target.ack_hours.append(ack)
            target.resolve_hours.append(resolve)
    for service in table.values():
        _percentiles(service, service.ack_hours, service.resolve_hours)
        for category in service.categories.values():
            _percentiles(category, category.ack_hours, category.resolve_hours)
    return dict(sorted(table.items(), key=lambda item: item[1].name))


def _charts(lookups, first: date, last: date, arrivals, closures, table) -> dict:
    """The figures the chart library draws, as plain JSON."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    weeks = sorted({_week(d) for d in days})
    per_day_in: dict[date, int] = defaultdict(int)
    per_day_closed: dict[date, int] = defaultdict(int)
    week_in: dict[tuple[int, str], int] = defaultdict(int)
    week_closed: dict[tuple[int, str], int] = defaultdict(int)
    for day, service_id, _category_id, n in arrivals:
        d = _as_date(day)
        per_day_in[d] += n
        week_in[service_id, _week(d)] += n
    for day, service_id, _category_id, n in closures:
        d = _as_date(day)
        per_day_closed[d] += n
        week_closed[service_id, _week(d)] += n
    services = list(table)
    return {
        "daily": {
            "labels": [d.isoformat() for d in days],
            "in": [per_day_in[d] for d in days],
            "closed": [per_day_closed[d] for d in days],
        },
        "weekly": {
            "labels": weeks,
            "services": [lookups.service_name(s) for s in services],
            "in": [[week_in[s, w] for w in weeks] for s in services],
            "closed": [[week_closed[s, w] for w in weeks] for s in services],
        },
        "backlog": {
            "labels": [table[s].name for s in services],
            "open": [table[s].open for s in services],
            "overdue": [table[s].overdue for s in services],
        },
    }
