"""The real addok test server: BAN-style search through geopy and raw HTTP."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from functools import partial

import pytest

from tests.fakes.addok_server import DEFAULT_DATA_FILE, AddokServer, AddokServerError

_AVAILABLE, _REASON = AddokServer.available()
pytestmark = pytest.mark.skipif(not _AVAILABLE, reason=_REASON or "addok unavailable")

VITRE = "35360"
FOUGERES = "35115"

geopy = pytest.importorskip("geopy")
from geopy.exc import GeopyError  # noqa: E402
from geopy.geocoders import BANFrance  # noqa: E402


class BANFranceInTown(BANFrance):
    """BANFrance with addok's server-side filters (geopy's geocode() has no such argument)."""

    def __init__(self, *args, citycode: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.citycode = citycode

    def geocode(self, query, *, limit=None, exactly_one=True, timeout=None):
        params = {"q": query, "citycode": self.citycode}
        if limit is not None:
            params["limit"] = limit
        url = f"{self.geocode_api}?{urllib.parse.urlencode(params)}"
        callback = partial(self._parse_json, exactly_one=exactly_one)
        return self._call_geocoder(url, callback, timeout=timeout or self.timeout)


@pytest.fixture(scope="module")
def addok():
    server = AddokServer()
    server.start()
    print(f"\naddok test server {server.base_url} started in {server.startup_seconds:.2f}s")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ban(addok):
    return BANFrance(domain=addok.domain, scheme="http", timeout=2)


def get_json(addok, path, **params):
    url = f"{addok.base_url}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=2) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def describe(features):
    return [
        (f["properties"]["label"], f["properties"]["type"], round(f["properties"]["score"], 3))
        for f in features
    ]


def test_fixture_file_is_ban_style_ndjson():
    docs = [json.loads(line) for line in DEFAULT_DATA_FILE.read_text().splitlines()]
    by_city = {}
    for doc in docs:
        assert {"id", "type", "name", "postcode", "citycode", "city", "lat", "lon"} <= set(doc)
        assert doc["type"] in {"municipality", "street"}
        by_city.setdefault(doc["citycode"], []).append(doc)
    vitre = by_city[VITRE]
    assert sum(d["type"] == "municipality" for d in vitre) == 1
    assert 15 <= sum(d["type"] == "street" for d in vitre) <= 25
    for doc in vitre:
        points = [(doc["lat"], doc["lon"])]
        points += [(h["lat"], h["lon"]) for h in doc.get("housenumbers", {}).values()]
        for lat, lon in points:
            assert 48.10 <= lat <= 48.14 and -1.24 <= lon <= -1.18, doc["name"]
    poterie = next(d for d in vitre if d["name"] == "Rue de la Poterie")
    assert (poterie["housenumbers"]["12"]["lat"], poterie["housenumbers"]["12"]["lon"]) == (
        48.1246,
        -1.2082,
    )
    fougeres_names = {d["name"] for d in by_city[FOUGERES]}
    assert {"Rue de la Poterie", "Rue de Vitré"} <= fougeres_names


def test_starts_quickly_and_reports_health(addok):
    assert addok.base_url == f"http://127.0.0.1:{addok.port}"
    assert addok.domain == f"127.0.0.1:{addok.port}"
    assert addok.env() == {"GEOCODER": "ban", "GEOCODER_URL": addok.base_url}
    assert get_json(addok, "/health")["status"] == "HEALTHY"
    print(f"start-up: {addok.startup_seconds:.2f}s")
    assert addok.startup_seconds < 15


def test_housenumber_restricted_to_vitre(addok, ban):
    body = get_json(addok, "/search/", q="12 rue de la Poterie", citycode=VITRE, limit=5)
    print("12 rue de la Poterie [citycode=35360]:", describe(body["features"]))
    assert body["filters"] == {"citycode": [VITRE]}
    assert {f["properties"]["citycode"] for f in body["features"]} == {VITRE}
    top = body["features"][0]
    assert top["properties"]["type"] == "housenumber"
    assert top["properties"]["name"] == "12 Rue de la Poterie"
    assert top["properties"]["score"] > 0.9
    lon, lat = top["geometry"]["coordinates"]
    assert (lat, lon) == pytest.approx((48.1246, -1.2082), abs=1e-5)

    # Unrestricted, Fougères' Rue de la Poterie is a close second.
    both = get_json(addok, "/search/", q="12 rue de la Poterie", limit=5)["features"]
    assert {f["properties"]["citycode"] for f in both} == {VITRE, FOUGERES}

    # The same through geopy, with the filter added by a small BANFrance subclass.
    in_town = BANFranceInTown(domain=addok.domain, scheme="http", timeout=2, citycode=VITRE)
    location = in_town.geocode("12 rue de la Poterie")
    assert location.raw["properties"]["citycode"] == VITRE
    assert (location.latitude, location.longitude) == pytest.approx((48.1246, -1.2082), abs=1e-5)

    # Plain geopy, with the town in the query.
    location = ban.geocode("12 rue de la Poterie 35500 Vitré")
    assert location.raw["properties"]["type"] == "housenumber"
    assert location.raw["properties"]["citycode"] == VITRE
    assert location.raw["properties"]["score"] > 0.9
    assert location.address == "12 Rue de la Poterie 35500 Vitré"


@pytest.mark.parametrize(
    ("query", "street"),
    [
        ("12 bd de Laval vitré", "Boulevard de Laval"),
        ("bd Pierre Landais vitre", "Boulevard Pierre Landais"),
        ("pl du chateau vitre", "Place du Château"),
        ("3 r garangeau vitré", "Rue Garangeau"),
        ("4 place du gal de gaulle vitre", "Place du Général de Gaulle"),
    ],
)
def test_french_abbreviations(ban, query, street):
    location = ban.geocode(query)
    props = location.raw["properties"]
    print(f"{query!r}: {props['label']} ({props['type']}, score {props['score']:.3f})")
    assert props["citycode"] == VITRE
    assert props.get("street", props["name"]) == street


@pytest.mark.parametrize("query", ["rue de la potterie vitre", "rue de la poteri vitre"])
def test_small_typo_still_matches(ban, query):
    location = ban.geocode(query)
    props = location.raw["properties"]
    print(f"{query!r}: {props['label']} ({props['type']}, score {props['score']:.3f})")
    assert props["name"] == "Rue de la Poterie"
    assert props["citycode"] == VITRE


@pytest.mark.parametrize(
    "query", ["xqzvw blorf", "bonjour je voudrais signaler un trou", "le lampadaire est cassé"]
)
def test_nonsense_finds_nothing_or_a_low_score(addok, ban, query):
    features = get_json(addok, "/search/", q=query, limit=5)["features"]
    print(f"{query!r}: {describe(features) or 'no result'}")
    assert all(f["properties"]["score"] < 0.5 for f in features)
    location = ban.geocode(query)
    assert location is None or location.raw["properties"]["score"] < 0.5


def test_street_of_another_town_is_not_found_in_vitre(addok, ban):
    restricted = get_json(addok, "/search/", q="rue de vitré", citycode=VITRE, limit=5)
    print("'rue de vitré' [citycode=35360]:", describe(restricted["features"]) or "no result")
    # Only other Vitré streets may come back (they share "rue" and the town's name), never a
    # "Rue de Vitré" in Vitré, and never anything from Fougères.
    for feature in restricted["features"]:
        assert feature["properties"]["citycode"] == VITRE
        assert feature["properties"]["name"] != "Rue de Vitré"

    location = ban.geocode("rue de vitré")
    props = location.raw["properties"]
    print(f"'rue de vitré' unrestricted: {props['label']} (score {props['score']:.3f})")
    assert props["name"] == "Rue de Vitré"
    assert props["citycode"] == FOUGERES
    assert props["city"] == "Fougères"


def test_reverse_geocoding(ban):
    location = ban.reverse("48.1246, -1.2082")
    props = location.raw["properties"]
    print(f"reverse 48.1246,-1.2082: {props['label']} (distance {props.get('distance')} m)")
    assert props["street"] == "Rue de la Poterie"
    assert props["city"] == "Vitré"
    assert props["citycode"] == VITRE
    assert props["housenumber"] == "12"


def test_pause_makes_geopy_fail_and_resume_brings_it_back(addok, ban):
    port = addok.port
    addok.pause()
    try:
        assert addok.paused
        with pytest.raises(GeopyError) as excinfo:
            ban.geocode("12 rue de la Poterie vitre")
        print(f"while paused: {type(excinfo.value).__name__}: {excinfo.value}")
    finally:
        addok.resume()
    assert not addok.paused
    assert addok.port == port
    location = ban.geocode("12 rue de la Poterie vitre")
    assert location.raw["properties"]["citycode"] == VITRE


def test_stop_cleans_up_and_start_raises_clearly_without_redis(tmp_path):
    server = AddokServer()
    with server:
        workdir = server.workdir
        assert workdir.is_dir()
        assert server.running
    assert not server.running
    assert not workdir.exists()

    missing = AddokServer(redis_server=str(tmp_path / "no-redis-server"))
    ok, reason = missing.available(redis_server=str(tmp_path / "no-redis-server"))
    assert not ok
    assert "redis-server" in reason
    with pytest.raises(AddokServerError, match="redis-server"):
        missing.start()
