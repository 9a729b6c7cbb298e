"""Places on the map the reports whose address was kept as text (geocoder down)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from sqlmodel import Session

from models.report import EventKind, add_event, lock_report, unlocated_reports
from models.zone import ZONE_KINDS, Zone, zone_by_name
from services.geo import SURE_SCORE, GeocoderUnavailable, ZoneError, parse_geometry
from services.reports import settle_commune
from services.runtime import Runtime

log = logging.getLogger(__name__)


def place_unlocated(rt: Runtime, limit: int = 100) -> tuple[int, int]:
    """Geocodes reports kept as text; returns (placed, still unplaced).

    Only a sure, single answer inside the zones is taken: the citizen cannot confirm it
    any more, so anything doubtful stays for an agent to place by hand.
    """
    geocoder = rt.geocoder
    if geocoder is None or not geocoder.enabled:
        return 0, 0
    placed = left = 0
    with rt.db.reading() as session:
        pending = [(r.id, r.address) for r in unlocated_reports(session, limit)]
        snapshot = rt.catalog.get(session)
    for number, address in pending:
        try:
            found = geocoder.search(address, snapshot.town)
        except GeocoderUnavailable:
            return placed, len(pending) - placed  # still down: try again later
        sure = [p for p in found.places if p.score >= SURE_SCORE
                and snapshot.zones.refusal(p.lat, p.lon) is None]  # fmt: skip
        if len(sure) != 1:
            left += 1
            continue
        commune = snapshot.zones.commune_at(sure[0].lat, sure[0].lon)
        with rt.db.transaction() as session:
            _place(session, number, sure[0], commune)
        placed += 1
    return placed, left


def _place(session: Session, number: int, place, commune: str | None) -> None:
    report = lock_report(session, number)
    if report is None or report.lat is not None:
        return
    report.lat, report.lon, report.geolocated = place.lat, place.lon, True
    settle_commune(session, report, commune)
    add_event(session, report, EventKind.GEOCODED,
              detail={"source": "typed", "label": place.label, "score": place.score})  # fmt: skip


def import_zone(session: Session, path: Path, kind: str, name: str) -> tuple[Zone, bool]:
    """Loads a GeoJSON polygon as a zone; a zone of the same name and kind is replaced."""
    if kind not in ZONE_KINDS:
        raise ZoneError(f"kind must be one of {', '.join(ZONE_KINDS)}")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ZoneError(f"cannot read {path}: {exc}") from exc
    geometry = parse_geometry(data)
    zone = zone_by_name(session, name, kind)
    created = zone is None
    if zone is None:
        zone = Zone(name=name, kind=kind, geometry=geometry)
    zone.geometry, zone.active = geometry, True
    session.add(zone)
    session.flush()
    return zone, created
