"""An in-process snapshot of the catalog (services, categories, zones, town settings).

Every menu needs the categories; reading them once per message would be a query per
step for data that changes a few times a year. Admin edits call `invalidate()`; other
processes see them within `TTL_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from bot.geo import Town, Zones
from models.catalog import PROBLEM, Category, Service, active_categories, all_services
from models.settings import all_settings
from models.zone import BOUNDARY, PILOT, active_zones

TTL_SECONDS = 30.0


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


@dataclass(frozen=True)
class Snapshot:
    categories: tuple[CategoryInfo, ...]  # active ones, in menu order
    by_code: dict[str, CategoryInfo]
    by_id: dict[int, CategoryInfo]
    services: dict[int, ServiceInfo]
    settings: dict
    zones: Zones
    town: Town

    @property
    def town_name(self) -> str:
        return self.settings.get("town_name") or ""

    @property
    def problems(self) -> list[CategoryInfo]:
        return [c for c in self.categories if not c.is_idea]

    @property
    def ideas(self) -> list[CategoryInfo]:
        return [c for c in self.categories if c.is_idea]


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
    )


def _service(s: Service) -> ServiceInfo:
    return ServiceInfo(s.id, s.code, s.name_fr, s.name_en)


def _zones(session) -> Zones:
    rows = active_zones(session)
    return Zones(
        [(z.name, z.geometry) for z in rows if z.kind == BOUNDARY],
        [(z.name, z.geometry) for z in rows if z.kind == PILOT],
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
            zones = _zones(session)
            town = zones.town(settings.get("town_name") or "", settings.get("town_insee") or "")
            snapshot = Snapshot(
                categories,
                {c.code: c for c in categories},
                {c.id: c for c in categories},
                services,
                settings,
                zones,
                town,
            )
            with self._lock:
                self._snapshot, self._loaded_at = snapshot, now
        return self._snapshot

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = None
