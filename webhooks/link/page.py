"""The one-time page an SMS citizen opens (/r/<token>) to add a photo and a pin.

An SMS carries neither a picture (no inbound MMS in France) nor a location, so the done
message of an SMS report brings a signed link (services.links): 24 hours, that report and
its author only, used once. A photo is checked from its headers here, kept as sent, and
decoded by the worker (bot/jobs.py, a LINK_PHOTO job): the page answers at once and a
picture slow to decode never holds a web worker. The page works on any phone browser: a
file field for the photo, a Leaflet map (the console's copy,
console/static/vendor/leaflet, never a CDN) to drop the pin, coordinates that can be
typed, and no JavaScript needed for the photo. When the map tiles cannot load (no
network to the tile server, MAP_TILES_URL=none), the pin still works on a blank map and
the photo alone can be sent.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from models.db import utcnow
from models.jobs import PHOTO_JOBS_PER_CITIZEN, JobKind, photo_jobs_pending, queue_job
from models.messaging import inbound_seen, record_inbound
from models.report import get_report, lock_report, pin_report, report_author
from services import reports
from services.geo import GeocoderUnavailable, geocoder_enabled, needs_network
from services.links import LINK_PATH, LinkClaim, LinkError, read_token
from services.maps import map_tiles
from services.media import MAX_PHOTO_BYTES, PhotoError, drop_upload, keep_upload
from services.runtime import Runtime, current_runtime
from services.storage import StoreUnavailable
from services.texts import N_, pick_language, translate

log = logging.getLogger(__name__)

# record_inbound's channel for used links: a link's id is recorded like a message id.
USED_LINKS = "link"
# The photo plus a little form around it; phones' pictures are a few MB.
MAX_UPLOAD_BYTES = MAX_PHOTO_BYTES + 64 * 1024
# Degrees (about 50 m): a town's official outline may have thousands of points.
OUTLINE_TOLERANCE = 0.0005

bp = Blueprint(
    "link",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/r-static",
)

# Every text of the page (the citizen's language, French by default).
TEXTS = {
    "title": N_("Your report {ref}"),
    "intro": N_("Add a photo and show on the map where the problem is. Both are optional."),
    "photo": N_("Photo"),
    "photo_help": N_("Take a picture or choose one (JPEG, PNG or WebP, up to {limit} MB)."),
    "place": N_("Place"),
    "place_help": N_("Tap the map where it is, then drag the pin if needed."),
    "locate": N_("Use my position"),
    "locating": N_("Looking for your position..."),
    "no_position": N_("Your position is not available: tap the map instead."),
    "pin_set": N_("Pin placed."),
    "no_pin": N_("No pin yet."),
    "current_place": N_("Place known so far: {place}"),
    "coordinates": N_("Or type the coordinates"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "tiles_failed": N_(
        "The map background cannot be shown. You can still tap to place the pin, "
        "or just send the photo."
    ),
    "submit": N_("Send"),
    "single_use": N_("This page can be sent once."),
    "done_title": N_("Thank you!"),
    "done_photo": N_("Your photo was received: it will appear on {ref} in a moment."),
    "done_pin": N_("{ref} is now placed on the map."),
    "done_next": N_("You will get the updates of {ref} by SMS, as before."),
    "nothing": N_("Add a photo or place the pin before sending."),
    "bad_coordinates": N_("These coordinates are not valid: tap the map instead."),
    "outside": N_("This place is outside the area the service covers ({area})."),
    "too_big": N_("This picture is too large (the limit is {limit} MB). Choose a smaller one."),
    "too_many_pixels": N_(
        "This picture is too large (too many pixels). Choose a smaller version of it."
    ),
    "not_image": N_("This file is not a picture we can use (JPEG, PNG or WebP)."),
    "busy": N_(
        "Your previous photo is still being looked at. Please send this one again in a minute."
    ),
    "store_down": N_(
        "Your photo could not be saved just now; nothing was lost. Please send it again in a "
        "minute."
    ),
    "invalid_title": N_("This link does not work"),
    "invalid": N_("This link is not valid. Check that you opened the whole link from the SMS."),
    "expired_title": N_("This link has expired"),
    "expired": N_(
        "Links to add a photo or a place last 24 hours. Send {ref} by SMS to follow your report."
    ),
    "used_title": N_("This link was already used"),
    "used": N_("The photo or the place of {ref} was already sent with this link. Thank you!"),
    "closed_title": N_("This report is closed"),
    "closed": N_("{ref} is already dealt with: nothing can be added to it now."),
}


class LinkProblem(Exception):
    """Why the page cannot be used: rendered as a page of its own with an HTTP status."""

    def __init__(self, kind: str, status: int, language: str, ref: str = "") -> None:
        super().__init__(kind)
        self.kind, self.status, self.language, self.ref = kind, status, language, ref


@bp.get(LINK_PATH + "<token>")
def page(token: str) -> Response:
    """Shows the form: the report, a photo field and the map."""
    rt = current_runtime()
    try:
        claim = _claim(rt, token)
        with rt.db.reading() as session:
            report, language = _usable_report(rt, session, claim)
            view = _report_view(rt, session, report, language)
    except LinkProblem as problem:
        return _problem_page(rt, problem)
    return _page(rt, "link/page.html", language, view)


@bp.post(LINK_PATH + "<token>")
def submit(token: str) -> Response:
    """Adds the photo and the pin to the report, once."""
    rt = current_runtime()
    request.max_content_length = MAX_UPLOAD_BYTES  # this page only: phones' photos
    try:
        claim = _claim(rt, token)
        with rt.db.reading() as session:
            report, language = _usable_report(rt, session, claim)
            view = _report_view(rt, session, report, language)
        return _receive(rt, claim, language, view)
    except LinkProblem as problem:
        return _problem_page(rt, problem)


def _receive(rt: Runtime, claim: LinkClaim, language: str, view: dict) -> Response:
    """Keeps the photo and the pin and thanks; or shows the form again with what is wrong.

    The photo is checked from its headers (size, format, pixels, a JPEG's scans) and kept
    as sent for the worker, which decodes it; nothing here waits on decoding."""
    try:
        photo_bytes, pin = _read_form()
    except RequestEntityTooLarge:
        return _page(rt, "link/page.html", language, view, error="too_big", status=413)
    error = _check(rt, photo_bytes, pin, view)
    if error is None and photo_bytes and _busy(rt, claim):
        error = "busy"  # one citizen's pictures do not hold every worker thread
    upload = None
    if error is None and photo_bytes:
        try:
            upload = keep_upload(photo_bytes, rt.settings)
        except PhotoError as exc:
            error = exc.reason
        except StoreUnavailable:
            # Nothing was written and the link is still unused: the citizen tries again.
            return _page(rt, "link/page.html", language, view, error="store_down", status=503)
    if error is not None:
        status = 429 if error == "busy" else 400
        return _page(rt, "link/page.html", language, view, error=error, status=status)
    address = _address_of(rt, pin) if pin else None
    try:
        _apply(rt, claim, upload, pin, address, language)
    except LinkProblem:
        if upload is not None:
            drop_upload(rt.settings, upload)
        raise
    rt.wake_worker()
    done = {**view, "photo_added": upload is not None, "pin_added": pin is not None}
    return _page(rt, "link/done.html", language, done)


def _busy(rt: Runtime, claim: LinkClaim) -> bool:
    with rt.db.reading() as session:
        return photo_jobs_pending(session, claim.citizen_id) >= PHOTO_JOBS_PER_CITIZEN


def _claim(rt: Runtime, token: str, read=read_token) -> LinkClaim:
    """What the token says (`read`: the upload page's reader, or the after-photo page's)."""
    language = pick_language(
        request.accept_languages.best_match(["fr", "en"]), rt.settings.DEFAULT_LANGUAGE
    )
    try:
        return read(rt.settings.SECRET_KEY, token)
    except LinkError as exc:
        if exc.reason != "expired":
            raise LinkProblem(exc.reason, 404, language) from exc
        number = token.split("-", 1)[0]  # the signature was right, only too old
        raise LinkProblem("expired", 410, language, f"#{number}") from exc


def _usable_report(rt: Runtime, session, claim: LinkClaim):
    """The report of a valid link, with its author's language; LinkProblem otherwise.

    The link acts for the citizen it was sent to, who must be the report's author: a
    link minted for anyone else (or once the author erased their data) is not valid."""
    report = get_report(session, claim.number)
    if report is None or claim.citizen_id is None or report.citizen_id != claim.citizen_id:
        raise LinkProblem("invalid", 404, rt.settings.DEFAULT_LANGUAGE)
    author = report_author(session, report)
    language = author.language if author else rt.settings.DEFAULT_LANGUAGE
    if inbound_seen(session, USED_LINKS, claim.token_id):
        raise LinkProblem("used", 410, language, report.ref)
    if not report.is_open:
        raise LinkProblem("closed", 410, language, report.ref)
    return report, language


def _report_view(rt: Runtime, session, report, language: str) -> dict:
    """What the page shows of the report, and where the map starts."""
    snapshot = rt.catalog.get(session)
    category = snapshot.by_id.get(report.category_id)
    center = snapshot.town.center or (46.6, 2.4)  # the town, else France
    known = (report.lat, report.lon) if report.lat is not None else None
    place = report.address or (f"{report.lat:.5f}, {report.lon:.5f}" if known else "")
    boundary = snapshot.zones.boundary
    # The town's outline gives bearings even when the map tiles cannot load.
    from shapely.geometry import mapping  # with numpy: when a page is drawn

    outline = json.dumps(mapping(boundary.simplify(OUTLINE_TOLERANCE))) if boundary else ""
    return {
        "outline": outline,
        "ref": report.ref,
        "category": category.name(language) if category else "",
        "description": report.description[:300],
        "place": place,
        "known": known,
        "center": known or center,
        "zoom": 17 if known else 14,
    }


def _read_form() -> tuple[bytes, tuple[float, float] | str | None]:
    """The uploaded picture's bytes and the pin; the pin is "bad" when unreadable."""
    upload = request.files.get("photo")
    photo = upload.read() if upload is not None and upload.filename else b""
    lat, lon = (request.form.get(k, "").strip().replace(",", ".") for k in ("lat", "lon"))
    if not lat and not lon:
        return photo, None
    try:
        point = float(lat), float(lon)
    except ValueError:
        return photo, "bad"
    if not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
        return photo, "bad"
    return photo, point


def _check(rt: Runtime, photo: bytes, pin, view: dict) -> str | None:
    """Names what is wrong with the form, or None."""
    if pin == "bad":
        return "bad_coordinates"
    if not photo and pin is None:
        return "nothing"
    if pin is not None:
        with rt.db.reading() as session:
            snapshot = rt.catalog.get(session)
        area = snapshot.zones.refusal(pin[0], pin[1], snapshot.area_name)
        if area:
            view["area"] = area
            return "outside"
    return None


def _address_of(rt: Runtime, pin: tuple[float, float]) -> str | None:
    """A readable address for the pin, from a geocoder that needs no network.

    A network geocoder is asked by the worker instead (a NAME_REPORT_PLACE job queued
    with the pin): the citizen's page does not wait on it.
    """
    geocoder = rt.geocoder
    if not geocoder_enabled(rt) or needs_network(geocoder):
        return None
    try:
        place = geocoder.reverse(*pin)
    except GeocoderUnavailable:
        return None  # the pin is what matters; agents see the map
    return place.label if place else None


def _apply(rt: Runtime, claim: LinkClaim, upload: str | None, pin, address,
           language: str) -> None:  # fmt: skip
    """Records the link as used, queues the photo's decoding and pins the report, in one
    transaction, as the citizen the link was sent to."""
    with rt.db.transaction() as session:
        # First, so two submissions racing each other add the photo once.
        if not record_inbound(session, USED_LINKS, claim.token_id):
            raise LinkProblem("used", 410, language, f"#{claim.number}")
        report = lock_report(session, claim.number)
        if report is None or not report.is_open or report.citizen_id != claim.citizen_id:
            raise LinkProblem("closed", 410, language, f"#{claim.number}")
        if upload is not None:
            queue_job(session, JobKind.LINK_PHOTO, {"upload": upload},
                      citizen_id=claim.citizen_id, report_id=report.id)  # fmt: skip
        if pin is not None:
            pin_report(session, report, pin[0], pin[1], address, claim.citizen_id, utcnow())
            reports.settle_commune(session, report, rt.catalog.get(session).zones.commune_at(*pin))
            if address is None and geocoder_enabled(rt) and needs_network(rt.geocoder):
                queue_job(session, JobKind.NAME_REPORT_PLACE, {"lat": pin[0], "lon": pin[1]},
                          report_id=report.id)  # fmt: skip


def _texts(language: str, values: dict) -> dict[str, str]:
    fill = {"limit": MAX_PHOTO_BYTES // (1024 * 1024), "ref": "", "place": "", "area": ""}
    fill.update({k: v for k, v in values.items() if isinstance(v, str | int)})
    return {key: translate(language, msgid).format(**fill) for key, msgid in TEXTS.items()}


def _page(
    rt: Runtime,
    template: str,
    language: str,
    view: dict,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    texts = _texts(language, view)
    body = render_template(
        template,
        t=texts,
        lang=language,
        view=view,
        error=texts.get(error) if error else None,
        tiles=_tiles(rt),
    )
    return _secured(Response(body, status=status), rt)


def _problem_page(rt: Runtime, problem: LinkProblem) -> Response:
    texts = _texts(problem.language, {"ref": problem.ref})
    body = render_template(
        "link/problem.html",
        t=texts,
        lang=problem.language,
        title=texts[f"{problem.kind}_title"],
        message=texts[problem.kind],
    )
    return _secured(Response(body, status=problem.status), rt)


def _tiles(rt: Runtime) -> dict:
    tiles = map_tiles(rt.settings, "link")
    return {"url": tiles.url, "attribution": tiles.attribution}


def _secured(response: Response, rt: Runtime) -> Response:
    """Headers for a page whose URL is a secret: no caching, no leaking, no framing."""
    tiles = _tiles(rt)["url"]
    tile_origin = ""
    if tiles:
        parts = urlsplit(tiles)
        tile_origin = f"{parts.scheme}://{parts.netloc}".replace("{s}.", "*.")
    response.headers["Cache-Control"] = "no-store"
    # Cross-origin requests (the tile server) learn the site, never the token in the path.
    response.headers["Referrer-Policy"] = "strict-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob: {tile_origin}".rstrip()
        + "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response
