"""An in-process snapshot of the catalog (services, categories, zones, settings, pilot).

Every menu needs the categories; reading them once per message would be a query per
step for data that changes a few times a year. Admin edits call `invalidate()`; other
processes see them within `TTL_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

from models.catalog import PROBLEM, Category, Service, active_categories, all_services
from models.pilot import active_invite_codes, count_allowed
from models.question import Question, questions_of
from models.settings import all_settings
from models.zone import BOUNDARY, PILOT, active_zones
from services.geo import Town, Zones
from services.texts import fold

TTL_SECONDS = 30.0
# With several communes: the intercommunalité's name, as citizens read it (Vitré Communauté).
INTERCOMMUNALITY = "intercommunality_name"


@dataclass(frozen=True)
class CategoryInfo:
    id: int
    code: str
    name_fr: str
    name_en: str
    service_id: int
    kind: str
    sla_hours: int
    photo_required: bool
    ask_if_fixed: bool
    keywords: str = ""  # for the free-text reader (services/nlu)
    questions: tuple[Question, ...] = ()  # asked after the description (handlers/questions)
    urgent_by_default: bool = False
    urgent_sla_hours: int = 4

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_fr

    @property
    def is_idea(self) -> bool:
        return self.kind != PROBLEM


@dataclass(frozen=True)
class ServiceInfo:
    id: int
    code: str
    name_fr: str
    name_en: str

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_fr


# Town settings of the pilot (services/pilot.py), changed from the CLI or the console.
PILOT_ON, PILOT_SERVICES, PILOT_OPENS_ON = "pilot_on", "pilot_services", "pilot_opens_on"


@dataclass(frozen=True)
class PilotRules:
    """What the pilot restricts right now; each rule applies only when it is set up."""

    on: bool = True
    services: frozenset[str] = frozenset()  # service codes offered; empty = all
    codes: frozenset[str] = frozenset()  # active invite codes, folded
    allowlist: bool = False  # some identities are allowlisted
    zones: tuple[str, ...] = ()  # active pilot zones' names
    opens_on: str = ""  # when it opens to everyone, as the town wrote it

    @property
    def groups(self) -> bool:
        """Whether only invited or allowlisted citizens may report."""
        return self.on and (bool(self.codes) or self.allowlist)

    @property
    def restricts(self) -> bool:
        return self.on and (self.groups or bool(self.services) or bool(self.zones))


@dataclass(frozen=True)
class Snapshot:
    categories: tuple[CategoryInfo, ...]  # active ones, in menu order
    by_code: dict[str, CategoryInfo]
    by_id: dict[int, CategoryInfo]
    services: dict[int, ServiceInfo]
    settings: dict
    zones: Zones
    town: Town
    pilot: PilotRules = PilotRules()

    @property
    def town_name(self) -> str:
        return self.settings.get("town_name") or ""

    @property
    def several_communes(self) -> bool:
        """Whether this deployment serves an intercommunalité (two communes or more)."""
        return len(self.zones.communes) > 1

    @property
    def communes(self) -> list[tuple[str, str]]:
        """The communes' (INSEE code, name), in alphabetical order (É with the E)."""
        return sorted(((c, n) for c, n, _ in self.zones.communes), key=lambda c: fold(c[1]))

    @property
    def intercommunality_name(self) -> str:
        return self.settings.get(INTERCOMMUNALITY) or ""

    @property
    def area_name(self) -> str:
        """The area served, as citizens read it: the town; with several communes, the
        intercommunalité's name (else its communes', listed)."""
        if not self.several_communes:
            return self.town_name
        return self.intercommunality_name or ", ".join(name for _, name in self.communes)

    def commune_name_at(self, lat: float | None, lon: float | None) -> str | None:
        """With several communes, the name of the one whose boundary holds the place."""
        if not self.several_communes:
            return None
        return self.zones.commune_name(self.zones.commune_at(lat, lon))

    @property
    def problems(self) -> list[CategoryInfo]:
        return [c for c in self.categories if not c.is_idea]

    @property
    def ideas(self) -> list[CategoryInfo]:
        return [c for c in self.categories if c.is_idea]

    def offers(self, category: CategoryInfo) -> bool:
        """Whether citizens may choose this category now (the pilot may limit services)."""
        services = self.pilot.services if self.pilot.on else frozenset()
        return not services or self.services[category.service_id].code in services

    @property
    def offered_problems(self) -> list[CategoryInfo]:
        return [c for c in self.problems if self.offers(c)]

    @property
    def offered_ideas(self) -> list[CategoryInfo]:
        return [c for c in self.ideas if self.offers(c)]


def _category(c: Category) -> CategoryInfo:
    return CategoryInfo(
        c.id,
        c.code,
        c.name_fr,
        c.name_en,
        c.service_id,
        c.kind,
        c.sla_hours,
        c.photo_required,
        c.ask_if_fixed,
        c.keywords or "",
        questions_of(c.questions),
        bool(c.urgent_by_default),
        c.urgent_sla_hours or 4,
    )


def _service(s: Service) -> ServiceInfo:
    return ServiceInfo(s.id, s.code, s.name_fr, s.name_en)


def _zones(session, pilot_on: bool) -> Zones:
    rows = active_zones(session)
    return Zones(
        [(z.name, z.geometry) for z in rows if z.kind == BOUNDARY],
        # The pilot turned off opens the whole town, its zones kept for next time.
        [(z.name, z.geometry) for z in rows if z.kind == PILOT and pilot_on],
        [(z.insee, z.name, z.geometry) for z in rows if z.kind == BOUNDARY and z.insee],
    )


def _pilot(session, settings: dict, zones: Zones) -> PilotRules:
    return PilotRules(
        on=settings.get(PILOT_ON) is not False,
        services=frozenset(settings.get(PILOT_SERVICES) or ()),
        codes=frozenset(active_invite_codes(session)),
        allowlist=count_allowed(session) > 0,
        zones=tuple(zones.pilot_names),
        opens_on=str(settings.get(PILOT_OPENS_ON) or ""),
    )


class CatalogCache:
    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._snapshot: Snapshot | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def get(self, session) -> Snapshot:
        """Returns the snapshot, reloading it through `session` when it is stale."""
        now = time.monotonic()
        if self._snapshot is None or now - self._loaded_at > self.ttl:
            categories = tuple(_category(c) for c in active_categories(session))
            services = {s.id: _service(s) for s in all_services(session)}
            settings = all_settings(session)
            zones = _zones(session, settings.get(PILOT_ON) is not False)
            snapshot = Snapshot(
                categories,
                {c.code: c for c in categories},
                {c.id: c for c in categories},
                services,
                settings,
                zones,
                Town(),
                _pilot(session, settings, zones),
            )
            town = zones.town(snapshot.area_name, settings.get("town_insee") or "")
            snapshot = replace(snapshot, town=town)
            with self._lock:
                self._snapshot, self._loaded_at = snapshot, now
        return self._snapshot

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = None
