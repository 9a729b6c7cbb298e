"""The pilot: in or out by zone, service, group (invite code, allowlist); opening it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.cli import cli
from models.citizen import update_citizen
from models.db import utcnow
from models.messaging import messages_for_citizen
from models.pilot import all_invites, demand_since
from models.zone import Zone
from services import pilot
from services.audit import Actor
from tests.helpers import TalkingCitizen

CENTRE = {
    "type": "Polygon",
    "coordinates": [
        [[-1.21, 48.12], [-1.20, 48.12], [-1.20, 48.13], [-1.21, 48.13], [-1.21, 48.12]]
    ],
}
POTERIE = (48.1246, -1.2082)  # in the centre
IN_TOWN_OUTSIDE_CENTRE = (48.105, -1.24)
PHONE = "+33612345678"
INTRO = "open to a first group of residents"
ADMIN = Actor("admin@vitre.example")


def change(rt, fn) -> None:
    """Changes the pilot as the console or the CLI would, then reloads the catalog."""
    with rt.db.transaction() as session:
        fn(session)
    rt.catalog.invalidate()


def with_code(rt, code: str = "centre") -> None:
    change(rt, lambda s: pilot.add_code(s, ADMIN, code, "Quartier du centre"))


def demand_rows(rt) -> list[tuple[str, str, int]]:
    with rt.db.reading() as session:
        rows = demand_since(session, utcnow().date() - timedelta(days=30))
    return sorted((r.channel, r.reason, r.contacts) for r in rows)


def english(rt, sender: str = "marie", channel: str = "dev") -> TalkingCitizen:
    return TalkingCitizen(rt, sender, channel=channel, language_code="en")


def test_no_pilot_rule_means_open_to_everyone(rt) -> None:
    replies = english(rt).say("hello")
    assert replies[-1].text == "What would you like to report?"
    assert demand_rows(rt) == []


# --- groups ------------------------------------------------------------------------------


def test_outside_the_group_gets_a_friendly_answer_and_is_counted_once_a_day(rt) -> None:
    with_code(rt)
    change(rt, lambda s: pilot.set_opening(s, ADMIN, "1 June 2026"))
    change(rt, lambda s: pilot.set_services(s, ADMIN, ["voirie"]))
    citizen = english(rt)
    text = citizen.texts("hello")
    assert INTRO in text
    assert "It takes reports about: Roads." in text
    assert "It opens to everyone on 1 June 2026." in text
    assert "If you received an invitation code, send it here." in text
    assert citizen.state == "start"
    citizen.say("please let me report")
    citizen.say(choice="cat:nid-de-poule")  # an old button does not get in either
    assert citizen.state == "start"
    assert demand_rows(rt) == [("dev", "group", 1)]
    english(rt, PHONE, "sms").say("Bonjour")
    assert demand_rows(rt) == [("dev", "group", 1), ("sms", "group", 1)]
    # The next day, the same citizen counts again.
    yesterday = utcnow().date() - timedelta(days=1)
    with rt.db.transaction() as session:
        update_citizen(session, citizen.citizen.id, refused_on=yesterday)
    citizen.say("hello again")
    assert demand_rows(rt) == [("dev", "group", 2), ("sms", "group", 1)]


@pytest.mark.parametrize(
    ("channel", "sender", "message"),
    [
        ("telegram", "3527065", "/start CENTRE"),  # t.me/<bot>?start=CENTRE
        ("telegram", "3527066", "/start centre"),
        ("sms", PHONE, "Centre"),  # the code alone, any case
        ("sms", "+33612345679", " CENTRE. "),
    ],
)
def test_an_invite_code_lets_the_citizen_in(rt, channel, sender, message) -> None:
    with_code(rt)
    citizen = english(rt, sender, channel)
    replies = citizen.say(message)
    assert replies[0].text == "Your invitation is accepted: welcome to the pilot!"
    assert replies[-1].text == "What would you like to report?"
    assert citizen.state == "menu"
    assert citizen.citizen.admitted_via == "code:centre"
    with rt.db.reading() as session:
        assert all_invites(session)[0].uses == 1
    assert citizen.say(choice="cat:nid-de-poule")[-1].text.startswith("Describe")
    assert demand_rows(rt) == []


def test_a_wrong_code_is_said_plainly(rt) -> None:
    with_code(rt)
    citizen = english(rt, "3527065", "telegram")
    text = citizen.texts("/start WRONG")
    assert text.startswith("This invitation code is not valid (or no longer).")
    assert INTRO in text
    assert citizen.citizen.admitted_at is None


def test_admitted_once_stays_admitted(rt) -> None:
    with_code(rt)
    citizen = english(rt, PHONE, "sms")
    citizen.say("centre")
    change(rt, lambda s: pilot.deactivate_code(s, ADMIN, "CENTRE"))
    change(rt, lambda s: pilot.allow(s, ADMIN, "0611111111"))  # the pilot still restricts groups
    assert citizen.say("menu")[-1].text == "What would you like to report?"
    newcomer = english(rt, "+33612345670", "sms")
    assert INTRO in newcomer.texts("centre")  # the code is off now


@pytest.mark.parametrize(
    ("entry", "channel", "sender"),
    [
        ("06 12 34 56 78", "sms", PHONE),
        ("+33 6 12 34 56 78", "sms", PHONE),
        ("3527065", "telegram", "3527065"),
    ],
)
def test_the_allowlist_lets_people_in(rt, entry, channel, sender) -> None:
    change(rt, lambda s: pilot.allow(s, ADMIN, entry, "Conseil de quartier"))
    citizen = english(rt, sender, channel)
    assert citizen.say("hello")[-1].text == "What would you like to report?"
    assert citizen.citizen.admitted_via == "allowlist"
    stranger = english(rt, "+33699999999" if channel == "sms" else "999999", channel)
    assert INTRO in stranger.texts("hello")


def test_someone_who_already_reported_is_let_in_when_a_pilot_starts(rt) -> None:
    citizen = english(rt)
    citizen.file_report()
    with_code(rt)
    assert citizen.say("menu")[-1].text == "What would you like to report?"
    assert citizen.citizen.admitted_via == "earlier report"


def test_stop_and_erase_work_outside_the_pilot(rt) -> None:
    with_code(rt)
    citizen = english(rt, PHONE, "sms")
    citizen.say("hello")
    assert citizen.texts("STOP").startswith("You will no longer receive messages")
    assert INTRO in citizen.texts("START")  # opted in again, still outside the pilot
    assert citizen.say("centre")[0].text.startswith("Your invitation is accepted")
    other = english(rt, "+33612345670", "sms")
    other.say("hello")
    assert other.texts("DELETE").startswith("Delete your data?")
    citizen_id = other.citizen.id
    other.say("yes")
    with rt.db.reading() as session:
        last = messages_for_citizen(session, citizen_id)[-1]
    assert last.payload["text"].startswith("Done: your data is deleted.")


# --- services ----------------------------------------------------------------------------


def test_only_the_pilot_services_are_offered(rt) -> None:
    change(rt, lambda s: pilot.set_services(s, ADMIN, ["voirie"]))
    citizen = english(rt)
    menu = citizen.say("hello")[-1]
    offered = [value for value, _ in menu.choices]
    assert offered == ["cat:nid-de-poule", "cat:trottoir", "cat:signalisation", "mine"]
    refusal = citizen.say("streetlight")  # a category of another service, typed
    assert refusal[0].text == (
        "During the pilot, I can only take reports about: Roads. It will open to everyone soon."
    )
    assert citizen.state == "menu"
    citizen.say(choice="cat:lampadaire")  # a button from before the pilot
    assert citizen.state == "menu"
    assert demand_rows(rt) == [("dev", "service", 1)]
    assert citizen.say("1")[-1].text.startswith("Describe")


# --- zones -------------------------------------------------------------------------------


def pilot_zone(session) -> None:
    session.add(Zone(name="Centre historique", kind="pilot", geometry=CENTRE))


def test_a_place_outside_the_pilot_zone_is_refused_and_counted(rt) -> None:
    change(rt, pilot_zone)
    citizen = english(rt)
    citizen.to_location_question(description="A deep hole")
    assert "(Centre historique)" in citizen.texts(location=IN_TOWN_OUTSIDE_CENTRE)
    assert citizen.state == "location"
    assert demand_rows(rt) == [("dev", "zone", 1)]
    assert "Your report" in citizen.texts(location=POTERIE)


# --- opening -----------------------------------------------------------------------------


def test_turning_the_pilot_off_opens_everything_at_once(rt) -> None:
    with_code(rt)
    change(rt, pilot_zone)
    change(rt, lambda s: pilot.set_services(s, ADMIN, ["voirie"]))
    citizen = english(rt)
    assert INTRO in citizen.texts("hello")
    change(rt, lambda s: pilot.switch(s, ADMIN, False))
    menu = citizen.say("hello")[-1]
    assert "cat:lampadaire" in [value for value, _ in menu.choices]
    citizen.say(choice="cat:lampadaire")
    citizen.say("The lamp is out")
    citizen.say(choice="skip")
    assert "Your report" in citizen.texts(location=IN_TOWN_OUTSIDE_CENTRE)
    assert citizen.citizen.admitted_at is None  # open to all: nobody needs letting in
    change(rt, lambda s: pilot.switch(s, ADMIN, True))
    assert INTRO in english(rt, "other").texts("hello")


# --- administration ----------------------------------------------------------------------


def invoke(app, *args):
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def test_pilot_from_the_command_line(app, rt) -> None:
    assert "nothing is restricted" in invoke(app, "pilot", "status").output
    out = invoke(app, "pilot", "code", "add", "Centre", "--label", "Quartier du centre").output
    assert "Invite code centre is active (Quartier du centre)." in out
    assert "Allowed: sms +33612345678." in invoke(app, "pilot", "allow", "06 12 34 56 78").output
    assert "Allowed: telegram 3527065." in invoke(app, "pilot", "allow", "3527065").output
    out = invoke(app, "pilot", "services", "voirie", "eclairage").output
    assert "eclairage, voirie" in out
    invoke(app, "pilot", "opens-on", "1er juin 2026")
    status = invoke(app, "pilot", "status").output
    assert "Pilot: on." in status and "Services: eclairage, voirie." in status
    assert "1 active invite code(s), allowlist" in status and "1er juin 2026" in status
    english(rt, "+33600000001", "sms").say("hello")
    english(rt, "+33612345678", "sms").say("hello")
    demand = invoke(app, "pilot", "demand").output
    assert "1 contact(s)" in demand and "sms       group        1" in demand
    assert "allowlist: 1" in demand
    assert "centre" in invoke(app, "pilot", "code", "list").output
    assert "open to everyone" in invoke(app, "pilot", "off").output
    assert "Pilot: off." in invoke(app, "pilot").output
    assert "Pilot: on." in invoke(app, "pilot", "on").output


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["code", "add", "stop"], "already understands"),
        (["code", "add", "12345"], "at least one letter"),
        (["code", "add", "a b"], "3 to 32"),
        (["code", "off", "nope"], "No invite code"),
        (["services", "voirie", "piscine"], "No service piscine"),
        (["allow", "hello"], "is not an address on any channel"),
        (["allow", "+3361"], "not a valid phone number"),
    ],
)
def test_pilot_commands_refuse_bad_input(sqlite_app, args, error) -> None:
    result = sqlite_app.test_cli_runner().invoke(cli, ["pilot", *args])
    assert result.exit_code != 0 and error in result.output
