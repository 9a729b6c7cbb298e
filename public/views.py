"""The public site's pages and feeds (see public/__init__.py)."""

from __future__ import annotations

import base64
import functools
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import qrcode
import qrcode.image.svg
from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from markupsafe import Markup, escape

from models.public_queries import (
    STATUS_GROUPS,
    PublicFilter,
    approved_photo,
    figures_by_service,
    latest_public_changes,
    public_page,
    public_points_in_box,
    reports_with_catalog,
)
from models.report import Status, get_report
from services import channels
from services.channels import FollowWay, follow_ways
from services.config import LANGUAGES
from services.maps import map_tiles, place_drawing, town_outline
from services.media import photo_response
from services.page_policy import content_security_policy
from services.public_view import PublicReport, public_report, public_reports
from services.runtime import current_runtime
from services.texts import N_, page_language, status_name, translate
from services.town_clock import TOWN_ZONE, town_date
from services.types import clean_text

PAGE_SIZE = 20
# The map: at most this many points per answer, the newest, with how many the box holds.
MAP_LIMIT = 500
FEED_SIZE = 50
# Proxies may serve a page this long; a changed page gets a new ETag.
MAX_AGE = 60
PERIODS = {
    "month": N_("this month"),
    "year": N_("this year"),
}
STATUS_FILTERS = {"open": N_("Open"), "fixed": N_("Dealt with")}

bp = Blueprint(
    "public",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/public-static",
)


def language() -> str:
    """The page's language: `?lang=en`, else the town's default (French)."""
    chosen = request.args.get("lang", "")
    return chosen if chosen in LANGUAGES else current_runtime().settings.DEFAULT_LANGUAGE


@bp.app_template_global("public_url")
def public_url(endpoint: str, **values) -> str:
    """A link that keeps the page's language."""
    lang = language()
    if lang != current_runtime().settings.DEFAULT_LANGUAGE:
        values.setdefault("lang", lang)
    return url_for(endpoint, **values)


def _render(template: str, status: int = 200, **context) -> Response:
    lang = language()
    rt = current_runtime()
    with rt.db.reading() as db:
        town = rt.catalog.get(db).area_name
    words = page_language(lang)
    # The page's own filters, in the other language; url_for's own words (endpoint,
    # _method, _external...) and the path's values (`number`) are never taken from a
    # visitor's query string: `?number=1` must not make the link another report's.
    path_values = request.view_args or {}
    asked = {
        k: v
        for k, v in request.args.items()
        if k != "endpoint" and not k.startswith("_") and k not in path_values
    }
    switch = {**asked, **path_values}
    switch["lang"] = words["other_lang"]
    body = render_template(
        template,
        **words,
        town=town,
        switch_url=url_for(request.endpoint, **switch),
        tiles=map_tiles(rt.settings),
        status_name=lambda status: status_name(lang, status),
        town_date=town_date,
        **context,
    )
    return _cached(Response(body, status=status, mimetype="text/html"))


def _cached(response: Response) -> Response:
    """ETag over the body and a short public max-age, so a proxy can serve repeats."""
    if response.status_code == 200:
        response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
        response.add_etag()
        response.make_conditional(request)
    response.headers["Content-Language"] = language()
    return response


@bp.after_request
def _policy(response: Response) -> Response:
    # The map's tiles come from the tile server, when there is one (as in the console).
    if response.mimetype == "text/html":
        settings = current_runtime().settings
        response.headers["Content-Security-Policy"] = content_security_policy(settings)
    return response


@bp.errorhandler(404)
def _not_found(error):
    # The public site's own (a missing or hidden report); the app keeps one handler for
    # unknown paths (Open311's).
    return _render("public/not_found.html", status=404)


# --- the town's page -------------------------------------------------------------------


@dataclass(frozen=True)
class Way:
    """One way to report, as the town's page shows it."""

    label: str
    instruction: str  # French, as the channel words it
    url: str | None
    qr: str | None  # a data: URL of the QR code's SVG


@bp.get("/")
def town():
    """How to report on each channel, and this month's and this year's figures."""
    rt = current_runtime()
    now = datetime.now(UTC)
    month, year = period_start("month", now), period_start("year", now)
    with rt.db.reading() as db:
        services = rt.catalog.get(db).services
        figures = {
            "month": figures_by_service(db, month, now + timedelta(seconds=1)),
            "year": figures_by_service(db, year, now + timedelta(seconds=1)),
        }
    return _render(
        "public/town.html",
        ways=_ways(),
        figures=figures,
        services=services,
        periods=PERIODS,
        hours=_hours,
    )


def period_start(period: str, now: datetime) -> datetime:
    """When this month (or this year) began on the town's calendar, in UTC: at 00:30 on
    1 January in Vitré (23:30 UTC on the 31st), "this month" is already January."""
    local = now.astimezone(TOWN_ZONE)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if period == "year":
        start = start.replace(month=1)
    return start.astimezone(UTC)


def _ways() -> list[Way]:
    """Each channel that can say how to start (services/channels.py), with its QR code."""
    settings = current_runtime().settings
    ways = []
    for channel in channels.enabled_channels(settings):
        invite = _invite(channel, None)
        if invite is not None:
            ways.append(Way(invite.label, invite.instruction, invite.url, _qr(invite.url)))
    return ways


def _invite(channel, code: str | None):
    if channel.invite is None or not channel.for_citizens:
        return None
    try:
        return channel.invite(current_runtime().settings, code)
    except channels.InviteUnavailable:
        return None  # the provider did not say how to reach it: that way is left out


@functools.lru_cache(maxsize=64)
def _qr(url: str | None) -> str | None:
    if not url:
        return None
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def _hours(value: float | None, lang: str) -> str:
    if value is None:
        return "–"
    if value < 48:
        return translate(lang, "{n} h", n=max(1, round(value)))
    return translate(lang, "{n} days", n=round(value / 24))


# --- the list and the map --------------------------------------------------------------


def _filter(db) -> tuple[PublicFilter, dict]:
    """The list's filters from the query string; an unknown value is no filter."""
    args = request.args
    status = args.get("status") if args.get("status") in STATUS_GROUPS else None
    category = None
    snapshot = current_runtime().catalog.get(db)
    code = (args.get("category") or "")[:32]
    if code:  # looked up in the catalog, not the database: any text is harmless there
        category = snapshot.by_code.get(code)
    commune = args.get("commune") if args.get("commune") in communes_of(snapshot) else None
    period = args.get("period") if args.get("period") in PERIODS else None
    since = None
    if period:
        since = period_start(period, datetime.now(UTC))
    chosen = {"status": status, "category": category.code if category else None, "period": period,
              "commune": commune}  # fmt: skip
    return PublicFilter(status, category.id if category else None, since, commune), chosen


def communes_of(snapshot) -> dict[str, str]:
    """Several communes: their names by INSEE code, by name (one town: none)."""
    if not snapshot.several_communes:
        return {}
    return dict(snapshot.communes)


def _before() -> int | None:
    value = request.args.get("before", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


@bp.get("/reports")
def reports():
    """The map (with JavaScript) and the list of public reports, newest first."""
    rt = current_runtime()
    with rt.db.reading() as db:
        f, chosen = _filter(db)
        rows = public_page(db, f, _before(), PAGE_SIZE + 1)
        views = public_reports(db, rows[:PAGE_SIZE])
        snapshot = rt.catalog.get(db)
        categories = list(snapshot.categories)
    more = len(rows) > PAGE_SIZE
    args = {k: v for k, v in chosen.items() if v}
    next_url = None
    if more and views:
        next_url = public_url("public.reports", before=views[-1].number, **args)
    return _render(
        "public/reports.html",
        reports=views,
        chosen=chosen,
        filter_args=args,
        categories=categories,
        communes=communes_of(snapshot),
        periods=PERIODS,
        statuses=STATUS_FILTERS,
        next_url=next_url,
        first_page=_before() is None,
        center=_map_center(snapshot.zones.boundary),
    )


def _map_center(boundary) -> str:
    """The middle of the town's boundary (where the map opens), as "lat,lon,zoom"."""
    if boundary is None:
        return "46.6,2.4,5"
    point = boundary.centroid
    return f"{point.y:.5f},{point.x:.5f},14"


@bp.get("/town.geojson")
def outline():
    """The town's outline (each commune's, or its boundary) that every map draws, so a
    map without tiles still shows where the town is: names and shapes only."""
    rt = current_runtime()
    with rt.db.reading() as db:
        snapshot = rt.catalog.get(db)
    response = jsonify(town_outline(snapshot.zones, snapshot.area_name))
    response.mimetype = "application/geo+json"
    return _cached(response)


@bp.get("/reports.geojson")
def geojson():
    """The public reports inside `bbox=W,S,E,N`: the newest MAP_LIMIT points, and a count."""
    box = _bbox(request.args.get("bbox", ""))
    if box is None:
        return jsonify(error="bbox must be west,south,east,north in degrees"), 400
    lang = language()
    rt = current_runtime()
    with rt.db.reading() as db:
        f, _chosen = _filter(db)
        points, total = public_points_in_box(db, box, f, MAP_LIMIT)
        categories = rt.catalog.get(db).by_id
    # One link built, the others by its pattern: url_for per point is most of the cost.
    link = public_url("public.report", number=0).replace("/0", "/{}", 1)
    names = {i: c.name(lang) for i, c in categories.items()}
    open_statuses = frozenset(STATUS_GROUPS["open"])
    features = [
        {
            "type": "Feature",
            "id": p.number,
            "geometry": {"type": "Point", "coordinates": [round(p.lon, 5), round(p.lat, 5)]},
            "properties": {
                "ref": f"#{p.number}",
                "status": "open" if p.status in open_statuses else "fixed",
                "category": names.get(p.category_id, ""),
                "url": link.format(p.number),
            },
        }
        for p in points
    ]
    body = {
        "type": "FeatureCollection",
        "features": features,
        # How many the box holds (counted up to 10 x the limit; "more" past that).
        "total": total,
        "truncated": len(points) < total,
        "more": total >= 10 * MAP_LIMIT,
    }
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    return _cached(response)


def _bbox(text: str) -> tuple[float, float, float, float] | None:
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError:
        return None
    values = (west, south, east, north)
    if not all(math.isfinite(v) for v in values):
        return None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        return None
    return values


# --- one report ------------------------------------------------------------------------


@bp.get("/reports/<int:number>")
def report(number: int):
    """One public report: what, where, when, its public history, how to follow it."""
    rt = current_runtime()
    with rt.db.reading() as db:
        view = public_report(db, number)
        snapshot = rt.catalog.get(db)
        carries_on = _carries_on(db, number) if view and view.status == Status.DUPLICATE else None
    if view is None:
        abort(404)
    place = view.place  # the public place only: a drawing that needs no JavaScript
    drawing = place_drawing(snapshot.zones, place.lat, place.lon) if place.lat is not None else None
    return _render("public/report.html", report=view, follow=_follow_ways(number),
                   commune=communes_of(snapshot).get(view.commune or ""), drawing=drawing,
                   carries_on=carries_on,
                   merged_line=_merged_line(carries_on) if carries_on else None)  # fmt: skip


def _carries_on(db, number: int) -> int | None:
    """The public report a merged duplicate's news go on in (its merges followed), if any."""
    report = get_report(db, number)
    for _hop in range(10):
        if report is None or report.duplicate_of_id is None:
            break
        report = get_report(db, report.duplicate_of_id)
    if report is None or report.id == number or report.status == Status.DUPLICATE or report.hidden:
        return None
    return report.id


def _merged_line(number: int) -> Markup:
    """'This report was merged with #1011.', the number a link to that report's page."""
    link = Markup('<a href="{}">#{}</a>').format(public_url("public.report", number=number), number)
    text = translate(language(), N_("This report was merged with {ref}."), ref="\0")
    return escape(text).replace("\0", link)


def _follow_ways(number: int) -> list[FollowWay]:
    """A link per channel that starts following: a deep link, or a message to send."""
    return follow_ways(current_runtime().settings, number)


@bp.get("/reports/<int:number>/photos/<int:media_id>")
def photo(number: int, media_id: int):
    """A photo an agent approved, of a report that is not hidden."""
    rt = current_runtime()
    with rt.db.reading() as db:
        item = approved_photo(db, media_id)
    if item is None or item.report_id != number:
        abort(404)
    return photo_response(rt.settings, item.path, item.content_type, public=True)


# --- the feed --------------------------------------------------------------------------


@bp.get("/reports.atom")
def feed():
    """The latest public changes as Atom, for a local paper or the town's site."""
    rt = current_runtime()
    with rt.db.reading() as db:
        numbers = latest_public_changes(db, FEED_SIZE)
        views = public_reports(db, reports_with_catalog(db, numbers))
        town = rt.catalog.get(db).area_name
    lang = language()
    base = rt.settings.PUBLIC_BASE_URL.rstrip("/")
    body = render_template(
        "public/feed.xml",
        reports=views,
        lang=lang,
        t=lambda msgid, **values: translate(lang, msgid, **values),
        town=town,
        base=base,
        updated=max((v.updated_at for v in views), default=datetime(2026, 1, 1, tzinfo=UTC)),
        iso=_iso,
        summary=_summary,
    )
    return _cached(Response(_xml_chars(body), mimetype="application/atom+xml"))


# XML 1.0 cannot hold control characters nor U+FFFE and U+FFFF (an Atom reader refuses the
# whole feed): words stored before the console dropped them on entry are cleaned here.
_NOT_XML = dict.fromkeys((0xFFFE, 0xFFFF))


def _xml_chars(text: str) -> str:
    return clean_text(text).translate(_NOT_XML)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _summary(view: PublicReport, lang: str) -> str:
    parts = [view.category_names[lang], view.status_names[lang]]
    if view.place.label:
        parts.append(view.place.label)
    if view.latest_words:
        parts.append(view.latest_words)
    return " · ".join(parts)
