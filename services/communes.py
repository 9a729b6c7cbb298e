"""Several communes in one deployment (an intercommunalité): adding one, routing one of
its categories to its own service, attaching agents to communes. Each change writes its
audit row in the caller's transaction."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import Session

from models.catalog import category_by_code, service_by_code
from models.commune import commune_by_insee, set_agent_communes, set_route
from models.settings import get_setting, set_setting
from models.zone import BOUNDARY, Zone
from services import placing
from services.audit import Action, Actor, Thing, changed, record
from services.catalog import INTERCOMMUNALITY

# INSEE codes: five characters, digits but for Corsica's 2A/2B (35360 Vitré, 2A004 Ajaccio).
INSEE_RE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")


class CommuneError(ValueError):
    """A commune setting that cannot be used; the message says why, for the admin."""


def add_commune(session: Session, actor: Actor, insee: str, name: str, boundary: Path) -> Zone:
    """Adds (or updates) a commune: its boundary zone, named as citizens read it."""
    insee = insee.strip().upper()
    if not INSEE_RE.match(insee):
        raise CommuneError(f"{insee!r} is not an INSEE code (five digits, 2A/2B in Corsica).")
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
    return zone


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
