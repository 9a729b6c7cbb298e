"""Where it is: a real addok geocoder, the town's boundary and pilot zones, nearby reports."""

from __future__ import annotations

import json

import pytest

from app.cli import cli
from models.report import get_report, report_events
from services.geo import BanGeocoder, GeocoderUnavailable, Town, ZoneError, Zones, parse_geometry
from tests.conftest import base_config
from tests.helpers import TalkingCitizen, make_report

VITRE = Town("Vitré", "35360", (48.123, -1.212), (48.08, -1.29, 48.17, -1.14))
POTERIE = (48.1246, -1.2082)
PARIS = (48.8566, 2.3522)


@pytest.fixture
def geo_app(database_url, tmp_path, addok):
    from app.factory import create_app

    app = create_app({**base_config(database_url, tmp_path), "GEOCODER": "ban",
                      "GEOCODER_URL": addok.base_url})  # fmt: skip
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def geo_rt(geo_app):
    return geo_app.extensions["webleads"]


# --- the geocoder on its own ------------------------------------------------------------

SEARCHES = [
    ("good address", "12 rue de la Poterie", "12 Rue de la Poterie", POTERIE),
    ("abbreviation", "12 bd de Laval", "Boulevard de Laval", None),
    ("typo", "rue de la potterie", "Rue de la Poterie", None),
    ("town name included", "3 rue Garangeau Vitré", "Rue Garangeau", None),
]


@pytest.mark.parametrize(("label", "query", "expected", "point"), SEARCHES,
                         ids=[s[0] for s in SEARCHES])  # fmt: skip
def test_addresses_in_the_town_are_found(addok, label, query, expected, point) -> None:
    found = BanGeocoder(addok.base_url).search(query, VITRE)
    assert found.places, found
    assert expected in found.places[0].label
    assert found.places[0].citycode == "35360"
    if point:
        assert found.places[0].lat == pytest.approx(point[0], abs=1e-4)
        assert found.places[0].lon == pytest.approx(point[1], abs=1e-4)


def test_nonsense_is_not_an_answer(addok) -> None:
    found = BanGeocoder(addok.base_url).search("xqzvw blorf", VITRE)
    assert found.places == [] and found.elsewhere is None


def test_address_in_another_town_is_refused_and_named(addok) -> None:
    found = BanGeocoder(addok.base_url).search("rue de Vitré", VITRE)
    assert found.places == []
    assert found.elsewhere == "Fougères"


def test_reverse_geocoding_gives_a_readable_address(addok) -> None:
    place = BanGeocoder(addok.base_url).reverse(*POTERIE)
    assert place is not None and "Rue de la Poterie" in place.label and "Vitré" in place.label


def test_results_are_cached(addok) -> None:
    geocoder = BanGeocoder(addok.base_url)
    first = geocoder.search("12 rue de la Poterie", VITRE)
    addok.pause()
    try:
        assert geocoder.search("12 rue de la poterie ", VITRE) == first
    finally:
        addok.resume()


def test_a_down_geocoder_fails_fast_then_recovers(addok) -> None:
    geocoder = BanGeocoder(addok.base_url)
    addok.pause()
    try:
        with pytest.raises(GeocoderUnavailable):
            geocoder.search("1 rue Pasteur", VITRE)
        with pytest.raises(GeocoderUnavailable, match="recently"):
            geocoder.search("2 rue Pasteur", VITRE)  # the breaker: no wait for a timeout
    finally:
        addok.resume()
    geocoder.breaker.reset()  # as if BREAKER_SECONDS had passed
    assert geocoder.search("2 rue Pasteur", VITRE).places


# --- in the conversation -----------------------------------------------------------------


def test_typed_address_is_confirmed_then_placed(geo_rt) -> None:
    citizen = TalkingCitizen(geo_rt)
    citizen.to_location_question()
    question = citizen.say("12 rue de la poterie")[-1]
    assert question.text == "Est-ce 12 Rue de la Poterie 35500 Vitré\u202f?"
    summary = citizen.texts("oui")
    assert "Lieu\u202f: 12 Rue de la Poterie 35500 Vitré" in summary
    assert "pas encore placé" not in summary
    number = int(citizen.texts(choice="yes").split("#")[1].split()[0])
    with geo_rt.db.reading() as session:
        report = get_report(session, number)
    assert report.geolocated and report.lat == pytest.approx(48.1246, abs=1e-4)


def test_no_means_another_address(geo_rt) -> None:
    citizen = TalkingCitizen(geo_rt)
    citizen.to_location_question()
    citizen.say("12 rue de la poterie")
    assert "tapez de nouveau l’adresse" in citizen.texts("non")
    assert citizen.state == "location"


# The demo town has exactly three squares (tests/fixtures/addok/addresses.ndjson), all
# scored alike for "place"; Fougères's one is outside the town.
SQUARES = {
    "Place du Château 35500 Vitré",
    "Place de la République 35500 Vitré",
    "Place du Général de Gaulle 35500 Vitré",
}


def test_several_candidates_are_numbered(geo_rt) -> None:
    citizen = TalkingCitizen(geo_rt)
    citizen.to_location_question()
    reply = citizen.say("place")[-1]
    assert reply.text == "Laquelle de ces adresses est-ce\u202f?"
    keys = [key for key, _ in reply.choices]
    assert keys == ["place:0", "place:1", "place:2", "no"]
    labels = [label for _, label in reply.choices]
    assert set(labels[:3]) == SQUARES and labels[3] == "Aucune de ces adresses"
    # The choices are numbered: typing "2" takes the second one.
    assert f"Lieu\u202f: {labels[1]}" in citizen.texts("2")


def test_address_in_another_town_is_said_plainly(geo_rt) -> None:
    citizen = TalkingCitizen(geo_rt)
    citizen.to_location_question()
    text = citizen.texts("rue de Vitré")
    assert "Cette adresse est à Fougères, en dehors de Vitré" in text
    assert citizen.state == "location"


def test_unknown_address_is_asked_again(geo_rt) -> None:
    citizen = TalkingCitizen(geo_rt)
    citizen.to_location_question()
    assert "Je ne trouve pas «\u202fxqzvw blorf\u202f» à Vitré" in citizen.texts("xqzvw blorf")


def test_pin_gets_a_readable_address(geo_rt) -> None:
    citizen = TalkingCitizen(geo_rt)
    citizen.to_location_question()
    assert "Lieu\u202f: 12 Rue de la Poterie 35500 Vitré" in citizen.texts(location=POTERIE)


def test_pin_outside_the_town_is_refused(geo_rt) -> None:
    citizen = TalkingCitizen(geo_rt)
    citizen.to_location_question()
    text = citizen.texts(location=PARIS)
    assert "en dehors de la zone couverte par le service (Vitré)" in text
    assert citizen.state == "location"


def test_geocoder_down_mid_conversation_then_placed_later(geo_app, geo_rt, addok) -> None:
    citizen = TalkingCitizen(geo_rt)
    citizen.to_location_question()
    addok.pause()
    try:
        text = citizen.texts("12 rue de la Poterie")
        assert "Je ne peux pas vérifier les adresses pour le moment" in text
        assert "(pas encore placé sur la carte)" in text
        number = int(citizen.texts(choice="yes").split("#")[1].split()[0])
        result = geo_app.test_cli_runner().invoke(cli, ["geo", "retry"])
        assert "0 report(s) placed" in result.output  # still down: nothing lost, nothing done
    finally:
        addok.resume()
    geo_rt.geocoder.breaker.reset()  # as if BREAKER_SECONDS had passed
    result = geo_app.test_cli_runner().invoke(cli, ["geo", "retry"])
    assert "1 report(s) placed" in result.output
    with geo_rt.db.reading() as session:
        report = get_report(session, number)
        events = report_events(session, number)
    assert report.geolocated and report.lat == pytest.approx(48.1246, abs=1e-4)
    assert report.address == "12 rue de la Poterie"  # the citizen's words are kept
    assert events[-1].kind == "geocoded"


# --- zones -------------------------------------------------------------------------------

SQUARE = {"type": "Polygon", "coordinates": [[[-1.21, 48.12], [-1.20, 48.12], [-1.20, 48.13],
                                              [-1.21, 48.13], [-1.21, 48.12]]]}  # fmt: skip
ZONE_ROWS = [
    ("inside boundary, no pilot", [], POTERIE, None),
    ("outside boundary", [], PARIS, "Vitré"),
    ("inside the pilot zone", [("Centre", SQUARE)], POTERIE, None),
    ("in town, outside the pilot", [("Centre", SQUARE)], (48.105, -1.24), "Centre"),
]


@pytest.mark.parametrize(("label", "pilots", "point", "refused"), ZONE_ROWS,
                         ids=[r[0] for r in ZONE_ROWS])  # fmt: skip
def test_zone_rows(label, pilots, point, refused) -> None:
    from app.seed import BOUNDARY_FILE

    boundary = json.loads(BOUNDARY_FILE.read_text())["geometry"]
    zones = Zones([("Vitré", boundary)], pilots)
    assert zones.refusal(*point, town_name="Vitré") == refused


def test_lon_lat_order_is_respected() -> None:
    zones = Zones([("square", SQUARE)], [])
    assert zones.refusal(48.125, -1.205) is None  # (lat, lon) inside
    assert zones.refusal(-1.205, 48.125) == "square"  # swapped: outside


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"type": "Point", "coordinates": [-1.2, 48.1]}, "Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
         "crosses itself"),
        ({"type": "FeatureCollection", "features": []}, "no features"),
        ({"type": "Polygon", "coordinates": [[[500, 0], [501, 0], [501, 1], [500, 0]]]},
         "longitude, latitude"),
    ],
)  # fmt: skip
def test_bad_geojson_is_refused_with_a_reason(data, error) -> None:
    with pytest.raises(ZoneError, match=error):
        parse_geometry(data)


def test_pilot_zone_from_the_cli_then_turned_off(geo_app, geo_rt, tmp_path) -> None:
    path = tmp_path / "centre.geojson"
    path.write_text(json.dumps({"type": "Feature", "geometry": SQUARE, "properties": {}}))
    runner = geo_app.test_cli_runner()
    out = runner.invoke(cli, ["zone", "import", str(path), "--kind", "pilot", "--name",
                              "Centre historique"]).output  # fmt: skip
    assert "imported" in out
    citizen = TalkingCitizen(geo_rt)
    citizen.to_location_question()
    assert "(Centre historique)" in citizen.texts(location=(48.105, -1.24))
    runner.invoke(cli, ["zone", "activate", "Centre historique", "--off"])
    assert "Votre signalement" in citizen.texts(location=(48.105, -1.24))
    assert "pilot    off" in runner.invoke(cli, ["zone", "list"]).output


def test_zone_import_refuses_a_bad_file(geo_app, tmp_path) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text("{not json")
    result = geo_app.test_cli_runner().invoke(cli, ["zone", "import", str(path), "--kind",
                                                    "boundary", "--name", "x"])  # fmt: skip
    assert result.exit_code == 1 and "cannot read" in result.output


# --- nearby reports ------------------------------------------------------------------------

NEARBY_ROWS = [
    ("same category, 20 m away", "nid-de-poule", (48.12478, -1.2082), "new", True),
    ("same category, 45 m away", "nid-de-poule", (48.1246, -1.20759), "in_progress", True),
    ("same category, 80 m away", "nid-de-poule", (48.12532, -1.2082), "new", False),
    ("closed report close by", "nid-de-poule", (48.12465, -1.2082), "resolved", False),
    ("other category close by", "graffiti", (48.12465, -1.2082), "new", False),
]


@pytest.mark.parametrize(("label", "category", "point", "status", "offered"), NEARBY_ROWS,
                         ids=[r[0] for r in NEARBY_ROWS])  # fmt: skip
def test_nearby_rows(rt, label, category, point, status, offered) -> None:
    with rt.db.transaction() as session:
        existing = make_report(session, category, lat=point[0], lon=point[1], status=status)
    citizen = TalkingCitizen(rt)
    citizen.to_location_question()
    text = citizen.texts(location=POTERIE)
    assert (f"#{existing.id}" in text) is offered, text
    assert citizen.state == ("nearby" if offered else "confirm")


def test_yes_follows_the_existing_report(rt) -> None:
    with rt.db.transaction() as session:
        existing = make_report(session, lat=48.12465, lon=-1.2082, status="in_progress")
    citizen = TalkingCitizen(rt)
    citizen.to_location_question()
    offer = citizen.say(location=POTERIE)[-1]
    assert "signalé" in offer.text and "en cours de traitement" in offer.text
    text = citizen.texts("oui")
    assert f"Vous suivez maintenant #{existing.id}" in text
    with rt.db.reading() as session:
        events = report_events(session, existing.id)
    assert [e.kind for e in events][-2:] == ["follower", "citizen_message"]
    assert events[-1].public_message == "Un trou profond"
    from services import reports

    with rt.db.transaction() as session:
        reports.change_status(session, existing.id, "resolved")
    assert "a été résolu" in citizen.texts()


def test_no_files_a_new_report(rt) -> None:
    with rt.db.transaction() as session:
        make_report(session, lat=48.12465, lon=-1.2082)
    citizen = TalkingCitizen(rt)
    citizen.to_location_question()
    citizen.say(location=POTERIE)
    assert "Votre signalement\u202f:" in citizen.texts("2")
    assert "enregistré" in citizen.texts(choice="yes")


def test_several_nearby_reports_are_numbered(rt) -> None:
    with rt.db.transaction() as session:
        a = make_report(session, lat=48.12465, lon=-1.2082)
        b = make_report(session, lat=48.12470, lon=-1.2082)
    citizen = TalkingCitizen(rt)
    citizen.to_location_question()
    reply = citizen.say(location=POTERIE)[-1]
    assert reply.text.startswith("Des problèmes semblables ont été signalés tout près")
    assert [v for v, _ in reply.choices] == [f"follow:{a.id}", f"follow:{b.id}", "no"]


def test_typed_address_outside_the_pilot_zone_is_said_plainly(geo_app, geo_rt, tmp_path) -> None:
    path = tmp_path / "centre.geojson"
    path.write_text(json.dumps(SQUARE))
    geo_app.test_cli_runner().invoke(
        cli, ["zone", "import", str(path), "--kind", "pilot", "--name", "Centre historique"]
    )
    citizen = TalkingCitizen(geo_rt)
    citizen.to_location_question()
    text = citizen.texts("2 allée des Tilleuls")  # in Vitré, outside the pilot's square
    assert "en dehors de la zone couverte par le service (Centre historique)" in text
    assert citizen.state == "location"
