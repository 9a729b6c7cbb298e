"""What every map needs from the server: its tile server, the town's outline, and a
drawing of one place that needs no JavaScript.

The maps (console, public site, the SMS link page, the simulator) are drawn by the one
vendored Leaflet; without tiles (no network, the town's tile server down) they still show
the town's outline and the reports, and say that the background is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.config import Settings
from services.geo import Zones

OSM_ATTRIBUTION = "© OpenStreetMap contributors"
# Degrees (about 50 m): an outline for bearings, a few kilobytes, never a survey.
OUTLINE_TOLERANCE = 0.0005
NO_TILES = {"", "none", "off"}


@dataclass(frozen=True)
class Tiles:
    """Where a map's background comes from; an empty url means none."""

    url: str
    attribution: str


def map_tiles(settings: Settings, area: str = "site") -> Tiles:
    """The tile server of the console and public site (`site`) or of the link page
    (`link`): MAP_TILES_URL, unless that area's older setting overrides it."""
    override = settings.LINK_TILE_URL if area == "link" else settings.CONSOLE_TILE_URL
    url = (override or settings.MAP_TILES_URL).strip()
    if url.lower() in NO_TILES:
        return Tiles("", "")
    attribution = settings.MAP_TILES_ATTRIBUTION.strip()
    if not attribution:
        host = urlsplit(url.replace("{s}", "a")).hostname or ""
        attribution = OSM_ATTRIBUTION if host.endswith("openstreetmap.org") else ""
    return Tiles(url, attribution)


def _outline_parts(zones: Zones, town_name: str) -> list[tuple[str, object]]:
    """(name, shapely geometry) of each commune when there are several, else the town's."""
    if len(zones.communes) > 1:
        return [(name, area.context) for _, name, area in zones.communes]
    if zones.boundary is None:
        return []
    return [(town_name or ", ".join(zones.boundary_names), zones.boundary)]


def town_outline(zones: Zones, town_name: str) -> dict:
    """The town's outline as GeoJSON: a feature per commune (or the one boundary), its
    name and a simplified shape; nothing else (no pilot zones, no reports)."""
    from shapely.geometry import mapping  # with numpy: when an outline is drawn

    features = [
        {
            "type": "Feature",
            "properties": {"name": name},
            "geometry": _rounded(mapping(geometry.simplify(OUTLINE_TOLERANCE))),
        }
        for name, geometry in _outline_parts(zones, town_name)
    ]
    return {"type": "FeatureCollection", "features": features}


def _rounded(value):
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


# --- a place drawn on the server (SVG) --------------------------------------------------

WIDTH, HEIGHT, MARGIN = 320, 240, 14  # the drawing's box, in pixels
ALONE = 0.004  # degrees around a pin when the town has no outline


@dataclass(frozen=True)
class PlaceDrawing:
    """The town's outline and a pin, projected into a width x height box."""

    width: int
    height: int
    outline: str  # SVG path data ("" without an outline)
    pin: tuple[float, float]


def place_drawing(zones: Zones, lat: float, lon: float) -> PlaceDrawing:
    """The outline and the pin in a simple equirectangular projection (x = longitude
    times the cosine of the middle latitude, y = latitude downwards), scaled to fit the
    outline's box, or a small box around the pin when it falls outside or there is none."""
    parts = [geometry.simplify(OUTLINE_TOLERANCE) for _, geometry in _outline_parts(zones, "")]
    if parts:
        boxes = [p.bounds for p in parts]
        west, south = min(b[0] for b in boxes), min(b[1] for b in boxes)
        east, north = max(b[2] for b in boxes), max(b[3] for b in boxes)
        west, east = min(west, lon), max(east, lon)
        south, north = min(south, lat), max(north, lat)
    else:
        west, south, east, north = lon - ALONE, lat - ALONE, lon + ALONE, lat + ALONE
    shrink = math.cos(math.radians((south + north) / 2))
    span_x = max((east - west) * shrink, 1e-6)
    span_y = max(north - south, 1e-6)
    scale = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN) / span_y)
    width = round(span_x * scale + 2 * MARGIN)
    height = round(span_y * scale + 2 * MARGIN)

    def project(x: float, y: float) -> tuple[float, float]:
        return (
            round(MARGIN + (x - west) * shrink * scale, 1),
            round(MARGIN + (north - y) * scale, 1),
        )

    path = " ".join(_ring_path(ring, project) for part in parts for ring in _rings(part))
    return PlaceDrawing(width, height, path, project(lon, lat))


def _rings(geometry) -> list:
    polygons = getattr(geometry, "geoms", [geometry])
    rings = []
    for polygon in polygons:
        if polygon.geom_type != "Polygon":
            continue
        rings.append(polygon.exterior.coords)
        rings.extend(interior.coords for interior in polygon.interiors)
    return rings


def _ring_path(coords, project) -> str:
    points = [project(x, y) for x, y, *_ in coords]
    head, *rest = points
    return f"M{head[0]},{head[1]} " + " ".join(f"L{x},{y}" for x, y in rest) + " Z"
