"""Where it is: geocoding (BAN/addok or Nominatim, through geopy) and the town's zones.

Geocoding runs inside a conversation step, so it must be quick or fail fast: a short
timeout, a cache, and a breaker that stops calling a geocoder that just failed. When it is
down the conversation goes on: the typed address is kept as text, flagged for the agents,
and `webleads geo retry` (also run by the worker) places it later.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode, urlsplit

from services.breaker import Breaker
from services.texts import fold

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3.0
# addok scores: a right address, even abbreviated or misspelt, scores 0.5 and more
# here; nonsense gets nothing or about 0.2. Candidates are always confirmed by the citizen.
MIN_SCORE = 0.45
# Retrying later places an address only when addok is sure of it.
SURE_SCORE = 0.7
CLEARLY_BETTER = 0.15
USEFUL_TYPES = {"housenumber", "street", "locality", "municipality"}
BREAKER_SECONDS = 30.0
CACHE_SIZE = 1024
USER_AGENT = "webleads-tracker (town reporting bot)"


class GeocoderUnavailable(RuntimeError):
    """The geocoder is down or too slow: the conversation goes on without it."""


@dataclass(frozen=True)
class Place:
    label: str
    lat: float
    lon: float
    score: float = 1.0
    city: str = ""
    citycode: str = ""
    kind: str = ""


@dataclass(frozen=True)
class Town:
    """What restricts a search to the town: its INSEE code, centre and bounding box; with
    several communes, all their INSEE codes (a typed address is searched across them)."""

    name: str = ""
    citycode: str = ""
    center: tuple[float, float] | None = None  # (lat, lon)
    bbox: tuple[float, float, float, float] | None = None  # (south, west, north, east)
    citycodes: tuple[str, ...] = ()  # several communes: each one's INSEE code

    @property
    def codes(self) -> frozenset[str]:
        """The INSEE codes an address must have to be in town (none: no restriction)."""
        return frozenset(self.citycodes) | ({self.citycode} if self.citycode else frozenset())


@dataclass(frozen=True)
class Found:
    """A search's answer: places in the town, or the town the address is in instead."""

    places: list[Place]
    elsewhere: str | None = None


class _Cache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class NoGeocoder:
    """GEOCODER=none: typed addresses are kept as text, flagged 'not geolocated'."""

    enabled = False
    needs_network = False

    def search(self, text: str, town: Town) -> Found:
        return Found([])

    def reverse(self, lat: float, lon: float) -> Place | None:
        return None


def _geopy_error() -> type[Exception]:
    """geopy's failures, for `except` (imported with the first call, like geopy itself)."""
    from geopy.exc import GeopyError

    return GeopyError


def _addok_client(**options):
    """geopy's BAN client, with addok's `lat`/`lon` bias (geopy's geocode() has none).

    geopy is imported here, not at the top: a command line that geocodes nothing starts
    without it.
    """
    from geopy.geocoders import BANFrance

    class AddokClient(BANFrance):
        def search(self, query: str, *, limit: int, near: tuple[float, float] | None):
            params: dict = {"q": query, "limit": limit}
            if near:
                params["lat"], params["lon"] = near
            url = f"{self.geocode_api}?{urlencode(params)}"
            return self._call_geocoder(url, partial(self._parse_json, exactly_one=False))

    return AddokClient(**options)


class _Geocoder:
    enabled = True
    gives_citycodes = True  # its places carry their commune's INSEE code
    # Calls another service: run in the worker, never inside a conversation step.
    needs_network = True

    def __init__(self) -> None:
        self.breaker = Breaker(BREAKER_SECONDS)
        self.cache = _Cache(CACHE_SIZE)

    def search(self, text: str, town: Town) -> Found:
        """Finds a typed address in the town; raises GeocoderUnavailable when down."""
        key = (fold(" ".join(text.split())), tuple(sorted(town.codes)), town.bbox)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        places = self._call(self._search, text, town)
        found = _keep_in_town(places, town if self.gives_citycodes else _box_only(town))
        self.cache.put(key, found)
        return found

    def reverse(self, lat: float, lon: float) -> Place | None:
        """Turns a pin into a readable address, or None when there is none near."""
        key = ("reverse", round(lat, 5), round(lon, 5))
        cached = self.cache.get(key)
        if cached is not None:
            return cached or None
        place = self._call(self._reverse, lat, lon)
        self.cache.put(key, place or False)
        return place

    def _call(self, fn, *args):
        if self.breaker.is_open():
            raise GeocoderUnavailable("geocoder failed recently; not retried yet")
        try:
            result = fn(*args)
        except (_geopy_error(), OSError) as exc:
            self.breaker.failed()
            log.warning("geocoder unavailable: %s", exc)
            raise GeocoderUnavailable(str(exc)) from exc
        self.breaker.reset()
        return result


def _box_only(town: Town) -> Town:
    """The restriction by the bounding box alone, for places without an INSEE code."""
    return Town(town.name, "", town.center, town.bbox)


def _keep_in_town(places: list[Place], town: Town) -> Found:
    good = [p for p in places if p.score >= MIN_SCORE and (not p.kind or p.kind in USEFUL_TYPES)]
    if town.codes:
        inside = [p for p in good if p.citycode in town.codes]
    elif town.bbox:
        south, west, north, east = town.bbox
        inside = [p for p in good if south <= p.lat <= north and west <= p.lon <= east]
    else:
        inside = good
    best = max(good, key=lambda p: p.score, default=None)
    best_inside = max((p.score for p in inside), default=0.0)
    # "rue de Vitré" is a street of Fougères: a weak match inside the town is not an answer.
    if best is not None and best not in inside and best.score >= best_inside + CLEARLY_BETTER:
        return Found([], elsewhere=best.city or None)
    return Found(sorted(inside, key=lambda p: -p.score)[:3])


class BanGeocoder(_Geocoder):
    """The French national address service (addok), public or self-hosted."""

    def __init__(self, url: str | None = None, timeout: float = TIMEOUT_SECONDS) -> None:
        super().__init__()
        scheme, domain = _split_url(url, "https", "api-adresse.data.gouv.fr")
        self.client = _addok_client(domain=domain, scheme=scheme, timeout=timeout,
                                   user_agent=USER_AGENT)  # fmt: skip

    def _search(self, text: str, town: Town) -> list[Place]:
        locations = self.client.search(text, limit=10, near=town.center) or []
        return [_ban_place(location.raw) for location in locations]

    def _reverse(self, lat: float, lon: float) -> Place | None:
        location = self.client.reverse((lat, lon), exactly_one=True)
        return _ban_place(location.raw) if location else None


def _ban_place(feature: dict) -> Place:
    props = feature.get("properties", {})
    lon, lat = feature["geometry"]["coordinates"]
    label = props.get("label") or props.get("name", "")
    return Place(
        label=label,
        lat=float(lat),
        lon=float(lon),
        score=float(props.get("score", 0.0)),
        city=props.get("city", ""),
        citycode=str(props.get("citycode", "")),
        kind=props.get("type", ""),
    )


class NominatimGeocoder(_Geocoder):
    """OpenStreetMap's Nominatim, restricted to the town's bounding box."""

    gives_citycodes = False  # no INSEE codes: what it finds in the bounded box is in town

    def __init__(self, url: str | None = None, timeout: float = TIMEOUT_SECONDS) -> None:
        super().__init__()
        scheme, domain = _split_url(url, "https", "nominatim.openstreetmap.org")
        from geopy.geocoders import Nominatim

        self.client = Nominatim(domain=domain, scheme=scheme, timeout=timeout,
                                user_agent=USER_AGENT)  # fmt: skip

    def _search(self, text: str, town: Town) -> list[Place]:
        kwargs: dict = {"exactly_one": False, "limit": 5, "country_codes": "fr",
                        "addressdetails": True}  # fmt: skip
        if town.bbox:
            south, west, north, east = town.bbox
            kwargs.update(viewbox=[(south, west), (north, east)], bounded=True)
        locations = self.client.geocode(text, **kwargs) or []
        # Nominatim has no score: what it returns inside the bounded box is taken.
        return [_nominatim_place(location.raw, town) for location in locations]

    def _reverse(self, lat: float, lon: float) -> Place | None:
        location = self.client.reverse((lat, lon), exactly_one=True, zoom=18)
        return _nominatim_place(location.raw, Town()) if location else None


def _nominatim_place(raw: dict, town: Town) -> Place:
    address = raw.get("address", {})
    street = " ".join(x for x in (address.get("house_number"), address.get("road")) if x)
    city = address.get("city") or address.get("town") or address.get("village") or ""
    label = ", ".join(x for x in (street, city) if x) or raw.get("display_name", "")
    return Place(label, float(raw["lat"]), float(raw["lon"]), 1.0, city, town.citycode, "")


def _split_url(url: str | None, scheme: str, domain: str) -> tuple[str, str]:
    """Splits GEOCODER_URL ('http://127.0.0.1:7878', 'https://geo.town.fr/addok')."""
    if not url:
        return scheme, domain
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return parts.scheme, (parts.netloc + parts.path).rstrip("/")


def geocoder_enabled(rt) -> bool:
    """Whether typed addresses and pins are looked up at all (GEOCODER is not none)."""
    return rt.geocoder is not None and getattr(rt.geocoder, "enabled", False)


def needs_network(geocoder) -> bool:
    """A geocoder that calls another service runs in the worker, never in a step."""
    return getattr(geocoder, "needs_network", True)


class ZoneError(ValueError):
    """A GeoJSON file that is not a usable polygon; the message says why."""


def parse_geometry(data: dict) -> dict:
    """Returns the (Multi)Polygon geometry of a GeoJSON object; raises ZoneError."""
    from shapely.geometry import shape
    from shapely.ops import unary_union

    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection":
        geometries = [parse_geometry(f) for f in data.get("features", [])]
        if not geometries:
            raise ZoneError("the FeatureCollection has no features")
        merged = unary_union([shape(g) for g in geometries])
        return merged.__geo_interface__
    if kind == "Feature":
        return parse_geometry(data.get("geometry") or {})
    if kind not in ("Polygon", "MultiPolygon"):
        raise ZoneError(f"expected a Polygon or MultiPolygon, got {kind or 'nothing'}")
    try:
        geometry = shape(data)
    except (ValueError, TypeError, IndexError) as exc:
        raise ZoneError(f"the coordinates are not a polygon: {exc}") from exc
    if geometry.is_empty or not geometry.is_valid:
        raise ZoneError("the polygon is empty or crosses itself")
    minx, miny, maxx, maxy = geometry.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ZoneError("coordinates must be longitude, latitude in degrees")
    return geometry.__geo_interface__


class Zones:
    """The active boundary and pilot zones, as prepared shapely geometries."""

    def __init__(self, boundary: list[tuple[str, dict]], pilots: list[tuple[str, dict]],
                 communes: list[tuple[str, str, dict]] = ()) -> None:  # fmt: skip
        # shapely (with numpy) is imported by the first zones built, not by every command.
        from shapely.geometry import shape
        from shapely.ops import unary_union
        from shapely.prepared import prep

        self.boundary_names = [name for name, _ in boundary]
        self.boundary = unary_union([shape(g) for _, g in boundary]) if boundary else None
        self._boundary = prep(self.boundary) if self.boundary is not None else None
        self.pilot_names = [name for name, _ in pilots]
        self._pilots = [prep(shape(g)) for _, g in pilots]
        # Several communes: (INSEE, name, prepared boundary), each a boundary zone too.
        self.communes = [(insee, name, prep(shape(g))) for insee, name, g in communes]

    def commune_at(self, lat: float | None, lon: float | None) -> str | None:
        """The INSEE code of the commune whose boundary holds the place (None: no communes,
        no place, or outside them all)."""
        if lat is None or lon is None or not self.communes:
            return None
        from shapely.geometry import Point

        point = Point(lon, lat)
        return next((insee for insee, _, area in self.communes if area.covers(point)), None)

    def commune_name(self, insee: str | None) -> str | None:
        return next((name for code, name, _ in self.communes if code == insee), None)

    @property
    def pilot_on(self) -> bool:
        return bool(self._pilots)

    def refusal(self, lat: float, lon: float, town_name: str = "") -> str | None:
        """Names the covered area when a place is outside it; None when it is inside."""
        from shapely.geometry import Point

        point = Point(lon, lat)  # shapely is (x=lon, y=lat)
        if self._boundary is not None and not self._boundary.covers(point):
            return town_name or ", ".join(self.boundary_names)
        if self._pilots and not any(p.covers(point) for p in self._pilots):
            return ", ".join(self.pilot_names)
        return None

    def town(self, name: str, citycode: str) -> Town:
        """The search restriction for the geocoder, from the boundary's shape (with several
        communes: all of theirs, the town's own INSEE code then only one of them)."""
        codes = tuple(sorted(insee for insee, _, _ in self.communes))
        if codes:
            citycode = ""
        if self.boundary is None:
            return Town(name, citycode, citycodes=codes)
        minx, miny, maxx, maxy = self.boundary.bounds
        centre = self.boundary.centroid
        return Town(name, citycode, (centre.y, centre.x), (miny, minx, maxy, maxx), codes)
