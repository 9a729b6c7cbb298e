"""The conversation as a table: state x input kind, wrong inputs included."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from tests.helpers import TalkingCitizen, a_photo

# Inputs that bring a fresh citizen to each state.
TO_STATE = {
    "menu": [dict(text="bonjour")],
    "description": [dict(text="bonjour"), dict(choice="cat:nid-de-poule")],
    "photo": [dict(text="bonjour"), dict(choice="cat:nid-de-poule"), dict(text="Un trou profond")],
    "location": [dict(text="bonjour"), dict(choice="cat:nid-de-poule"),
                 dict(text="Un trou profond"), dict(choice="skip")],
    "confirm": [dict(text="bonjour"), dict(choice="cat:nid-de-poule"),
                dict(text="Un trou profond"), dict(choice="skip"),
                dict(location=(48.1246, -1.2082))],
}  # fmt: skip


@dataclass
class Row:
    label: str
    state: str
    inbound: dict
    then_state: str
    says: list[str] = field(default_factory=list)


ROWS = [
    # Happy path, one step each.
    Row("first message -> welcome and menu", "start", dict(text="bonjour"), "menu",
        ["Bonjour Marie", "Que souhaitez-vous signaler"]),
    Row("menu: category button", "menu", dict(choice="cat:lampadaire"), "description",
        ["Décrivez le problème"]),
    Row("menu: typed number", "menu", dict(text="4"), "description", ["Décrivez le problème"]),
    Row("menu: typed category word", "menu", dict(text="Lampadaire"), "description", []),
    Row("menu: idea", "menu", dict(choice="idea"), "description", ["Décrivez votre idée"]),
    Row("menu: my reports", "menu", dict(choice="mine"), "menu", ["pas encore de signalement"]),
    Row("description: text", "description", dict(text="Un trou profond"), "photo",
        ["ajouter une photo"]),
    Row("photo: a photo", "photo", dict(photo=a_photo()), "location", ["Où est-ce"]),
    Row("photo: skip button", "photo", dict(choice="skip"), "location", ["Où est-ce"]),
    Row("photo: 'passer' typed", "photo", dict(text="passer"), "location", ["Où est-ce"]),
    Row("location: a pin", "location", dict(location=(48.1246, -1.2082)), "confirm",
        ["Votre signalement", "48.12460, -1.20820"]),
    Row("location: typed address (GEOCODER=none)", "location", dict(text="12 rue de la Poterie"),
        "confirm", ["12 rue de la Poterie (pas encore placé sur la carte)"]),
    Row("confirm: send", "confirm", dict(choice="yes"), "idle",
        ["Votre signalement #", "enregistré"]),
    Row("confirm: 'oui' typed", "confirm", dict(text="oui"), "idle", ["enregistré"]),
    Row("confirm: cancel", "confirm", dict(choice="no"), "idle", ["Annulé"]),
    # Out of order, but nothing is lost.
    Row("description: a photo with caption", "description",
        dict(photo=a_photo(), text="Trou dangereux"), "location", ["Où est-ce"]),
    Row("description: a photo without caption", "description", dict(photo=a_photo()),
        "description", ["Merci pour la photo"]),
    Row("description: a pin sent early", "description", dict(location=(48.1246, -1.2082)),
        "description", ["j’ai le lieu"]),
    Row("photo: words typed are added to the description", "photo", dict(text="pres de l'ecole"),
        "photo", ["ajouté cela à la description"]),
    # Wrong input at every step: a short, polite re-ask, same state.
    Row("menu: unknown word", "menu", dict(text="blabla"), "menu", ["pas compris"]),
    Row("menu: number out of range", "menu", dict(text="42"), "menu", ["pas compris"]),
    Row("menu: a photo", "menu", dict(photo=a_photo()), "menu", ["pas utiliser d’image"]),
    Row("menu: a sticker", "menu", dict(unsupported="sticker"), "menu", ["ne lis que du texte"]),
    Row("description: empty text", "description", dict(text="   "), "description",
        ["quelques mots"]),
    Row("description: 5,000 characters", "description", dict(text="x" * 5000), "description",
        ["5000 caractères", "2000"]),
    Row("description: stale menu button", "description", dict(choice="cat:graffiti"),
        "description", ["n’est plus actif", "Décrivez le problème"]),
    Row("photo: picture too big", "photo", dict(photo_error="too_big"), "photo", ["trop lourde"]),
    Row("photo: not an image", "photo", dict(photo_error="not_image"), "photo", ["que des images"]),
    Row("location: too short", "location", dict(text="ab"), "location", ["taper une adresse"]),
    Row("location: a photo", "location", dict(photo=a_photo()), "location",
        ["pas utiliser d’image", "Où est-ce"]),
    Row("confirm: free text", "confirm", dict(text="euh"), "confirm",
        ["répondre avec l’un des choix", "Je l’envoie"]),
    Row("confirm: a pin", "confirm", dict(location=(48.1, -1.2)), "confirm",
        ["pas besoin de position"]),
    # Commands at any step.
    Row("help mid-report keeps the step", "photo", dict(text="aide"), "photo",
        ["MES DEMANDES", "ajouter une photo"]),
    Row("cancel drops the draft", "photo", dict(text="annuler"), "idle", ["Annulé"]),
    Row("my reports mid-report", "description", dict(text="mes demandes"), "description",
        ["pas encore de signalement", "Décrivez le problème"]),
    Row("status of an unknown report", "location", dict(text="#9999"), "location",
        ["pas de signalement #9999", "Où est-ce"]),
    Row("language: English", "description", dict(text="english"), "description",
        ["I will speak English", "Describe the problem"]),
    Row("language: menu of languages", "menu", dict(text="langue"), "menu", ["Quelle langue"]),
    Row("stop", "photo", dict(text="STOP"), "idle", ["ne recevrez plus"]),
    Row("menu restarts", "confirm", dict(text="menu"), "menu", ["Que souhaitez-vous signaler"]),
]  # fmt: skip


def reach(citizen: TalkingCitizen, state: str) -> None:
    for inbound in TO_STATE.get(state, []):
        citizen.say(**inbound)
    if state != "start":
        assert citizen.state == state


@pytest.mark.parametrize("row", ROWS, ids=[r.label for r in ROWS])
def test_flow_table(sqlite_app, row: Row) -> None:
    citizen = TalkingCitizen(sqlite_app.extensions["webleads"])
    reach(citizen, row.state)
    replies = citizen.say(**row.inbound)
    text = "\n".join(r.text for r in replies)
    assert replies, "every message gets an answer"
    assert citizen.state == row.then_state, text
    for fragment in row.says:
        assert fragment in text, f"{fragment!r} not in {text!r}"


def test_full_report_in_english(sqlite_app) -> None:
    citizen = TalkingCitizen(sqlite_app.extensions["webleads"], "john", name="John",
                             language_code="en-GB")  # fmt: skip
    assert "Hello John!" in citizen.texts("hi")
    assert "Describe the problem" in citizen.texts(choice="cat:lampadaire")
    citizen.say("The light flickers all night")
    citizen.say(choice="skip")
    summary = citizen.texts(location=(48.1246, -1.2082))
    assert "Category: Broken streetlight" in summary
    assert "Description: The light flickers all night" in summary
    done = citizen.texts(choice="yes")
    assert "Your report #1001 is registered" in done


def test_menu_lists_categories_and_ideas(sqlite_app) -> None:
    citizen = TalkingCitizen(sqlite_app.extensions["webleads"])
    replies = citizen.say("bonjour")
    labels = [label for _, label in replies[-1].choices]
    assert labels[0] == "Nid-de-poule"
    assert "Lampadaire en panne" in labels
    assert labels[-2:] == ["Proposer une idée", "Mes demandes"]


def test_idea_can_skip_the_place(sqlite_app) -> None:
    citizen = TalkingCitizen(sqlite_app.extensions["webleads"])
    citizen.say("bonjour")
    citizen.say(choice="idea")
    citizen.say("Des bancs dans le parc du château")
    citizen.say(choice="skip")
    summary = citizen.texts(choice="skip")
    assert "Idée pour la ville" in summary and "Lieu\u202f: aucun" in summary
    assert "Votre idée #1001 est enregistrée" in citizen.texts(choice="yes")


def test_photo_sent_early_skips_the_photo_step(sqlite_app) -> None:
    citizen = TalkingCitizen(sqlite_app.extensions["webleads"])
    citizen.say("bonjour")
    citizen.say(choice="cat:graffiti")
    citizen.say(photo=a_photo())
    assert "Où est-ce" in citizen.texts("Tag sur le mur de la mairie")
    summary = citizen.texts(location=(48.1246, -1.2082))
    assert "Photo\u202f: oui" in summary


def test_message_after_report_is_offered_to_the_open_report(sqlite_app) -> None:
    citizen = TalkingCitizen(sqlite_app.extensions["webleads"])
    number = citizen.file_report()
    offer = citizen.say("Le trou s'agrandit, une voiture a crevé")
    assert citizen.state == "add_to_report"
    assert (f"add:{number}", f"Ajouter à #{number}") in offer[-1].choices
    assert f"Ajouté à #{number}" in citizen.texts("1")
    from models.report import report_events

    with sqlite_app.extensions["webleads"].db.reading() as session:
        events = report_events(session, number)
    assert events[-1].kind == "citizen_message"
    assert events[-1].public_message == "Le trou s'agrandit, une voiture a crevé"


def test_message_after_report_can_start_a_new_one(sqlite_app) -> None:
    citizen = TalkingCitizen(sqlite_app.extensions["webleads"])
    citizen.file_report()
    citizen.say("Autre chose")
    assert "Que souhaitez-vous signaler" in citizen.texts(choice="new")
    assert citizen.state == "menu"


def test_status_of_own_report_and_my_reports(sqlite_app) -> None:
    citizen = TalkingCitizen(sqlite_app.extensions["webleads"])
    number = citizen.file_report()
    assert f"Signalement #{number} (Nid-de-poule)\u202f: enregistré." in citizen.texts(f"#{number}")
    assert f"#{number} Nid-de-poule: enregistré" in citizen.texts("mes demandes")
    assert "enregistré" in citizen.texts(f"suivi {number}")


def test_opted_out_citizen_gets_nothing_until_start(sqlite_app) -> None:
    citizen = TalkingCitizen(
        sqlite_app.extensions["webleads"], channel="sms", sender="+33612345678"
    )
    citizen.say("bonjour")
    assert "ne recevrez plus" in citizen.texts("STOP")
    assert citizen.say("bonjour") == []
    assert citizen.citizen.opted_out
    assert "Que souhaitez-vous signaler" in citizen.texts("START")
    assert not citizen.citizen.opted_out


def test_language_choice_switches_and_reasks(sqlite_app) -> None:
    citizen = TalkingCitizen(sqlite_app.extensions["webleads"])
    reach(citizen, "description")
    citizen.say("langue")
    text = citizen.texts("2")
    assert "I will speak English" in text and "Describe the problem" in text
    assert citizen.citizen.language == "en"


@pytest.fixture
def local_app(database_url, tmp_path):
    """The demo town with GEOCODER=local: its imported addresses, no network."""
    from tests.conftest import _make_app

    app = _make_app(database_url, tmp_path, GEOCODER="local")
    yield app
    app.extensions["webleads"].db.dispose()


LANDMARK = "devant l'église Notre-Dame"
# Where the channel can send a pin (SMS: through the one-time link page), it is offered.
CITIZENS = [dict(channel="dev", sender="marie"), dict(channel="sms", sender="+33612345678")]


@pytest.mark.parametrize("who", CITIZENS, ids=lambda who: who["channel"])
def test_a_landmark_the_geocoder_does_not_know_is_kept_as_typed(local_app, who) -> None:
    from models.report import Report
    from tests.helpers import admin_id, log_in_as

    citizen = TalkingCitizen(local_app.extensions["webleads"], **who)
    citizen.to_location_question()
    offer = citizen.say(LANDMARK)[-1]
    assert f"Je ne trouve pas «\u202f{LANDMARK}\u202f» à Vitré" in offer.text
    assert "gardez le lieu tel que vous l’avez écrit" in offer.text
    assert ("partagez votre position" in offer.text) == (who["channel"] == "sms")
    assert "Garder tel quel" in [label for _, label in offer.choices]
    assert citizen.state == "location"

    assert f"Lieu\u202f: {LANDMARK}" in citizen.texts("1")  # the choice's number, typed
    number = int(re.search(r"#(\d+)", citizen.texts("oui")).group(1))
    with local_app.extensions["webleads"].db.reading() as session:
        report = session.get(Report, number)
        assert (report.address, report.lat, report.geolocated) == (LANDMARK, None, False)
    client = local_app.test_client()
    log_in_as(client, admin_id(local_app.extensions["webleads"]))
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert LANDMARK.replace("'", "&#39;") in page and "lieu à préciser" in page


def test_after_an_unknown_place_a_real_address_is_still_found(local_app) -> None:
    citizen = TalkingCitizen(local_app.extensions["webleads"])
    citizen.to_location_question()
    unknown = "Je ne trouve pas «\u202fplace de la gare\u202f» à Vitré"
    assert unknown in citizen.texts("place de la gare")
    assert "Est-ce 12 Rue de la Poterie 35500 Vitré" in citizen.texts("12 rue de la Poterie")


@pytest.mark.parametrize("who", CITIZENS, ids=lambda who: who["channel"])
def test_the_welcome_names_the_town(rt, who) -> None:
    citizen = TalkingCitizen(rt, **who)
    assert "Je suis l’assistant de signalement de Vitré." in citizen.texts("bonjour")
