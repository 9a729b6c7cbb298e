"""Admin changes to how the service runs: services, categories, templates, zones, API keys.

Each function saves one change and writes its audit row (services/audit.py) in the caller's
transaction: both are kept, or neither. The console's admin pages and the CLI call these
rather than adding rows themselves. Agents and roles: services/agents.py; the pilot:
services/pilot.py.
"""

from __future__ import annotations

from pathlib import Path

from shapely.geometry import shape
from sqlmodel import Session

from models.api_key import ApiKey, KeyView, create_key, key_by_name, revoke_key
from models.catalog import Category, Service
from models.commune import commune_by_insee
from models.console import ResponseTemplate
from models.zone import Zone, zone_by_name
from services import placing
from services.audit import Action, Actor, Thing, changed, record

SERVICE_FIELDS = ("code", "name_fr", "name_en", "active")
CATEGORY_FIELDS = (
    "code",
    "name_fr",
    "name_en",
    "service_id",
    "kind",
    "sla_hours",
    "photo_required",
    "ask_if_fixed",
    "description_public",
    "position",
    "active",
    "keywords",
    "questions",
    "urgent_by_default",
    "urgent_sla_hours",
)
TEMPLATE_FIELDS = ("title", "status", "category_id", "body", "active")


class AdminError(ValueError):
    """An admin change that cannot be made; the message says why."""


# --- services, categories, response templates ------------------------------------------


def save_service(session: Session, actor: Actor, service_id: int | None, **fields) -> Service:
    """Creates a service (no id) or changes one, and writes what changed."""
    service = _existing(session, Service, service_id) or Service(code="", name_fr="", name_en="")
    _save(session, actor, Thing.SERVICE, service, SERVICE_FIELDS, fields)
    return service


def save_category(session: Session, actor: Actor, category_id: int | None, **fields) -> Category:
    """Creates a category (no id) or changes one (its SLA, service, menu...), and writes it."""
    category = _existing(session, Category, category_id) or Category(
        code="", name_fr="", name_en="", service_id=fields.get("service_id")
    )
    _save(session, actor, Thing.CATEGORY, category, CATEGORY_FIELDS, fields)
    return category


def save_template(
    session: Session, actor: Actor, template_id: int | None, **fields
) -> ResponseTemplate:
    """Creates a response template (no id) or changes one, and writes what changed."""
    template = _existing(session, ResponseTemplate, template_id) or ResponseTemplate(
        title="", body=""
    )
    _save(session, actor, Thing.TEMPLATE, template, TEMPLATE_FIELDS, fields)
    return template


def _existing(session: Session, model: type, item_id: int | None):
    if item_id is None:
        return None
    item = session.get(model, item_id)
    if item is None:
        raise AdminError(f"No {model.__name__.lower()} #{item_id}.")
    return item


def _save(session: Session, actor: Actor, thing: Thing, item, names: tuple, fields: dict) -> None:
    """Sets `fields` on the item, saves it, and writes the fields that changed."""
    unknown = set(fields) - set(names)
    if unknown:
        raise TypeError(f"{thing} has no field {', '.join(sorted(unknown))}")
    created = item.id is None
    before = {} if created else _readable(session, item, names)
    for name, value in fields.items():
        setattr(item, name, value.strip() if isinstance(value, str) else value)
    session.add(item)
    session.flush()
    after = _readable(session, item, names)
    action = Action.CREATED if created else Action.UPDATED
    record(session, actor, thing, _name_of(item), action, changed(before, after))


def _readable(session: Session, item, names: tuple) -> dict:
    """The item's fields as an admin reads them: a service or category by its code."""
    values = {}
    for name in names:
        value = getattr(item, name)
        if name == "service_id":
            name, value = "service", _code(session, Service, value)
        elif name == "category_id":
            name, value = "category", _code(session, Category, value)
        values[name] = value
    return values


def _code(session: Session, model: type, item_id: int | None) -> str | None:
    item = session.get(model, item_id) if item_id is not None else None
    return item.code if item is not None else None


def _name_of(item) -> str:
    return getattr(item, "code", None) or getattr(item, "title", "")


# --- zones -------------------------------------------------------------------------------


def add_zone(session: Session, actor: Actor, name: str, kind: str, geometry: dict) -> Zone:
    """Adds a zone (boundary or pilot) from a checked GeoJSON geometry, and writes it."""
    zone = Zone(name=name.strip(), kind=kind, geometry=geometry)
    session.add(zone)
    session.flush()
    record(
        session, actor, Thing.ZONE, _zone_name(zone), Action.CREATED, changed({}, _zone_state(zone))
    )
    return zone


def import_zone(
    session: Session, actor: Actor, path: str | Path, kind: str, name: str
) -> tuple[Zone, bool]:
    """Loads a GeoJSON file as a zone, replacing one of the same name and kind; writes it."""
    old = zone_by_name(session, name, kind)
    before = _zone_state(old) if old is not None else {}
    zone, created = placing.import_zone(session, Path(path), kind, name)
    action = Action.CREATED if created else Action.UPDATED
    record(session, actor, Thing.ZONE, _zone_name(zone), action, changed(before, _zone_state(zone)))
    return zone, created


def set_zone_active(session: Session, actor: Actor, zone: Zone, active: bool) -> Zone:
    """Turns a zone on or off (a pilot zone off opens its part of town), and writes it."""
    before = zone.active
    zone.active = active
    session.add(zone)
    session.flush()
    changes = changed({"active": before}, {"active": active})
    record(session, actor, Thing.ZONE, _zone_name(zone), Action.UPDATED, changes)
    return zone


def _zone_name(zone: Zone) -> str:
    return f"{zone.name} ({zone.kind})"


def _zone_state(zone: Zone) -> dict:
    """A zone as the audit trail keeps it: the polygon summed up, not its every point."""
    return {"kind": zone.kind, "active": zone.active, "geometry": area_summary(zone.geometry)}


def area_summary(geometry: dict) -> str:
    """`Polygon, 5 points, 48.1000..48.1400 N, -1.2400..-1.1800 E`."""
    area = shape(geometry)
    west, south, east, north = area.bounds
    points = len(_points(geometry["coordinates"]))
    return (
        f"{geometry['type']}, {points} points, {south:.4f}..{north:.4f} N, {west:.4f}..{east:.4f} E"
    )


def _points(coordinates) -> list:
    if coordinates and isinstance(coordinates[0], int | float):
        return [coordinates]
    return [p for part in coordinates for p in _points(part)]


# --- Open311 API keys --------------------------------------------------------------------


def create_api_key(
    session: Session,
    actor: Actor,
    name: str,
    *,
    view: KeyView = KeyView.PUBLIC,
    communes: list[str] | tuple[str, ...] = (),
) -> tuple[ApiKey, str]:
    """Creates the key of the tool `name`, reading `view` in `communes` (none: all);
    returns it (shown once), writes that it exists and its scope."""
    name = name.strip()
    if not name:
        raise AdminError("Give the key a name (the tool that uses it).")
    if key_by_name(session, name) is not None:
        raise AdminError(f"A key named {name!r} exists; revoke it or pick another name.")
    codes = sorted({code.strip().upper() for code in communes if code.strip()})
    unknown = [code for code in codes if commune_by_insee(session, code) is None]
    if unknown:
        raise AdminError(f"No commune {', '.join(unknown)} (webleads commune list).")
    row, key = create_key(session, name, view=view, communes=codes)
    # The hint (the first characters) tells keys apart; the key itself is never written.
    changes = {
        "active": [None, True],
        "hint": [None, row.hint],
        "view": [None, row.view],
        "communes": [None, codes or "all"],
    }
    record(session, actor, Thing.API_KEY, name, Action.CREATED, changes)
    return row, key


def revoke_api_key(session: Session, actor: Actor, name: str) -> bool:
    """Revokes the active key named `name` (False: there is none), and writes it."""
    revoked = revoke_key(session, name.strip())
    if revoked:
        changes = {"active": [True, False]}
        record(session, actor, Thing.API_KEY, name.strip(), Action.UPDATED, changes)
    return revoked
