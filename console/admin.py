"""Admin pages (admin role only): services, categories, agents, templates, zones."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from shapely.geometry import shape
from shapely.validation import explain_validity
from sqlalchemy.exc import IntegrityError

from console import bp
from console.auth import admin_required
from console.forms import (
    AgentForm,
    CategoryForm,
    DangerWordsForm,
    ServiceForm,
    TemplateForm,
    ZoneForm,
)
from console.present import PLACEHOLDERS, STATUS_LABELS
from console.queue import lang
from models.agent import Agent, agent_by_email
from models.catalog import Category, Service, all_categories, all_services
from models.console import ResponseTemplate, all_templates
from models.console_queries import all_agents, service_ids_by_agent
from models.question import questions_of
from models.zone import Zone, all_zones
from services import admin, urgency
from services.agents import edit_agent
from services.audit import Actor
from services.nlu import reader as nlu_reader
from services.runtime import current_runtime

MAX_ZONE_BYTES = 512 * 1024  # within the app's 1 MB body limit


@dataclass(frozen=True)
class Section:
    key: str
    title: object
    model: type
    form: type


SECTIONS = {
    "services": Section("services", _l("Services"), Service, ServiceForm),
    "categories": Section("categories", _l("Categories"), Category, CategoryForm),
    "agents": Section("agents", _l("Agents"), Agent, AgentForm),
    "templates": Section("templates", _l("Response templates"), ResponseTemplate, TemplateForm),
}
QUESTION_SLOT = ("kind", "fr", "en", "options", "urgent")
QUESTION_HELP = {
    "options": _l(
        "For a choice only: one choice per line, in French then English after a slash "
        "(Feu tricolore / Traffic light)."
    ),
    "urgent": _l(
        "Leave empty, or: “oui” (a yes makes the report urgent), a number (an answer above "
        "it does), or the choices that do, comma-separated (Feu tricolore)."
    ),
}
# What a setting does that its label cannot say, shown under its field.
FIELD_HELP = {
    **{f"q{n}_{name}": text for n in (1, 2) for name, text in QUESTION_HELP.items()},
    "urgent_by_default": _l(
        "Its reports open the queue and have the urgent deadline below; the resident is told "
        "so. An answer to its questions or a danger word in the message can make any report "
        "urgent too."
    ),
    "keywords": _l(
        "What residents call it, comma-separated: words such as 'lampadaire, éclairage' "
        "or the keys of the shipped examples (streetlight, pothole, graffiti...). The bot "
        "reads a resident's first message with them; try a sentence on the reader's page."
    ),
    "description_public": _l(
        "Public by default: once an agent has opened a report in the console, the citizen's "
        "words are shown on the public site and in Open311, with the names, phone numbers "
        "and e-mail addresses we recognise taken out. Names, addresses and numbers the "
        "citizen typed in another way may remain: on the report's page, an agent can "
        "withhold the words or write the public text instead."
    ),
}


@bp.get("/admin")
@admin_required
def admin_home():
    return redirect(url_for("console.admin_list", section="categories"))


@bp.get("/admin/<section>")
@admin_required
def admin_list(section: str):
    """Lists one kind of settings, with links to edit them."""
    if section == "zones":
        return _zones_page(ZoneForm())
    spec = SECTIONS.get(section) or abort(404)
    with current_runtime().db.reading() as db:
        services = {s.id: s for s in all_services(db)}
        categories = {c.id: c for c in all_categories(db)}
        rows = _rows(db, section, services, categories)
    return render_template(
        "console/admin/list.html",
        section=spec,
        sections=admin_nav(),
        rows=rows,
        headers=_headers(section),
    )


# The other admin pages, after the sections: (key, title, endpoint).
PAGES = (
    ("zones", _l("Zones"), "console.admin_list"),
    ("pilot", _l("Pilot"), "console.admin_pilot"),
    ("launch-kit", _l("Launch kit"), "console.admin_launch_kit"),
    ("api-keys", _l("Open311 API keys"), "console.admin_api_keys"),
    ("open311-forwards", _l("Open311 forwards"), "console.admin_open311_forwards"),
    ("bodies", _l("Other bodies"), "console.admin_bodies"),
    ("reader", _l("Free-text reader"), "console.admin_reader"),
    ("danger-words", _l("Danger words"), "console.admin_danger_words"),
    ("oncall", _l("On call"), "console.admin_oncall"),
    ("audit", _l("Audit log"), "console.admin_audit"),
    ("messages", _l("Undelivered messages"), "console.undelivered"),
)


def admin_nav() -> list[tuple[str, object, str]]:
    """The admin tabs: (key, title, URL)."""
    sections = [(k, s.title, url_for("console.admin_list", section=k)) for k, s in SECTIONS.items()]
    pages = [
        (key, title, url_for(endpoint, section=key) if key == "zones" else url_for(endpoint))
        for key, title, endpoint in PAGES
    ]
    return sections + pages


def _headers(section: str) -> list:
    return {
        "services": [_l("Code"), _l("Name"), _l("Active")],
        "categories": [
            _l("Code"),
            _l("Name"),
            _l("Service"),
            _l("SLA (hours)"),
            _l("Photo required"),
            _l("Active"),
        ],
        "agents": [_l("Email"), _l("Name"), _l("Role"), _l("Services"), _l("Active")],
        "templates": [_l("Title"), _l("For the status"), _l("For the category"), _l("Active")],
    }[section]


def _yes(flag: bool) -> str:
    return _("yes") if flag else _("no")


def _rows(db, section: str, services: dict, categories: dict) -> list[tuple[int, list]]:
    name = lambda obj: obj.name(lang()) if obj else _("any")  # noqa: E731
    if section == "services":
        return [(s.id, [s.code, s.name(lang()), _yes(s.active)]) for s in services.values()]
    if section == "categories":
        return [
            (
                c.id,
                [
                    c.code,
                    c.name(lang()),
                    name(services.get(c.service_id)),
                    c.sla_hours,
                    _yes(c.photo_required),
                    _yes(c.active),
                ],
            )
            for c in categories.values()
        ]
    if section == "agents":
        links = service_ids_by_agent(db)
        return [
            (
                a.id,
                [
                    a.email,
                    a.name,
                    a.role,
                    ", ".join(name(services.get(s)) for s in links.get(a.id, [])),
                    _yes(a.active),
                ],
            )
            for a in all_agents(db)
        ]
    return [
        (
            t.id,
            [
                t.title,
                str(STATUS_LABELS.get(t.status, _("any"))) if t.status else _("any"),
                name(categories.get(t.category_id)) if t.category_id else _("any"),
                _yes(t.active),
            ],
        )
        for t in all_templates(db)
    ]


@bp.route("/admin/<section>/new", methods=["GET", "POST"], defaults={"item_id": None})
@bp.route("/admin/<section>/<int:item_id>", methods=["GET", "POST"])
@admin_required
def admin_edit(section: str, item_id: int | None):
    """Creates or edits one service, category, agent or template, with validation."""
    spec = SECTIONS.get(section) or abort(404)
    rt = current_runtime()
    with rt.db.reading() as db:
        item = db.get(spec.model, item_id) if item_id else None
        if item_id and item is None:
            abort(404)
        form = spec.form(obj=item if request.method == "GET" else None)
        _choices(db, form, section, item)
    if form.validate_on_submit():
        try:
            with rt.db.transaction() as db:
                saved = SAVERS[section](db, form, item_id)
        except ValueError as exc:  # AgentError, AdminError, and the savers' own checks
            flash(str(exc), "error")
        except IntegrityError:
            flash(_("That code or email is already used."), "error")
        else:
            if section in ("services", "categories"):
                rt.catalog.invalidate()  # the bot's menus change at once in this process
                nlu_reader.catalog_changed()  # and the reader learns the new keywords
            flash(_("Saved: %(name)s.", name=saved), "success")
            return redirect(url_for("console.admin_list", section=section)), 303
    return render_template(
        "console/admin/form.html",
        section=spec,
        sections=admin_nav(),
        form=form,
        item=item,
        placeholders=PLACEHOLDERS if section == "templates" else (),
        field_help=FIELD_HELP,
    ), 400 if request.method == "POST" else 200


def _choices(db, form, section: str, item) -> None:
    services = [(s.id, s.name(lang())) for s in all_services(db)]
    if section == "categories":
        form.service_id.choices = services
        if request.method == "GET" and item is not None:
            slots = urgency.form_slots(questions_of(item.questions))
            for n, slot in enumerate(slots, 1):
                for name, value in slot.items():
                    getattr(form, f"q{n}_{name}").data = value
    elif section == "agents":
        form.services.choices = services
        if request.method == "GET" and item is not None:
            form.services.data = service_ids_by_agent(db).get(item.id, [])
    elif section == "templates":
        form.status.choices = [("", _("any"))] + [(k, str(v)) for k, v in STATUS_LABELS.items()]
        form.category_id.choices = [("", _("any"))] + [
            (c.id, c.name(lang())) for c in all_categories(db)
        ]
        if request.method == "GET" and item is not None:
            form.status.data = item.status or ""


def _actor() -> Actor:
    return Actor.agent(current_user)


def _save_service(db, form: ServiceForm, item_id: int | None) -> str:
    service = admin.save_service(db, _actor(), item_id, **_code_and_names(form))
    return service.name(lang())


def _code_and_names(form: ServiceForm | CategoryForm) -> dict:
    """What a service and a category both have: a code, a name in each language, active."""
    return {
        "code": form.code.data,
        "name_fr": form.name_fr.data,
        "name_en": form.name_en.data,
        "active": form.active.data,
    }


def _save_category(db, form: CategoryForm, item_id: int | None) -> str:
    category = admin.save_category(
        db,
        _actor(),
        item_id,
        **_code_and_names(form),
        service_id=form.service_id.data,
        kind=form.kind.data,
        sla_hours=form.sla_hours.data,
        photo_required=form.photo_required.data,
        ask_if_fixed=form.ask_if_fixed.data,
        description_public=form.description_public.data,
        position=form.position.data or 0,
        # a form without the field (an older page still open) leaves the keywords as they are
        **({"keywords": form.keywords.data or ""} if "keywords" in request.form else {}),
        **_urgency_fields(db, form, item_id),
    )
    return category.name(lang())


def _urgency_fields(db, form: CategoryForm, item_id: int | None) -> dict:
    """The questions and urgency of a category, when the form had them (services/urgency)."""
    if "q1_kind" not in request.form:
        return {}
    existing = db.get(Category, item_id) if item_id else None
    slots = [{name: getattr(form, f"q{n}_{name}").data for name in QUESTION_SLOT} for n in (1, 2)]
    try:
        questions = urgency.build_questions(slots, questions_of(existing and existing.questions))
    except urgency.QuestionError as exc:
        raise ValueError(_(exc.text, **exc.values)) from exc
    fields = {
        "urgent_by_default": form.urgent_by_default.data,
        "urgent_sla_hours": form.urgent_sla_hours.data or 4,
    }
    if questions != ((existing.questions if existing else None) or []):
        fields["questions"] = questions  # none before (NULL) and none now is no change
    return fields


def _save_agent(db, form: AgentForm, item_id: int | None) -> str:
    email = form.email.data.strip().lower()
    other = agent_by_email(db, email)
    if other is not None and other.id != item_id:
        raise ValueError(_("That code or email is already used."))
    if item_id is None and not form.password.data:
        raise ValueError(_("A new agent needs a password."))
    if item_id == current_user.id and (form.role.data != "admin" or not form.active.data):
        raise ValueError(_("You cannot remove your own admin role or deactivate yourself."))
    agent = edit_agent(
        db,
        _actor(),
        item_id,
        email=email,
        name=form.name.data or "",
        role=form.role.data,
        active=form.active.data,
        service_ids=form.services.data or [],
        password=form.password.data or None,
    )
    return agent.email


def _save_template(db, form: TemplateForm, item_id: int | None) -> str:
    template = admin.save_template(
        db,
        _actor(),
        item_id,
        title=form.title.data,
        status=form.status.data or None,
        category_id=form.category_id.data,
        body=form.body.data,
        active=form.active.data,
    )
    return template.title


SAVERS = {
    "services": _save_service,
    "categories": _save_category,
    "agents": _save_agent,
    "templates": _save_template,
}


# --- zones ---------------------------------------------------------------------------


def _zones_page(form: ZoneForm, status: int = 200):
    with current_runtime().db.reading() as db:
        zones = all_zones(db)
    return render_template(
        "console/admin/zones.html",
        sections=admin_nav(),
        section=None,
        form=form,
        zones=zones,
        geometries=json.dumps(
            [{"name": z.name, "kind": z.kind, "geometry": z.geometry} for z in zones if z.active]
        ),
    ), status


def read_polygon(data: bytes) -> dict:
    """Reads a GeoJSON Polygon or MultiPolygon (bare, Feature or one-feature collection).

    Raises ValueError with a message for the admin when it is not a valid polygon.
    """
    if len(data) > MAX_ZONE_BYTES:
        raise ValueError(_("The file is too big (500 KB at most)."))
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(_("This is not a JSON file.")) from exc
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features") or []
        if len(features) != 1:
            raise ValueError(_("The collection must hold exactly one feature."))
        doc = features[0]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
    if not isinstance(doc, dict) or doc.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValueError(_("The geometry must be a Polygon or a MultiPolygon."))
    try:
        geometry = shape(doc)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(_("The coordinates cannot be read.")) from exc
    if geometry.is_empty or not geometry.is_valid:
        raise ValueError(_("The polygon is not valid: %(why)s", why=explain_validity(geometry)))
    min_lon, min_lat, max_lon, max_lat = geometry.bounds
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ValueError(_("The coordinates must be longitude, latitude (WGS 84)."))
    return {"type": doc["type"], "coordinates": doc["coordinates"]}


@bp.post("/admin/zones")
@admin_required
def admin_zone_upload():
    """Adds a zone from an uploaded GeoJSON file."""
    form = ZoneForm()
    if not form.validate_on_submit():
        return _zones_page(form, 400)
    try:
        geometry = read_polygon(form.geojson.data.read(MAX_ZONE_BYTES + 1))
    except ValueError as exc:
        form.geojson.errors = [str(exc)]
        return _zones_page(form, 400)
    rt = current_runtime()
    with rt.db.transaction() as db:
        admin.add_zone(db, _actor(), form.name.data, form.kind.data, geometry)
    _zones_changed(rt)
    flash(_("Zone “%(name)s” added.", name=form.name.data.strip()), "success")
    return redirect(url_for("console.admin_list", section="zones")), 303


@bp.post("/admin/zones/<int:zone_id>/toggle")
@admin_required
def admin_zone_toggle(zone_id: int):
    """Turns a zone on or off."""
    rt = current_runtime()
    with rt.db.transaction() as db:
        zone = db.get(Zone, zone_id) or abort(404)
        admin.set_zone_active(db, _actor(), zone, not zone.active)
    _zones_changed(rt)
    return redirect(url_for("console.admin_list", section="zones")), 303


def _zones_changed(rt) -> None:
    """The bot reads the zones with the catalog: reload it in this process now."""
    rt.catalog.invalidate()


# --- danger words (services/urgency.py) -------------------------------------------------


@bp.route("/admin/danger-words", methods=["GET", "POST"])
@admin_required
def admin_danger_words():
    """The words that make a report urgent when its message names them (audited)."""
    rt = current_runtime()
    form = DangerWordsForm()
    if form.validate_on_submit():
        with rt.db.transaction() as db:
            saved = urgency.set_danger_words(db, _actor(), form.words.data or "")
        rt.catalog.invalidate()
        flash(_("Saved: %(name)s.", name=_("%(n)d danger words", n=len(saved))), "success")
        return redirect(url_for("console.admin_danger_words")), 303
    if request.method == "GET":
        with rt.db.reading() as db:
            form.words.data = "\n".join(urgency.danger_words(rt.catalog.get(db).settings))
    return render_template(
        "console/admin/danger_words.html", sections=admin_nav(), section=None, form=form
    ), 400 if request.method == "POST" else 200
