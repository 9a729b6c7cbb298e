"""The queue: the reports an agent may see, filtered, sorted, paged; its map; CSV export."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import shapely
from flask import (
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_number, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from shapely.geometry import shape

from console import MAX_ROW_ID, bp
from console.present import STATUS_LABELS, channel_labels, is_overdue, status_label
from models.catalog import Category, Service, all_categories, all_services, sla_hours_for
from models.commune import communes
from models.console_queries import agents_by_id
from models.db import utcnow
from models.delivery_queries import awaiting_after_reopening, reminded_without_news
from models.queue_queries import (
    COUNT_CAP,
    SORTS,
    URGENT,
    QueueFilter,
    iter_queue,
    map_points,
    queue_page,
    status_counts,
)
from models.report import OPEN_STATUSES, STATUSES
from models.zone import Zone, all_zones
from services import access
from services.audit import csv_line
from services.channels import all_channels
from services.runtime import current_runtime

STATUS_CHOICES = ("open", *STATUSES, "all")
# A report's priority as the agents read it (models/report.py PRIORITIES).
PRIORITY_LABELS = {"urgent": _l("Urgent"), "high": _l("High"), "normal": _l("Normal")}
# The query parameters of the queue's filter (read_filter), kept by the Map link.
FILTER_NAMES = ("status", "service", "category", "zone", "channel", "overdue", "mine", "q", "sort")
CSV_COLUMNS = (
    "number",
    "created_at",
    "status",
    "category",
    "service",
    "channel",
    "address",
    "lat",
    "lon",
    "geolocated",
    "description",
    "assigned_to",
    "updated_at",
    "resolved_at",
    "closed_at",
    "overdue",
)

# The export's column names, as the agent reads them.
CSV_LABELS = {
    "number": _l("Number"),
    "created_at": _l("Filed on"),
    "status": _l("Status"),
    "category": _l("Category"),
    "service": _l("Service"),
    "channel": _l("Channel"),
    "address": _l("Address"),
    "lat": _l("Latitude"),
    "lon": _l("Longitude"),
    "geolocated": _l("Geolocated"),
    "description": _l("Description"),
    "assigned_to": _l("Assigned to"),
    "updated_at": _l("Updated on"),
    "resolved_at": _l("Resolved on"),
    "closed_at": _l("Closed on"),
    "overdue": _l("Overdue"),
}


@dataclass
class Lookups:
    """The small tables every console page names things from."""

    services: dict[int, Service]
    categories: dict[int, Category]
    agents: dict
    zones: dict[int, Zone]
    communes: dict[str, str] = field(default_factory=dict)  # INSEE -> name

    def service_name(self, service_id: int) -> str:
        service = self.services.get(service_id)
        return service.name(lang()) if service else "?"

    def category_name(self, category_id: int) -> str:
        category = self.categories.get(category_id)
        return category.name(lang()) if category else "?"

    def agent_name(self, agent_id: int | None) -> str:
        agent = self.agents.get(agent_id) if agent_id else None
        return agent.display_name if agent else ""

    def commune_unknown(self, report) -> bool:
        """Flagged "commune not known yet": seen by every agent of its service till then."""
        return access.commune_unknown(report, bool(self.communes))

    def sla_hours(self, category_id: int, priority: str = "normal") -> int:
        category = self.categories.get(category_id)
        return sla_hours_for(category, priority) if category else 72

    def visible_services(self) -> list[Service]:
        ids = current_user.visible_services
        return [s for s in self.services.values() if ids is None or s.id in ids]


def lang() -> str:
    return str(get_locale() or "fr")[:2]


def load_lookups(db) -> Lookups:
    return Lookups(
        {s.id: s for s in all_services(db)},
        {c.id: c for c in all_categories(db)},
        agents_by_id(db),
        {z.id: z for z in all_zones(db)},
        {z.insee: z.name for z in communes(db)},
    )


def row_id(text: str | None) -> int | None:
    """A table key written in a URL (ASCII digits, within the databases' integers), or None."""
    if not text or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_ROW_ID else None


def _int(name: str) -> int | None:
    return row_id(request.args.get(name))


def read_cursor(f: QueueFilter, name: str) -> str | None:
    """A paging cursor of the query string, if it is one the queue writes for this sort.

    Anything else (edited by hand, or from another sort) gives the first page.
    """
    value = request.args.get(name)
    if value is None:
        return None
    if f.sort == URGENT:
        return value if _urgent_cursor(value) else None
    column, _ = SORTS.get(f.sort, SORTS["newest"])
    stamp, bar, number = value.rpartition("|")
    if row_id(number) is None or bool(bar) != (column is not None):
        return None
    if column is not None:
        try:
            datetime.fromisoformat(stamp)
        except ValueError:
            return None
    return value


def _urgent_cursor(value: str) -> bool:
    """Whether a cursor is the urgent sort's: "rank|deadline|number"."""
    parts = value.split("|")
    if len(parts) != 3 or parts[0] not in ("0", "1", "2") or row_id(parts[2]) is None:
        return False
    try:
        return datetime.fromisoformat(parts[1]).utcoffset() is not None
    except ValueError:
        return False


def read_filter(lookups: Lookups) -> tuple[QueueFilter, dict]:
    """Reads the queue filter from the query string; returns it and the raw values."""
    args = request.args
    status = args.get("status", "open")
    status = status if status in STATUS_CHOICES else "open"
    statuses = {"open": OPEN_STATUSES, "all": ()}.get(status, (status,))
    service, category, zone_id = _int("service"), _int("category"), _int("zone")
    zone = lookups.zones.get(zone_id) if zone_id else None
    channel = args.get("channel") if args.get("channel") in channel_names() else None
    commune = args.get("commune") if args.get("commune") in lookups.communes else None
    # An agent's queue opens most urgent first; the other orders stay a choice away.
    sort = args.get("sort") if args.get("sort") in SORTS else URGENT
    f = QueueFilter(
        statuses=tuple(statuses),
        service_ids=(service,) if service else (),
        category_ids=(category,) if category else (),
        channel=channel,
        overdue=args.get("overdue") == "1",
        assigned_to=current_user.id if args.get("mine") == "1" else None,
        # PostgreSQL takes no NUL in text, and a search has no use for one.
        search=args.get("q", "").replace("\x00", "").strip()[:200],
        zone=_zone_shape(zone) if zone else None,
        scope=current_user.scope,
        commune=commune,
        sort=sort,
    )
    raw = {
        "commune": commune or "",
        "status": status,
        "service": service or "",
        "category": category or "",
        "zone": zone.id if zone else "",
        "channel": channel or "",
        "overdue": "1" if f.overdue else "",
        "mine": "1" if f.assigned_to else "",
        "q": f.search,
        "sort": sort,
    }
    return f, raw


def _lookups_and_filter(db) -> tuple[Lookups, QueueFilter, dict]:
    """The lookups, and the queue filter of the query string (which names their rows)."""
    lookups = load_lookups(db)
    f, raw = read_filter(lookups)
    return lookups, f, raw


_shapes: dict[tuple[int, str], object] = {}


def _zone_shape(zone: Zone):
    """The zone's polygon, prepared once per version for fast point tests."""
    key = (zone.id, str(zone.created_at))
    if key not in _shapes:
        geometry = shape(zone.geometry)
        shapely.prepare(geometry)
        _shapes[key] = geometry
    return _shapes[key]


@bp.context_processor
def _queue_filter() -> dict:
    def queue_filter() -> dict[str, str]:
        """The filter in this page's query string, and nothing else of it (url_for's own
        arguments, such as `endpoint` or `_method`, are not for a visitor to set)."""
        return {name: request.args[name] for name in FILTER_NAMES if request.args.get(name)}

    return {"queue_filter": queue_filter}


def filter_args(raw: dict, **changes) -> dict:
    """The query string of the current filter, with some values changed (for links)."""
    merged = {**raw, **changes}
    return {k: v for k, v in merged.items() if v not in ("", None)}


@bp.get("/")
def home():
    return redirect(url_for("console.queue"))


@bp.get("/reports")
def queue():
    """Lists the reports of the filter, one keyset page at a time, with counts per status."""
    now = utcnow()
    with current_runtime().db.reading() as db:
        lookups, f, raw = _lookups_and_filter(db)
        page = queue_page(
            db, f, after=read_cursor(f, "after"), before=read_cursor(f, "before"), now=now
        )
        counts = status_counts(db, f, now)
        reopened = awaiting_after_reopening(db, [r.id for r in page.reports if r.reopened_count])
        silent = reminded_without_news(db, [r.id for r in page.reports if r.is_open])
    counts["open"] = sum(counts[s] for s in OPEN_STATUSES)
    counts["all"] = sum(counts[s] for s in STATUSES)
    more = {s for s in STATUSES if counts[s] > COUNT_CAP}
    shown = {s: count_label(counts[s], s in more) for s in STATUSES}
    shown["open"] = count_label(counts["open"], bool(more & set(OPEN_STATUSES)))
    shown["all"] = count_label(counts["all"], bool(more))
    return render_template(
        "console/queue.html",
        page=page,
        reopened=reopened,
        silent=silent,
        counts=shown,
        now=now,
        status_tabs=[("open", _open_label()), *STATUS_LABELS.items(), ("all", _all_label())],
        status_label=status_label,
        is_overdue=is_overdue,
        sorts=SORTS,
        priority_labels=PRIORITY_LABELS,
        **_filter_context(raw, lookups),
    )


def _filter_context(raw: dict, lookups: Lookups) -> dict:
    """What the filter bar of the queue and of the map shows: the filter and its choices."""
    return {
        "raw": raw,
        "lookups": lookups,
        "channels": channel_names(),
        "lookups_communes": lookups.communes,
        "channel_labels": channel_labels(),
        "filter_args": filter_args,
    }


def count_label(n: int, more: bool) -> str:
    """A tab's count: exact, or "10 000+" when a status has more than the cap."""
    return format_number(min(n, COUNT_CAP) if more else n) + ("+" if more else "")


def _open_label() -> str:
    from flask_babel import gettext as _

    return _("Open")


def _all_label() -> str:
    from flask_babel import gettext as _

    return _("All")


@bp.get("/map")
def queue_map():
    """Shows the reports of the same filter on a map."""
    with current_runtime().db.reading() as db:
        lookups, _f, raw = _lookups_and_filter(db)
    return render_template(
        "console/map.html",
        data_url=url_for("console.queue_points", **filter_args(raw)),
        **_filter_context(raw, lookups),
    )


@bp.get("/reports.json")
def queue_points():
    """The filter's located reports, as GeoJSON points for the map."""
    with current_runtime().db.reading() as db:
        lookups, f, _raw = _lookups_and_filter(db)
        points = map_points(db, f)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "number": number,
                "status": status,
                "status_label": status_label(status),
                "category": lookups.category_name(category_id),
                "url": url_for("console.report_page", number=number),
            },
        }
        for number, lat, lon, status, category_id in points
    ]
    return jsonify(type="FeatureCollection", features=features)


@bp.get("/reports.csv")
def export_csv():
    """Streams every report of the filter as CSV (UTF-8 with BOM, for spreadsheets)."""
    rt = current_runtime()
    with rt.db.reading() as db:
        lookups, f, _raw = _lookups_and_filter(db)

    header = "\ufeff" + csv_line(str(CSV_LABELS[c]) for c in CSV_COLUMNS)  # in the request

    def rows():
        now = utcnow()
        yield header
        with rt.db.reading() as db:
            for r in iter_queue(db, f):
                yield csv_line(_csv_row(r, lookups, now))

    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="reports-{stamp}.csv"'},
    )


def _csv_row(r, lookups: Lookups, now) -> list:
    agent = lookups.agents.get(r.assigned_agent_id) if r.assigned_agent_id else None
    return [
        r.id,
        r.created_at.isoformat(),
        r.status,
        lookups.category_name(r.category_id),
        lookups.service_name(r.service_id),
        r.channel,
        r.address or "",
        "" if r.lat is None else r.lat,
        "" if r.lon is None else r.lon,
        int(r.geolocated),
        r.description,
        agent.email if agent else "",
        r.updated_at.isoformat(),
        r.resolved_at.isoformat() if r.resolved_at else "",
        r.closed_at.isoformat() if r.closed_at else "",
        int(is_overdue(r, lookups.sla_hours(r.category_id, r.priority), now)),
    ]


def channel_names() -> list[str]:
    """The channels a report can come from (the registry's), for the queue's filter."""
    return [c.name for c in all_channels()]
