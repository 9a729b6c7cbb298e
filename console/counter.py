"""A report filed at the counter or on the phone: "New report" (/console/reports/new).

A resident who comes to the town hall's desk or calls it gets what the chat's users get:
a number, the queue, the news on their channel (services/counter.py does the filing).
The page works without JavaScript: a typed place is looked up when the form is sent
(before the transaction); the map only fills the coordinates. What the agent typed stays
in the form when something is wrong; a photo must be chosen again (browsers never keep
a file field), and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from console import bp
from console.queue import lang
from console.security import UPLOAD_LIMITS
from models.report import EventKind
from services import counter
from services.counter import CounterError, Lookup, Place
from services.media import MAX_PHOTO_BYTES, PhotoError, drop_upload, keep_upload
from services.runtime import current_runtime
from services.storage import StoreUnavailable
from services.types import clean_text

ENDPOINT = "console.file_new_report"  # the form's POST
# A photo a little over the cap still arrives whole, so the form keeps what was typed
# and says the photo is too large; past this the request itself is refused.
UPLOAD_LIMITS[ENDPOINT] = 3 * MAX_PHOTO_BYTES
NONE = "none"  # the resident wants no news
WAY_LABELS = {counter.COUNTER: _l("At the counter"), counter.PHONE_CALL: _l("On the phone")}
# The history's first line, by how the report came in (the agent's name follows).
FILED_BY = {
    counter.COUNTER: _l("Filed at the counter by %(name)s"),
    counter.PHONE_CALL: _l("Filed on the phone by %(name)s"),
}
PHOTO_ERRORS = {
    "too_big": _l("This photo is too large (the limit is %(limit)d MB). Choose a smaller one."),
    "too_many_pixels": _l("This photo has too many pixels. Choose a smaller version of it."),
    "not_image": _l("This file is not a photo we can use (JPEG, PNG or WebP)."),
}
PLACE_PROBLEMS = {
    "not_found": _l(
        "“%(place)s” was not found in the town. Correct it, pick the place on the map, "
        "or tick “Keep the place as typed”."
    ),
    "outside": _l("This place is outside the area the service covers (%(area)s)."),
    "elsewhere": _l(
        "This address is in %(area)s, outside the town. Correct it or pick on the map."
    ),
    "choose": _l("Several places match: choose one below, or correct the place."),
}


@dataclass
class Entry:
    """What the agent typed (shown again as it was), and what is wrong with it."""

    way_in: str = counter.COUNTER
    category: str = ""
    description: str = ""
    place: str = ""
    lat: str = ""
    lon: str = ""
    keep_typed: bool = False
    choice: str = ""
    contact: str = NONE
    addresses: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    choices: list[Place] = field(default_factory=list)


@bp.get("/reports/new")
def new_report():
    """Shows the form to file a report for a resident."""
    return _page(Entry())


@bp.post("/reports/new")
def file_new_report():
    """Files the report for the resident, or shows the form again with what is wrong."""
    rt = current_runtime()
    entry = _read()
    with rt.db.reading() as db:
        snapshot = rt.catalog.get(db)
    category, contact, place = _check(rt, snapshot, entry)
    photo = request.files.get("photo")
    data = photo.read() if photo is not None and photo.filename else b""
    if entry.errors:
        if data:
            entry.errors.setdefault("photo", _("Choose the photo again before sending."))
        return _page(entry, 400)
    upload = None
    if data:
        try:
            if len(data) > MAX_PHOTO_BYTES:
                raise PhotoError("too_big")
            upload = keep_upload(data, rt.settings)
        except PhotoError as exc:
            entry.errors["photo"] = _photo_error(exc.reason)
            return _page(entry, 400)
        except StoreUnavailable:
            entry.errors["photo"] = _("The photo could not be saved just now: send it again.")
            return _page(entry, 503)
    try:
        with rt.db.transaction() as db:
            filed = counter.file_for_resident(
                db, rt.settings, rt.catalog.get(db), agent_id=current_user.id,
                scope=current_user.scope, way_in=entry.way_in, category=category,
                description=entry.description, place=place, contact=contact, upload=upload,
            )  # fmt: skip
            number = filed.report.id
    except CounterError as exc:
        if upload is not None:
            drop_upload(rt.settings, upload)
        entry.errors[exc.field] = _(exc.text, **exc.values)
        return _page(entry, 403 if exc.field == "category" else 400)
    rt.wake_worker()
    _say_filed(filed, number, place)
    return redirect(url_for("console.report_page", number=number))


def _read() -> Entry:
    form = request.form
    return Entry(
        way_in=form.get("way_in", counter.COUNTER),
        category=form.get("category", ""),
        description=clean_text(form.get("description", "")).strip(),
        place=clean_text(form.get("place", "")).strip(),
        lat=form.get("lat", "").strip(),
        lon=form.get("lon", "").strip(),
        keep_typed=form.get("keep_typed") == "1",
        choice=form.get("choice", ""),
        contact=form.get("contact", NONE),
        addresses=_addresses(form),
    )


def _addresses(form) -> dict[str, str]:
    """The addresses typed for each channel (address_sms, address_email...)."""
    return {
        k.removeprefix("address_"): v.strip()[:255]
        for k, v in form.items()
        if k.startswith("address_")
    }


def _check(rt, snapshot, entry: Entry):
    """Reads the category, the contact and the place; the errors go in `entry.errors`."""
    errors = entry.errors
    category = next((c for c in _categories(snapshot) if str(c.id) == entry.category), None)
    if category is None:
        errors["category"] = _("Choose a category.")
    if entry.way_in not in counter.WAYS_IN:
        errors["way_in"] = _("Say how the resident reached the town hall.")
    if not entry.description:
        errors["description"] = _("Describe the problem.")
    elif len(entry.description) > counter.MAX_DESCRIPTION:
        errors["description"] = _(
            "The description is too long (%(n)d characters; at most %(max)d).",
            n=len(entry.description),
            max=counter.MAX_DESCRIPTION,
        )
    contact = None
    if entry.contact != NONE:
        try:
            address = entry.addresses.get(entry.contact, "")
            contact = (entry.contact, counter.read_contact(rt.settings, entry.contact, address))
        except CounterError as exc:
            errors[exc.field] = _(exc.text, **exc.values)
    place = None
    if not errors:  # the geocoder is asked only for a form otherwise complete
        place = _place(rt, snapshot, entry, idea=bool(category and category.is_idea))
    return category, contact, place


def _place(rt, snapshot, entry: Entry, *, idea: bool) -> Place | None:
    """The place from the map's pin, a place picked among several, or the typed one."""
    try:
        if entry.lat or entry.lon:
            place = counter.pinned(snapshot, *_coordinates(entry.lat, entry.lon))
            return counter.named(rt, place)
        if entry.choice:
            lat, lon, label = entry.choice.split(",", 2)
            place = counter.pinned(snapshot, *_coordinates(lat, lon))
            return Place(place.lat, place.lon, label.strip()[:255] or None, True)
    except CounterError as exc:
        entry.errors["place"] = _(exc.text, **exc.values)
        return None
    except ValueError:
        entry.errors["place"] = _("These coordinates are not valid: pick the place on the map.")
        return None
    if len(entry.place) < counter.MIN_PLACE:
        if not entry.place and idea:
            return None  # an idea may be about no place in particular
        entry.errors["place"] = _("Type the address or a landmark, or pick it on the map.")
        return None
    if entry.keep_typed:
        return counter.typed(entry.place)
    lookup = counter.find_place(rt, snapshot, entry.place)
    return _looked_up(entry, lookup)


def _looked_up(entry: Entry, lookup: Lookup) -> Place | None:
    if lookup.place is not None:
        if lookup.unavailable:
            flash(_("The address could not be checked now: it is kept as typed, and will "
                    "be placed on the map later."), "info")  # fmt: skip
        return lookup.place
    if lookup.choices:
        entry.choices = lookup.choices
        entry.errors["place"] = str(PLACE_PROBLEMS["choose"])
        return None
    entry.errors["place"] = str(PLACE_PROBLEMS[lookup.problem or "not_found"]) % {
        "place": entry.place,
        "area": lookup.area,
    }
    return None


def _coordinates(lat: str, lon: str) -> tuple[float, float]:
    point = float(lat.replace(",", ".")), float(lon.replace(",", "."))
    if not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
        raise ValueError(lat)
    return point


def _categories(snapshot) -> list:
    """The town's categories whose reports this agent works (all of them for an admin)."""
    services = current_user.scope.services
    return [c for c in snapshot.categories if services is None or c.service_id in services]


def _photo_error(reason: str) -> str:
    text = PHOTO_ERRORS.get(reason, PHOTO_ERRORS["not_image"])
    return str(text) % {"limit": MAX_PHOTO_BYTES // (1024 * 1024)}


def _say_filed(filed, number: int, place: Place | None) -> None:
    if filed.reached:
        flash(_("Report #%(n)d is filed; the resident will receive its number.", n=number),
              "success")  # fmt: skip
    elif filed.opted_out:
        flash(_("Report #%(n)d is filed. This number asked for no more messages (STOP): the "
                "resident will receive nothing.", n=number), "info")  # fmt: skip
    else:
        flash(_("Report #%(n)d is filed. Give the resident its number.", n=number), "success")


def _page(entry: Entry, status: int = 200):
    rt = current_runtime()
    with rt.db.reading() as db:
        snapshot = rt.catalog.get(db)
    language = lang()
    categories = [(c.id, c.name(language), c.is_idea) for c in _categories(snapshot)]
    contacts = [(c.name, c.label(language), c.typed_by_agent)
                for c in counter.contact_channels(rt.settings)]  # fmt: skip
    return render_template(
        "console/counter.html",
        entry=entry,
        categories=categories,
        contacts=contacts,
        way_labels=WAY_LABELS,
        none=NONE,
        max_description=counter.MAX_DESCRIPTION,
        photo_limit=MAX_PHOTO_BYTES // (1024 * 1024),
    ), status


def filed_by(report, events, lookups) -> dict:
    """The history's label of a report an agent filed: "Filed at the counter by Claire
    Martin" (an event label for the report page); nothing for the others."""
    label = FILED_BY.get(report.channel)
    agent = next((e.agent_id for e in events if e.kind == EventKind.CREATED and e.agent_id), None)
    if label is None or agent is None:
        return {}
    return {EventKind.CREATED: str(label) % {"name": lookups.agent_name(agent)}}


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """A photo far over the limit: the form says so (what was typed could not be read)."""
    if request.endpoint != ENDPOINT:
        return error
    entry = Entry()
    entry.errors["photo"] = _photo_error("too_big") + " " + _("Nothing was filed.")
    return _page(entry, 413)
