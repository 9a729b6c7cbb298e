"""Several communes, as citizens and a communication team read them: the welcome names the
intercommunalité, the bot names the commune that holds the place, a typed address is
searched in every commune, a place outside them all is refused naming the area, and the
launch kit and the public site go per commune and for all. A lone town reads as before."""

from __future__ import annotations

import pytest

from app.cli import cli
from models.audit import admin_changes
from models.citizen import find_citizen
from models.messaging import messages_for_citizen
from models.report import get_report
from services.geo import Place, Town, _keep_in_town
from tests.conftest import _make_app
from tests.helpers import EAST, WEST, TalkingCitizen, add_communes
from tests.test_launchkit import SITE_URL as SITE
from tests.test_launchkit import SMS_URL, read_pdf

FAR = (48.50, -1.60)  # in no commune


def name_it(runner, name: str) -> str:
    result = runner.invoke(cli, ["commune", "intercommunality", name])
    assert result.exit_code == 0, result.output
    return result.output


def number_in(text: str) -> int:
    return int(text.split("#")[1].split()[0])


# --- the bot ---------------------------------------------------------------------------


def test_a_report_in_the_second_commune_is_named_in_its_summary_and_its_number(
    communes,
) -> None:
    rt, _ = communes
    citizen = TalkingCitizen(rt, "est")
    citizen.to_location_question()
    summary = citizen.texts(location=EAST)
    assert "Commune\u202f: Étrelles" in summary and "Vitré" not in summary
    thanks = citizen.texts(choice="yes")
    assert "Votre signalement #" in thanks and "à Étrelles est enregistré" in thanks
    with rt.db.reading() as session:
        assert get_report(session, number_in(thanks)).commune == "35109"
    # The other commune's citizen reads the other name.
    west = TalkingCitizen(rt, "ouest")
    west.to_location_question()
    assert "Commune\u202f: Vitré" in west.texts(location=WEST)
    assert "à Vitré est enregistré" in west.texts(choice="yes")


def test_in_english_the_commune_is_named_too(communes) -> None:
    rt, _ = communes
    citizen = TalkingCitizen(rt, "anglais", language_code="en")
    citizen.to_location_question()
    assert "Commune: Étrelles" in citizen.texts(location=EAST)
    assert "in Étrelles is registered" in citizen.texts(choice="yes")


def test_the_welcome_names_the_intercommunality(communes) -> None:
    rt, runner = communes
    unnamed = TalkingCitizen(rt, "avant").texts("bonjour")
    assert "l’assistant de signalement de vos communes (Étrelles, Vitré)" in unnamed
    assert "Citizens read: Vitré Communauté." in name_it(runner, "  Vitré   Communauté ")
    welcome = TalkingCitizen(rt, "apres").texts("bonjour")
    assert "Je suis l’assistant de signalement de Vitré Communauté." in welcome
    assert "de l’une de ses communes" in welcome and "de la ville" not in welcome
    english = TalkingCitizen(rt, "en", language_code="en").texts("hello")
    assert "I am the reporting assistant of Vitré Communauté." in english
    assert "Intercommunalité: Vitré Communauté" in runner.invoke(cli, ["commune", "list"]).output


def test_naming_the_intercommunality_is_audited_and_can_be_undone(communes) -> None:
    rt, runner = communes
    name_it(runner, "Vitré Communauté")
    assert "Citizens read: Étrelles, Vitré." in name_it(runner, "")
    assert "vos communes (Étrelles, Vitré)" in TalkingCitizen(rt).texts("bonjour")
    with rt.db.reading() as session:
        rows = [r for r in admin_changes(session) if r.name == "intercommunalité"]
    assert [r.changes["name"] for r in rows] == [
        ["Vitré Communauté", None],
        [None, "Vitré Communauté"],
    ]
    too_long = runner.invoke(cli, ["commune", "intercommunality", "x" * 121])
    assert too_long.exit_code != 0 and "too long" in too_long.output


def test_a_pin_outside_every_commune_is_refused_naming_the_area(communes) -> None:
    rt, runner = communes
    citizen = TalkingCitizen(rt, "loin")
    citizen.to_location_question()
    unnamed = citizen.texts(location=FAR)
    assert "zone couverte par le service (Étrelles, Vitré)" in unnamed
    name_it(runner, "Vitré Communauté")
    named = citizen.texts(location=FAR)
    assert "(Vitré Communauté). Merci d’indiquer un lieu dans Vitré Communauté." in named
    assert citizen.state == "location"


def test_a_lone_town_is_named_in_the_welcome(rt) -> None:
    citizen = TalkingCitizen(rt)
    assert "Je suis l’assistant de signalement de Vitré." in citizen.texts("bonjour")
    citizen.say(choice="cat:nid-de-poule")
    citizen.say("Un trou")
    citizen.say(choice="skip")
    summary = citizen.texts(location=WEST)
    assert "Commune" not in summary
    thanks = citizen.texts(choice="yes")
    assert "Votre signalement #" in thanks and " à " not in thanks.split("enregistré")[0]
    outside = TalkingCitizen(rt, "loin")
    outside.to_location_question()
    assert "(Vitré). Merci d’indiquer un lieu dans Vitré." in outside.texts(location=FAR)


# --- a typed address, searched in every commune ------------------------------------------

FOUGERES_BOX = (-1.25, 48.30, -1.15, 48.40)
VITRE_BOX = (-1.29, 48.08, -1.14, 48.17)


@pytest.fixture
def local_communes(database_url, tmp_path):
    """GEOCODER=local with the demo addresses (Vitré, Fougères), both communes served."""
    app = _make_app(database_url, tmp_path, GEOCODER="local")
    rt = app.extensions["webleads"]
    add_communes(
        app, tmp_path, (("35360", "Vitré", VITRE_BOX), ("35115", "Fougères", FOUGERES_BOX))
    )
    yield rt
    rt.db.dispose()


def test_a_typed_address_in_the_other_commune_is_found(local_communes) -> None:
    rt = local_communes
    citizen = TalkingCitizen(rt)
    citizen.to_location_question()
    question = citizen.say("rue de Vitré")[-1]  # a street of Fougères
    assert question.text.startswith("Est-ce ") and "35300 Fougères" in question.text
    summary = citizen.texts("oui")
    assert "Commune\u202f: Fougères" in summary
    thanks = citizen.texts(choice="yes")
    assert "à Fougères est enregistré" in thanks
    with rt.db.reading() as session:
        assert get_report(session, number_in(thanks)).commune == "35115"


def test_the_same_street_in_two_communes_is_offered_in_both(local_communes) -> None:
    with local_communes.db.reading() as session:
        town = local_communes.catalog.get(session).town
    assert town.codes == {"35360", "35115"}
    labels = [p.label for p in local_communes.geocoder.search("2 rue de la poterie", town).places]
    assert "2 Rue de la Poterie 35300 Fougères" in labels
    assert any(label.endswith("35500 Vitré") for label in labels), labels


def test_the_national_service_keeps_every_communes_addresses() -> None:
    """BAN/addok answers carry the INSEE code: any of the communes' is in."""
    places = [
        Place("Rue de Vitré 35300 Fougères", 48.35, -1.2, 0.9, "Fougères", "35115", "street"),
        Place("Rue de Vitré 35500 Vitré", 48.12, -1.2, 0.85, "Vitré", "35360", "street"),
        Place("Rue de Vitré 35000 Rennes", 48.11, -1.68, 0.86, "Rennes", "35238", "street"),
    ]
    both = _keep_in_town(places, Town("Vitré Communauté", citycodes=("35115", "35360")))
    assert [p.citycode for p in both.places] == ["35115", "35360"]
    alone = _keep_in_town(places, Town("Vitré", "35360"))
    assert [p.citycode for p in alone.places] == ["35360"]


# --- the launch kit ----------------------------------------------------------------------


@pytest.fixture
def kit_communes(database_url, tmp_path):
    """Two communes, a bot name and an SMS number."""
    app = _make_app(database_url, tmp_path, TELEGRAM_BOT_USERNAME="VitreBot",
                    TWILIO_FROM_NUMBER="+33612345678")  # fmt: skip
    runner = add_communes(app, tmp_path)
    name_it(runner, "Vitré Communauté")
    yield app, runner
    app.extensions["webleads"].db.dispose()


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_kit_of_one_commune_names_it_and_links_its_reports(kit_communes, tmp_path) -> None:
    _app, runner = kit_communes
    out = tmp_path / "etrelles"
    result = runner.invoke(cli, ["launch-kit", "--out", str(out), "--commune", "35109"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "affiche-A4.pdf", "flyer-A5.pdf", "guide-agents.pdf"
    ]  # fmt: skip
    for name in ("affiche-A4.pdf", "flyer-A5.pdf"):
        codes, text = read_pdf((out / name).read_bytes())
        # One bot for every commune; the public site's code shows the commune's reports.
        assert codes == sorted(["https://t.me/VitreBot", SMS_URL, f"{SITE}?commune=35109"])
        assert "Signalez-le à la ville d’Étrelles" in text
        assert "https://webleads.example.org/reports?commune=35109" in flat(text)
    _codes, guide = read_pdf((out / "guide-agents.pdf").read_bytes())
    assert "Guide de l’agent – Étrelles" in guide
    unknown = runner.invoke(cli, ["launch-kit", "--out", str(out), "--commune", "99999"])
    assert unknown.exit_code != 0 and "No commune '99999'" in unknown.output


def test_the_kit_for_all_names_the_intercommunality_with_one_per_commune(
    kit_communes, tmp_path
) -> None:
    _app, runner = kit_communes
    out = tmp_path / "kit"
    result = runner.invoke(cli, ["launch-kit", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["35109-etrelles", "35360-vitre"]
    assert "Vitré Communauté:" in result.output and "Étrelles:" in result.output
    codes, text = read_pdf((out / "affiche-A4.pdf").read_bytes())
    assert codes == sorted(["https://t.me/VitreBot", SMS_URL, SITE])
    assert "Signalez-le à Vitré Communauté" in text
    assert "Dans les communes : Étrelles, Vitré" in flat(text)
    assert "https://webleads.example.org/reports, et" in flat(text)  # the whole site
    _codes, vitre = read_pdf((out / "35360-vitre" / "affiche-A4.pdf").read_bytes())
    assert "Signalez-le à la ville de Vitré" in vitre and "reports?commune=35360" in flat(vitre)


def test_a_lone_towns_kit_has_no_commune_option_to_use(database_url, tmp_path) -> None:
    app = _make_app(database_url, tmp_path, TELEGRAM_BOT_USERNAME="VitreBot")
    try:
        out = tmp_path / "kit"
        result = app.test_cli_runner().invoke(cli, ["launch-kit", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert [p.name for p in out.iterdir() if p.is_dir()] == []
        assert result.output.startswith("Wrote ")
        _codes, text = read_pdf((out / "affiche-A4.pdf").read_bytes())
        assert "Signalez-le à la ville de Vitré" in text and "?commune=" not in text
    finally:
        app.extensions["webleads"].db.dispose()


# --- the public site ---------------------------------------------------------------------


def test_the_public_site_names_the_commune_and_filters_by_it(communes, app) -> None:
    rt, _ = communes
    west = TalkingCitizen(rt, "ouest").file_report(location=WEST)
    east = TalkingCitizen(rt, "est").file_report(location=EAST)
    client = app.test_client()
    everything = client.get("/reports").get_data(as_text=True)
    assert f"#{west}" in everything and f"#{east}" in everything
    assert 'name="commune"' in everything and "· Étrelles ·" in everything
    only = client.get("/reports?commune=35109").get_data(as_text=True)
    assert f"#{east}" in only and f"#{west}" not in only
    unknown = client.get("/reports?commune=nope").get_data(as_text=True)
    assert f"#{east}" in unknown and f"#{west}" in unknown  # an unknown value is no filter
    page = client.get(f"/reports/{east}").get_data(as_text=True)
    assert "<dt>Commune</dt><dd>Étrelles</dd>" in page


def test_a_lone_towns_public_site_has_no_commune_filter(client) -> None:
    assert 'name="commune"' not in client.get("/reports").get_data(as_text=True)


# --- the SMS still fit -------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_sms_fits_in_two_segments_with_the_communes_named(
    database_url, tmp_path, twilio, addok, lang
) -> None:
    """The whole SMS walk of test_sms_length, in a two-commune deployment: the welcome,
    the summary and the report's number now name the intercommunalité and the commune."""
    from tests import test_sms_length
    from tests.sms_support import make_sms_app

    app = make_sms_app(database_url, tmp_path, twilio, GEOCODER="ban",
                       GEOCODER_URL=addok.base_url)  # fmt: skip
    try:
        runner = add_communes(app, tmp_path)
        name_it(runner, "Vitré Communauté")
        test_sms_length.test_every_sms_of_a_whole_conversation_fits_in_two_segments(
            app, addok, lang
        )
        rt = app.extensions["webleads"]
        with rt.db.reading() as session:
            sent = [m.payload["text"] for m in messages_for_citizen(
                session, find_citizen(session, "sms", test_sms_length.PHONE).id)]  # fmt: skip
        said = "Vitré Communauté" if lang == "fr" else "of Vitré Communauté"
        assert any(said in text for text in sent)  # the walk met the new texts
        assert any(("à Vitré est" if lang == "fr" else "in Vitré is") in t for t in sent)
    finally:
        app.extensions["webleads"].db.dispose()


# --- a report placed after it was filed --------------------------------------------------


def own_service(rt, insee: str, category_id: int, code: str) -> int:
    from models.catalog import Service
    from models.commune import set_route

    with rt.db.transaction() as session:
        service = Service(code=code, name_fr=code, name_en=code)
        session.add(service)
        session.flush()
        set_route(session, insee, category_id, service.id)
        return service.id


def test_a_pin_from_the_sms_link_gives_the_report_its_commune(sms_app, twilio, tmp_path) -> None:
    from tests.sms_support import Phone
    from tests.test_link_page import post, report_with_link

    add_communes(sms_app, tmp_path)
    phone = Phone(sms_app, twilio)
    number, path = report_with_link(phone)  # a typed address, kept as text
    rt = phone.rt
    with rt.db.reading() as session:
        report = get_report(session, number)
    assert report.commune is None and not report.geolocated
    etrelles = own_service(rt, "35109", report.category_id, "voirie-etrelles")
    assert post(phone.client, path, pin=EAST).status_code == 200
    with rt.db.reading() as session:
        report = get_report(session, number)
    assert (report.commune, report.service_id) == ("35109", etrelles)


def test_an_address_placed_later_gives_the_report_its_commune(local_communes) -> None:
    from services.geo import NoGeocoder
    from services.placing import place_unlocated

    rt = local_communes
    geocoder, rt.geocoder = rt.geocoder, NoGeocoder()  # down when the citizen typed it
    citizen = TalkingCitizen(rt)
    citizen.to_location_question()
    citizen.say("1 rue de la Poterie Fougères")
    number = number_in(citizen.texts(choice="yes"))
    with rt.db.reading() as session:
        report = get_report(session, number)
    assert report.commune is None and not report.geolocated
    fougeres = own_service(rt, "35115", report.category_id, "voirie-fougeres")
    rt.geocoder = geocoder
    assert place_unlocated(rt) == (1, 0)
    with rt.db.reading() as session:
        report = get_report(session, number)
    assert report.geolocated and (report.commune, report.service_id) == ("35115", fougeres)
