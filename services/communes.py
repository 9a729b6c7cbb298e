"""Several communes in one deployment (an intercommunalité): adding one, routing one of
its categories to its own service, attaching agents to communes. Each change writes its
audit row in the caller's transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shapely.geometry import Point, shape
from shapely.prepared import prep
from sqlmodel import Session

from models import daily_figure
from models.catalog import category_by_code, service_by_code
from models.commune import (
    boundaries_without_commune,
    commune_by_insee,
    communes,
    give_placeless_reports_commune,
    give_reports_commune,
    placed_reports_without_commune,
    set_agent_communes,
    set_route,
)
from models.settings import get_setting, set_setting
from models.zone import BOUNDARY, Zone, zone_by_name
from services import placing
from services.audit import Action, Actor, Thing, changed, record
from services.catalog import INTERCOMMUNALITY

# INSEE codes: five characters, digits but for Corsica's 2A/2B (35360 Vitré, 2A004 Ajaccio).
INSEE_RE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")


class CommuneError(ValueError):
    """A commune setting that cannot be used; the message says why, for the admin."""


@dataclass(frozen=True)
class Added:
    zone: Zone
    # The first commune added to a running town: the town itself, made a commune first,
    # and how many of its reports were given to it.
    town: Zone | None = None
    town_reports: int = 0


def add_commune(session: Session, actor: Actor, insee: str, name: str, boundary: Path) -> Added:
    """Adds (or updates) a commune: its boundary zone, named as citizens read it. The first
    one added to a running town makes the town its first commune (town_as_commune)."""
    insee = insee.strip().upper()
    if not INSEE_RE.match(insee):
        raise CommuneError(f"{insee!r} is not an INSEE code (five digits, 2A/2B in Corsica).")
    town, moved = town_as_commune(session, actor) if not communes(session) else (None, 0)
    namesake = zone_by_name(session, name, BOUNDARY)
    if namesake is not None and namesake.insee not in (None, insee):
        raise CommuneError(f"The commune {namesake.insee} is named {name!r}: pick another name.")
    zone = commune_by_insee(session, insee)
    if zone is not None and zone.name != name:
        zone.name = name  # renamed: import_zone replaces the zone of the new name
        session.add(zone)
        session.flush()
    zone, _created = placing.import_zone(session, Path(boundary), BOUNDARY, name)
    before = {"insee": zone.insee}
    zone.insee = insee
    session.add(zone)
    session.flush()
    record(session, actor, Thing.ZONE, f"commune {name} ({insee})", Action.UPDATED,
           changed(before, {"insee": insee}))  # fmt: skip
    return Added(zone, town, moved)


def town_as_commune(session: Session, actor: Actor) -> tuple[Zone | None, int]:
    """Makes a lone town (its settings' town_insee, its boundary zone) a commune, and
    gives it its reports: those placed inside its boundary and those with no place yet
    (filed with the town, they are the town's). Else, once a second commune exists, the
    town would be missing from the communes: from their list, from Open311's
    jurisdiction_id and from routing. Returns the zone and how many reports it got (None
    when the town has no INSEE code or no boundary: nothing to make a commune of)."""
    code = str(get_setting(session, "town_insee") or "").strip().upper()
    zone = _town_boundary(session, str(get_setting(session, "town_name") or ""))
    if not INSEE_RE.match(code) or zone is None or commune_by_insee(session, code) is not None:
        return None, 0
    zone.insee = code
    session.add(zone)
    session.flush()
    area = prep(shape(zone.geometry))
    inside = [n for n, lat, lon in placed_reports_without_commune(session)
              if area.covers(Point(lon, lat))]  # fmt: skip
    moved = give_reports_commune(session, inside, code)
    moved += give_placeless_reports_commune(session, code)
    if moved:  # written in bulk, past the per-report bookkeeping of the dashboard's rows
        daily_figure.backfill(session.connection())
    record(session, actor, Thing.ZONE, f"commune {zone.name} ({code})", Action.UPDATED,
           changed({"insee": None, "reports": 0}, {"insee": code, "reports": moved}))  # fmt: skip
    return zone, moved


def _town_boundary(session: Session, town_name: str) -> Zone | None:
    """The town's boundary zone: the one named as the town, else the only one there is."""
    zones = boundaries_without_commune(session)
    named = [zone for zone in zones if zone.name == town_name]
    if named:
        return named[0]
    return zones[0] if len(zones) == 1 else None


def name_intercommunality(session: Session, actor: Actor, name: str) -> None:
    """Names the intercommunalité (Vitré Communauté): the welcome, the refusals and the
    launch kit say it when there are several communes. An empty name: their list instead."""
    name = " ".join(name.split())
    if len(name) > 120:
        raise CommuneError("The name is too long (120 characters at most).")
    before = get_setting(session, INTERCOMMUNALITY) or None
    set_setting(session, INTERCOMMUNALITY, name or None)
    record(session, actor, Thing.ZONE, "intercommunalité", Action.UPDATED,
           changed({"name": before}, {"name": name or None}))  # fmt: skip


def route(session: Session, actor: Actor, insee: str, category: str, service: str | None) -> None:
    """Sends a category of this commune to one of its own services (None: the shared one)."""
    if commune_by_insee(session, insee) is None:
        raise CommuneError(f"No commune {insee!r}: add it first (webleads commune add).")
    found = category_by_code(session, category)
    if found is None:
        raise CommuneError(f"No category {category!r}.")
    service_id = None
    if service is not None:
        target = service_by_code(session, service)
        if target is None:
            raise CommuneError(f"No service {service!r}.")
        service_id = target.id
    set_route(session, insee, found.id, service_id)
    record(session, actor, Thing.CATEGORY, f"{category} in {insee}", Action.UPDATED,
           changed({"service": None}, {"service": service or "shared"}))  # fmt: skip


def attach_agent(session: Session, actor: Actor, agent_id: int, codes: list[str]) -> None:
    """Limits what an agent sees to these communes (none: every commune)."""
    unknown = [c for c in codes if commune_by_insee(session, c) is None]
    if unknown:
        raise CommuneError(f"No commune {', '.join(unknown)}.")
    set_agent_communes(session, agent_id, codes)
    record(session, actor, Thing.AGENT, str(agent_id), Action.UPDATED,
           changed({"communes": None}, {"communes": sorted(codes) or "all"}))  # fmt: skip
