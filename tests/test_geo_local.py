"""GEOCODER=local: the BAN's CSV imported into the database, searched with no network."""

from __future__ import annotations

import gzip
import threading

import pytest

from app.cli import cli
from app.seed import ADDRESSES_FILE, seed_demo
from models.address import commune_counts
from models.db import Database
from models.report import get_report
from services.ban_import import BAN_COLUMNS
from services.config import ConfigError, load_settings
from services.geo import MIN_SCORE, SURE_SCORE, BanGeocoder, NoGeocoder, Town
from services.geo_local import LocalGeocoder
from services.geocoders import make_geocoder
from tests.conftest import _make_app
from tests.helpers import TalkingCitizen

VITRE = Town("Vitré", "35360", (48.123, -1.212), (48.08, -1.29, 48.17, -1.14))
POTERIE = (48.1246, -1.2082)
PARIS = (48.8566, 2.3522)
HEADER = ("id;id_fantoir;numero;rep;nom_voie;code_postal;code_insee;nom_commune;"
          "code_insee_ancienne_commune;nom_ancienne_commune;x;y;lon;lat;type_position;alias;"
          "nom_ld;libelle_acheminement;nom_afnor;source_position;source_nom_voie;"
          "certification_commune;cad_parcelles")  # fmt: skip


@pytest.fixture
def local_app(database_url, tmp_path):
    app = _make_app(database_url, tmp_path, GEOCODER="local")
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def local_rt(local_app):
    return local_app.extensions["webleads"]


@pytest.fixture
def geocoder(local_rt):
    return local_rt.geocoder


def ban_line(number, rep, street, citycode="35360", city="Vitré", postcode="35500",
             lat="48.1222", lon="-1.2040") -> str:  # fmt: skip
    """One line of a BAN CSV, as adresse.data.gouv.fr publishes them."""
    key = f"{citycode}_0100_{int(number or 0):05d}"
    return (f"{key};{citycode}_0100;{number};{rep};{street};{postcode};{citycode};{city};;;"
            f"387330.1;6788500.2;{lon};{lat};entrée;;;{city.upper()};{street.upper()};"
            "commune;commune;1;")  # fmt: skip


def import_file(app, path):
    return app.test_cli_runner().invoke(cli, ["geo", "import-ban", str(path)])


# --- the demo town's addresses ----------------------------------------------------------


def test_the_demo_seed_imports_the_addresses_once(local_rt) -> None:
    with local_rt.db.reading() as session:
        assert commune_counts(session, "35360") == (19, 161)  # 158 numbers, 3 bis/ter
        assert commune_counts(session, "35115") == (5, 33)
    with local_rt.db.transaction() as session:
        seed_demo(session)  # seeded already (the test template): nothing doubled
    with local_rt.db.reading() as session:
        assert commune_counts(session, "35360") == (19, 161)


def test_the_seed_keeps_a_towns_own_import(local_app, local_rt, tmp_path) -> None:
    path = tmp_path / "adresses-35360.csv"
    path.write_text(
        f"{HEADER}\n{ban_line(5, '', 'Rue Pasteur')}\n{ban_line(6, '', 'Rue Pasteur')}\n"
    )
    assert import_file(local_app, path).exit_code == 0
    with local_rt.db.transaction() as session:
        seed_demo(session)
    with local_rt.db.reading() as session:
        assert commune_counts(session, "35360") == (1, 2)


# --- searching --------------------------------------------------------------------------

SEARCHES = [
    ("good address", "12 rue de la Poterie", "12 Rue de la Poterie 35500 Vitré", POTERIE),
    ("capitals and accents", "12 RUE DE LA POTERIE vitre", "12 Rue de la Poterie 35500 Vitré",
     POTERIE),
    ("bd", "12 bd de Laval", "12 Boulevard de Laval 35500 Vitré", None),
    ("av for a street that is a rue", "av Pasteur", "Rue Pasteur 35500 Vitré", None),
    ("pl", "pl du chateau", "Place du Château 35500 Vitré", None),
    ("r", "5 r Pasteur", "5 Rue Pasteur 35500 Vitré", None),
    ("gal and pl", "1 pl gal de gaulle", "1 Place du Général de Gaulle 35500 Vitré", None),
    ("one typo", "rue de la potterie", "Rue de la Poterie 35500 Vitré", None),
    ("two typos", "12 rue de la potery", "12 Rue de la Poterie 35500 Vitré", POTERIE),
    ("typos in two words", "boulevrd des rocher", "Boulevard des Rochers 35500 Vitré", None),
    ("sounds alike", "rue baudrerie", "Rue Baudrairie 35500 Vitré", None),
    ("bis", "12 bis rue de la Poterie", "12 bis Rue de la Poterie 35500 Vitré",
     (48.124635, -1.20817)),
    ("bis glued", "5bis rue pasteur", "5 bis Rue Pasteur 35500 Vitré", None),
    ("street without number", "rue d'embas", "Rue d'Embas 35500 Vitré", None),
    ("number not on the street", "99 rue de la poterie", "Rue de la Poterie 35500 Vitré", None),
    ("postcode", "3 rue Garangeau 35500", "3 Rue Garangeau 35500 Vitré", None),
]  # fmt: skip


@pytest.mark.parametrize(("label", "query", "expected", "point"), SEARCHES,
                         ids=[s[0] for s in SEARCHES])  # fmt: skip
def test_addresses_in_the_town_are_found(geocoder, label, query, expected, point) -> None:
    found = geocoder.search(query, VITRE)
    assert found.places, found
    best = found.places[0]
    assert best.label == expected
    assert best.score >= 0.5 and best.citycode == "35360"
    if point:
        assert (best.lat, best.lon) == pytest.approx(point, abs=1e-5)


def test_a_right_address_is_sure_enough_to_be_placed_later(geocoder) -> None:
    assert geocoder.search("12 rue de la Poterie", VITRE).places[0].score >= SURE_SCORE
    assert geocoder.search("rue de la potterie", VITRE).places[0].score >= SURE_SCORE


def test_a_street_without_number_is_placed_on_the_street(geocoder) -> None:
    place = geocoder.search("rue de la poterie", VITRE).places[0]
    assert place.kind == "street"
    # its address nearest the middle of its numbers (1 to 20), not a point between houses
    house = geocoder.reverse(place.lat, place.lon)
    assert house.score == 1.0 and house.label.endswith(" Rue de la Poterie 35500 Vitré")
    assert 48.1243 < place.lat < 48.1250


@pytest.mark.parametrize("query", ["xqzvw blorf", "le trou devant chez moi", "bonjour",
                                   "hello world"])  # fmt: skip
def test_nonsense_is_not_an_answer(geocoder, query) -> None:
    found = geocoder.search(query, VITRE)
    assert found.places == [] and found.elsewhere is None


def test_nonsense_scores_below_the_threshold(local_rt) -> None:
    from services.address_text import parse_query

    geocoder = LocalGeocoder(local_rt.db)
    with local_rt.db.reading() as session:
        places = geocoder._places(session, parse_query("le trou devant chez moi"), VITRE)
    assert all(p.score < MIN_SCORE for p in places)


@pytest.mark.parametrize("query", ["rue de Vitré", "12 rue de la Poterie Fougères",
                                   "boulevard de rennes"])  # fmt: skip
def test_address_in_another_commune_is_refused_and_named(geocoder, query) -> None:
    found = geocoder.search(query, VITRE)
    assert found.places == []
    assert found.elsewhere == "Fougères"


def test_several_streets_are_offered_for_a_vague_address(geocoder) -> None:
    found = geocoder.search("rue de", VITRE)
    assert len(found.places) == 3
    assert all(p.label.startswith("Rue de ") for p in found.places)


def test_reverse_names_the_nearest_address(geocoder) -> None:
    place = geocoder.reverse(*POTERIE)
    assert place is not None and place.label == "12 Rue de la Poterie 35500 Vitré"
    nearby = geocoder.reverse(48.12475, -1.20795)  # between 14 and 15, ~10 m from each
    assert nearby is not None and nearby.label.startswith(("14 ", "15 "))


def test_reverse_far_from_any_address_is_none(geocoder) -> None:
    assert geocoder.reverse(48.13, -1.25) is None  # fields west of the town
    assert geocoder.reverse(*PARIS) is None


def test_a_search_does_not_wait_for_the_write_lock(local_rt) -> None:
    """The engine geocodes inside its step's transaction: reading must not queue behind it."""
    answers = []
    with local_rt.db.transaction():  # on SQLite this holds the one write lock
        worker = threading.Thread(
            target=lambda: answers.append(local_rt.geocoder.search("12 rue de la poterie", VITRE))
        )
        worker.start()
        worker.join(timeout=10)  # busy_timeout is 30 s: a writer would still be waiting
        assert not worker.is_alive()
    assert answers[0].places[0].label == "12 Rue de la Poterie 35500 Vitré"


# Misspellings each database's index shortlists differently: "rcahat" shares no trigram
# with "rachapt" (SQLite's FTS5 cannot see it, PostgreSQL's nearest words include it).
QUERIES = [s[1] for s in SEARCHES] + [
    "rue de", "rue", "poterie", "rue de Vitré", "xqzvw blorf", "Vitré", "rue nationale",
    "rue du rcahat", "rue de foguèras", "re d'emabs", "boulevard de laavl",
]  # fmt: skip


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgresql_and_sqlite_give_the_same_answers(database_url, sqlite_url) -> None:
    on_pg, on_sqlite = Database(database_url), Database(sqlite_url)
    try:
        for query in QUERIES:
            assert LocalGeocoder(on_pg).search(query, VITRE) == LocalGeocoder(on_sqlite).search(
                query, VITRE
            ), query
        assert LocalGeocoder(on_pg).reverse(*POTERIE) == LocalGeocoder(on_sqlite).reverse(*POTERIE)
    finally:
        on_pg.dispose()
        on_sqlite.dispose()


# --- importing --------------------------------------------------------------------------


def test_import_replaces_the_communes_in_the_file(local_app, geocoder, tmp_path) -> None:
    path = tmp_path / "adresses-35360.csv.gz"
    lines = [HEADER, ban_line(5, "", "Rue Pasteur"), ban_line(5, "bis", "Rue Pasteur"),
             ban_line("", "", "Rue Pasteur", lat="not a number")]  # fmt: skip
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    result = import_file(local_app, path)
    assert result.exit_code == 0, result.output
    assert "35360 Vitré: 2 addresses, 1 streets" in result.output
    assert "1 line(s) skipped" in result.output
    assert geocoder.search("12 rue de la poterie", VITRE).places == []  # Vitré replaced
    assert geocoder.search("5 bis rue pasteur", VITRE).places[0].label == (
        "5 bis Rue Pasteur 35500 Vitré"
    )
    assert geocoder.search("rue de Vitré", VITRE).elsewhere == "Fougères"  # Fougères kept


def test_import_the_demo_file_again_from_the_cli(local_app) -> None:
    result = import_file(local_app, ADDRESSES_FILE)
    assert result.exit_code == 0, result.output
    assert "35115 Fougères: 33 addresses, 5 streets" in result.output
    assert "35360 Vitré: 161 addresses, 19 streets" in result.output
    assert "194 addresses in 2 commune(s)." in result.output


BAD_FILES = [
    ("comma-separated", b"id,numero,rep,nom_voie\n1,2,,Rue X\n", "csv",
     "missing column(s) numero, rep, nom_voie"),
    ("a GeoJSON file", b'{"type": "FeatureCollection", "features": []}', "csv",
     "is not a BAN address CSV"),
    ("other columns", b"code_insee;nom_commune;lat\n35360;Vitre;48.1\n", "csv",
     "missing column(s) numero, rep, nom_voie, code_postal, lon"),
    ("binary", bytes(range(256)) * 4, "csv", "is damaged"),
    ("not really gzip", HEADER.encode(), "csv.gz", "is damaged"),
    ("empty", b"", "csv", "missing column(s)"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "content", "ext", "error"), BAD_FILES,
                         ids=[b[0] for b in BAD_FILES])  # fmt: skip
def test_a_file_that_is_not_a_ban_csv_is_refused_clearly(
    local_app, geocoder, tmp_path, label, content, ext, error
) -> None:
    path = tmp_path / f"bad.{ext}"
    path.write_bytes(content)
    result = import_file(local_app, path)
    assert result.exit_code == 1
    assert error in result.output and "nothing imported" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert geocoder.search("12 rue de la poterie", VITRE).places  # the addresses are intact


def test_a_file_damaged_halfway_keeps_the_communes_before(local_app, geocoder, tmp_path):
    path = tmp_path / "adresses-35.csv"
    fougeres = [ban_line(n, "", "Rue Nationale", citycode="35115", city="Fougères",
                         postcode="35300") for n in range(1, 201)]  # fmt: skip
    vitre = [ban_line(n, "", "Rue Pasteur") for n in range(1, 201)]  # beyond a read buffer
    text = "\n".join([HEADER, *fougeres, *vitre]) + "\n"
    path.write_bytes(text.encode() + b"\xff\xfe;cut short\n")
    result = import_file(local_app, path)
    assert result.exit_code == 1
    assert "35115 Fougères: 200 addresses" in result.output and "is damaged" in result.output
    assert "the 1 commune(s) above are imported" in result.output
    assert geocoder.search("12 rue de la poterie", VITRE).places  # Vitré: rolled back, kept


def test_the_columns_used_are_those_of_the_ban() -> None:
    assert set(BAN_COLUMNS) <= set(HEADER.split(";"))
    assert ADDRESSES_FILE.read_text(encoding="utf-8").splitlines()[0] == HEADER


# --- settings ---------------------------------------------------------------------------


def test_geocoders_say_whether_they_need_the_network(local_rt) -> None:
    assert local_rt.geocoder.needs_network is False and local_rt.geocoder.enabled
    assert NoGeocoder.needs_network is False
    assert BanGeocoder.needs_network is True


def test_unset_geocoder_uses_the_imported_addresses_in_development(database_url) -> None:
    db = Database(database_url)
    try:
        development = load_settings({"DATABASE_URL": database_url, "SECRET_KEY": "x"},
                                    dotenv=False)  # fmt: skip
        assert isinstance(make_geocoder(development, db), LocalGeocoder)
        production = load_settings({"DATABASE_URL": database_url, "ENV": "production",
                                    "SECRET_KEY": "x"}, dotenv=False)  # fmt: skip
        assert production.GEOCODER == "ban"
        assert isinstance(make_geocoder(production, db), BanGeocoder)
    finally:
        db.dispose()


def test_unset_geocoder_without_addresses_is_the_ban(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'not-migrated.db'}"
    db = Database(url)
    try:
        settings = load_settings({"DATABASE_URL": url, "SECRET_KEY": "x"}, dotenv=False)
        assert isinstance(make_geocoder(settings, db), BanGeocoder)
    finally:
        db.dispose()


def test_a_wrong_geocoder_name_lists_local() -> None:
    with pytest.raises(ConfigError, match="ban, nominatim, local or none"):
        load_settings({"GEOCODER": "addok", "SECRET_KEY": "x"}, dotenv=False)


def test_geo_search_from_the_cli(local_app) -> None:
    result = local_app.test_cli_runner().invoke(cli, ["geo", "search", "12 r de la poterie"])
    assert result.exit_code == 0, result.output
    assert "12 Rue de la Poterie 35500 Vitré  (48.12460, -1.20820)" in result.output


# --- in the conversation -----------------------------------------------------------------


def test_typed_address_is_confirmed_then_placed(local_rt) -> None:
    citizen = TalkingCitizen(local_rt)
    citizen.to_location_question()
    question = citizen.say("12 rue de la poterie")[-1]
    assert question.text == "Est-ce 12 Rue de la Poterie 35500 Vitré\u202f?"
    summary = citizen.texts("oui")
    assert "Lieu\u202f: 12 Rue de la Poterie 35500 Vitré" in summary
    assert "pas encore placé" not in summary
    number = int(citizen.texts(choice="yes").split("#")[1].split()[0])
    with local_rt.db.reading() as session:
        report = get_report(session, number)
    assert report.geolocated and (report.lat, report.lon) == pytest.approx(POTERIE, abs=1e-4)


def test_address_in_another_commune_is_said_plainly(local_rt) -> None:
    citizen = TalkingCitizen(local_rt)
    citizen.to_location_question()
    text = citizen.texts("rue de Vitré")
    assert "Cette adresse est à Fougères, en dehors de Vitré" in text
    assert citizen.state == "location"


def test_pin_gets_the_nearest_address(local_rt) -> None:
    citizen = TalkingCitizen(local_rt)
    citizen.to_location_question()
    assert "Lieu\u202f: 12 Rue de la Poterie 35500 Vitré" in citizen.texts(location=POTERIE)
