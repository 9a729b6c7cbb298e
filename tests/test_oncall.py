"""On call (astreinte): an urgent report reaches someone at 2 a.m.; unanswered, the next
one on the rota; in hours, the service's linked agents at once; a page never waits behind
other messages. Both databases; Telegram through its stand-in, the clock frozen."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta

import pytest
import time_machine

from app.cli import cli
from app.seed import seed_questions
from bot.outbox import OutboxWorker
from models.agent import Agent, agent_by_email
from models.catalog import service_by_code
from models.messaging import PRIORITY_NOTIFICATION, queue_messages
from models.report import Priority, get_report, report_events
from services import crew_digest, crew_links, crews, oncall, reports
from services.audit import Actor, audit_rows
from services.town_clock import TOWN_ZONE
from tests.helpers import (
    TalkingCitizen,
    admin_id,
    csrf_token,
    jpeg_with_gps,
    log_in_as,
    make_agent,
)
from tests.telegram_support import CHAT, callback_update, deliver, payload, post, with_ids
from webhooks.telegram.sender import TelegramSender

# A Sunday, 02:10 in Vitré; a Tuesday at 10:00 (the service at work).
SUNDAY_NIGHT = datetime(2026, 12, 6, 2, 10, tzinfo=TOWN_ZONE)
TUESDAY_MORNING = datetime(2026, 12, 8, 10, 0, tzinfo=TOWN_ZONE)
FIRST, SECOND, HEAD = 7000301, 7000302, 7000303


class AgentPhone:
    """An agent's Telegram chat, through the real webhook and the fake Bot API."""

    ids = itertools.count(950001)

    def __init__(self, client, rt, telegram, chat_id: int, name: str) -> None:
        self.client, self.rt, self.telegram, self.chat_id = client, rt, telegram, chat_id
        self.user = {"id": chat_id, "is_bot": False, "first_name": name, "language_code": "fr"}
        self.chat = {"id": chat_id, "first_name": name, "type": "private"}

    def received(self) -> list[dict]:
        return self.telegram.sent_messages(self.chat_id)

    def _post(self, update: dict) -> list[dict]:
        before = len(self.received())
        assert post(self.client, update).status_code == 200
        deliver(self.rt)
        return self.received()[before:]

    def says(self, words: str) -> list[dict]:
        message = payload("text_message", text=words, chat=self.chat, **{"from": self.user})
        return self._post(with_ids(message, next(self.ids), next(self.ids)))

    def presses(self, data: str) -> list[dict]:
        [message] = [m for m in self.telegram.chat_messages(self.chat_id)
                     if data in str(m.get("reply_markup"))][-1:]  # fmt: skip
        update = callback_update(message, data, next(self.ids))
        update["callback_query"]["from"] = self.user
        return self._post(update)

    def sends_photo(self, caption: str) -> list[dict]:
        picture = jpeg_with_gps(800, 600)
        file_id = f"after-{next(self.ids)}"
        self.telegram.add_file(file_id, picture, f"photos/{file_id}.jpg")
        sizes = [{"file_id": file_id, "file_unique_id": file_id, "file_size": len(picture),
                  "width": 800, "height": 600}]  # fmt: skip
        photo = payload("photo_with_caption", photo=sizes, caption=caption, chat=self.chat,
                        **{"from": self.user})  # fmt: skip
        return self._post(with_ids(photo, next(self.ids), next(self.ids)))


def linked_phone(client, rt, telegram, email: str, chat_id: int, name: str) -> AgentPhone:
    agent_id = make_agent(rt, email, name=name)
    phone = AgentPhone(client, rt, telegram, chat_id, name)
    phone.agent_id = agent_id
    with rt.db.transaction() as session:
        code = crew_links.issue_code(session, agent_id, rt.settings.SECRET_KEY)
    assert phone.says(f"/agent {code}")[0]["text"].startswith("C’est relié")
    return phone


def oncall_cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(cli, ["oncall", *args])
    assert result.exit_code == 0, result.output
    return result.output


def make_urgent(rt, number: int) -> None:
    """What every path that makes a report urgent does (an agent, or the automatic rules)."""
    with rt.db.transaction() as session:
        reports.set_priority(session, number, Priority.URGENT, agent_id=None)


def history(rt, number: int) -> list[tuple[str, str | None]]:
    with rt.db.reading() as session:
        return [(e.kind, session.get(Agent, e.agent_id).email if e.agent_id else None)
                for e in report_events(session, number)
                if e.kind in ("paged", "escalated", "page_acknowledged")]  # fmt: skip


def test_an_urgent_report_at_two_in_the_morning(tg_app, tg_client, tg_rt, telegram) -> None:
    rt = tg_rt
    with time_machine.travel(SUNDAY_NIGHT, tick=True) as clock:
        first = linked_phone(tg_client, rt, telegram, "paul@ville.fr", FIRST, "Paul")
        second = linked_phone(tg_client, rt, telegram, "lea@ville.fr", SECOND, "Léa")
        head = linked_phone(tg_client, rt, telegram, "chef@ville.fr", HEAD, "Chef")
        with rt.db.transaction() as session:
            crew_digest.set_head(session, head.agent_id, service_by_code(session, "voirie").id)
        oncall_cli(tg_app, "set", "voirie", "paul@ville.fr", "--from", "fri 18:00",
                   "--to", "mon 08:00", "--order", "1")  # fmt: skip
        oncall_cli(tg_app, "set", "voirie", "lea@ville.fr", "--from", "18:00", "--to", "08:00",
                   "--order", "2")  # fmt: skip
        assert "paged now: paul@ville.fr, lea@ville.fr" in oncall_cli(tg_app, "list")

        # A resident reports on Telegram at 02:10; their answer to the category's question
        # ("more than 10 cm deep?") makes it urgent, as the town's rule says.
        with rt.db.transaction() as session:
            seed_questions(session)
        rt.catalog.invalidate()
        yann = TalkingCitizen(rt, str(CHAT), channel="telegram", name="Yann", language_code="en")
        yann.say("bonjour")
        yann.say(choice="cat:nid-de-poule")
        assert "10 cm" in yann.say("Un trou profond devant le 12")[-1].text
        yann.say(choice="q:yes")
        picture = jpeg_with_gps(640, 480)  # the resident's photo, through the webhook
        telegram.add_file("hole", picture, "photos/hole.jpg")
        sizes = [{"file_id": "hole", "file_unique_id": "hole", "file_size": len(picture),
                  "width": 640, "height": 480}]  # fmt: skip
        photo = with_ids(payload("photo_with_caption", photo=sizes, caption=None), 990001, 99)
        assert post(tg_client, photo).status_code == 200
        yann.say(location=(48.1246, -1.2082))
        filed = yann.say(choice="yes")
        number = int(re.search(r"#(\d+)", filed[0].text).group(1))
        assert "priority" in " ".join(r.text for r in filed)  # the resident is told
        deliver(rt)
        [page] = first.received()[-1:]
        assert page["text"].startswith(f"URGENT #{number}\u202f: Nid-de-poule")
        assert "openstreetmap.org" in page["text"] and "Un trou profond" in page["text"]
        buttons = [(b["text"], b["callback_data"])
                   for row in page["reply_markup"]["inline_keyboard"] for b in row]  # fmt: skip
        assert buttons == [("Je m’en occupe", f"crew:ack:{number}")]
        assert second.received()[2:] == []  # only the link's two replies so far
        [shown] = telegram.sent_photos(FIRST)  # the page shows the resident's photo too
        assert shown["caption"] == f"Photo de #{number}"

        # Nobody answers for ten minutes: the worker's loop pages the second one.
        clock.shift(timedelta(minutes=9))
        assert oncall.run_escalations(rt) == 0
        clock.shift(timedelta(minutes=2))
        assert oncall.run_escalations(rt) == 1
        deliver(rt)
        [page] = second.received()[-1:]
        assert page["text"].startswith(f"URGENT #{number}")

        # The second acknowledges with the button, then takes it and closes it with a photo.
        [thanks] = second.presses(f"crew:ack:{number}")
        assert thanks["text"].startswith(f"Merci\u202f: vous vous occupez du #{number}")
        clock.shift(timedelta(minutes=30))
        assert oncall.run_escalations(rt) == 0  # answered: nobody else is woken
        told = len(telegram.sent_messages(CHAT))
        assert f"#{number}" in second.presses(f"crew:take:{number}")[0]["text"]
        assert f"#{number}" in second.sends_photo(f"fait {number}")[0]["text"]
        deliver(rt)

        # The console: the history says it, and the dashboard counts it.
        log_in_as(tg_client, admin_id(rt))
        html = tg_client.get(f"/console/reports/{number}").get_data(as_text=True)
        assert (
            html.index("Astreinte appelée")
            < html.index("Appel sans réponse")
            < html.index("Appel pris en charge")
        )
        dash = tg_client.get("/console/dashboard").get_data(as_text=True)
        panel = dash[dash.index('id="oncall"') :]
        assert re.search(r"Voirie</th><td>1</td><td>[^<]+</td><td>1</td>", panel), panel[:600]

    news = [m["text"] for m in telegram.sent_messages(CHAT)[told:]]
    assert news[0].startswith(f"Hello Yann, work on your report #{number}")
    assert any(t.startswith(f"Hello Yann, your report #{number}") for t in news[1:])
    assert telegram.sent_photos(CHAT)[-1]["caption"] == f"The work done on your report #{number}:"
    with rt.db.reading() as session:
        assert get_report(session, number).status == "resolved"
    assert history(rt, number) == [
        ("paged", "paul@ville.fr"),
        ("escalated", "paul@ville.fr"),
        ("paged", "lea@ville.fr"),
        ("page_acknowledged", "lea@ville.fr"),
    ]
    assert head.received()[2:] == []  # the head was never woken
    with rt.db.reading() as session:
        actions = [(r.action, r.agent) for r in audit_rows(session) if r.report == f"#{number}"]
    assert ("page_acknowledged", "lea@ville.fr") in actions and (
        "escalated",
        "paul@ville.fr",
    ) in actions


def test_in_hours_the_services_linked_agents_are_pinged_once(tg_client, tg_rt, telegram) -> None:
    rt = tg_rt
    with time_machine.travel(TUESDAY_MORNING, tick=True) as clock:
        paul = linked_phone(tg_client, rt, telegram, "paul@ville.fr", FIRST, "Paul")
        lea = linked_phone(tg_client, rt, telegram, "lea@ville.fr", SECOND, "Léa")
        marc = linked_phone(tg_client, rt, telegram, "marc@ville.fr", HEAD, "Marc")
        with rt.db.transaction() as session:  # Marc is of another service
            from models.agent import AgentService

            marc_id = agent_by_email(session, "marc@ville.fr").id
            session.query(AgentService).filter_by(agent_id=marc_id).delete()
            session.add(AgentService(agent_id=marc_id, service_id=service_by_code(
                session, "proprete").id))  # fmt: skip
        number = TalkingCitizen(rt, "marie").file_report()
        make_urgent(rt, number)
        deliver(rt)
        for phone in (paul, lea):
            [ping] = phone.received()[2:]
            assert ping["text"].startswith(f"URGENT #{number}")
        assert marc.received()[2:] == []
        clock.shift(timedelta(hours=1))
        assert oncall.run_escalations(rt) == 0  # no escalation in hours
        deliver(rt)
        assert len(paul.received()) == len(lea.received()) == 3
    assert history(rt, number) == [("paged", "paul@ville.fr"), ("paged", "lea@ville.fr")]


def test_a_page_jumps_a_queue_of_200_notices(tg_client, tg_rt, telegram) -> None:
    from models.citizen import Citizen

    rt = tg_rt
    with time_machine.travel(SUNDAY_NIGHT, tick=True):
        paul = linked_phone(tg_client, rt, telegram, "paul@ville.fr", FIRST, "Paul")
        with rt.db.transaction() as session:
            roads = service_by_code(session, "voirie")
            agent = session.get(Agent, paul.agent_id)
            oncall.add_shift(session, Actor.command_line(), roads, agent, "00:00", "08:00")
            citizens = [Citizen(channel="telegram", address=str(8100000 + i)) for i in range(200)]
            session.add_all(citizens)
            session.flush()
            chat = crews.chat_of_agent(session, paul.agent_id)
            waiting = [(c.id, c.address) for c in citizens] + [(chat.citizen_id, str(FIRST))] * 3
            queue_messages(session, [
                {"citizen_id": cid, "channel": "telegram", "address": address,
                 "payload": {"text": "Votre signalement avance."},
                 "priority": PRIORITY_NOTIFICATION} for cid, address in waiting
            ])  # fmt: skip
        number = TalkingCitizen(rt, "marie").file_report()
        make_urgent(rt, number)
        # One round of the worker at Telegram's pace (about 30 messages a second).
        worker = OutboxWorker(rt, {"telegram": TelegramSender(rt.settings, rt.db)})
        worker.run_once()
    assert paul.received()[2]["text"].startswith(f"URGENT #{number}")
    assert len(telegram.sent_messages()) < 60  # the 200 notices still wait


def test_the_rota_page_in_the_console(client, rt) -> None:
    make_agent(rt, "paul@ville.fr", name="Paul")
    log_in_as(client, admin_id(rt))
    with rt.db.reading() as session:
        roads = service_by_code(session, "voirie").id
        paul = agent_by_email(session, "paul@ville.fr").id

    def add(**fields) -> str:
        data = {"csrf_token": csrf_token(client), "service": roads, "agent": paul, "order": 1,
                **fields}  # fmt: skip
        response = client.post("/console/admin/oncall/shifts", data=data)
        assert response.status_code == 303
        return client.get("/console/admin/oncall").get_data(as_text=True)

    page = add(start="sam 18:00", end="lun 08:00")
    assert "Paul est d’astreinte." in page
    assert "samedi 18:00 → lundi 08:00 (chaque semaine)" in page
    assert "Une astreinte finit après avoir commencé." in add(start="2026-12-24 18:00",
                                                               end="2026-12-24 08:00")  # fmt: skip
    assert "n’est pas un moment" in add(start="bientôt", end="18:00")
    cleaner = make_agent(rt, "marc@ville.fr", services=("proprete",))
    assert "marc@ville.fr n’est pas un agent de ce service." in add(
        agent=cleaner, start="18:00", end="08:00"
    )
    huge = {"csrf_token": csrf_token(client), "service": roads, "agent": paul,
            "order": "99999999999999999999", "start": "18:00", "end": "08:00"}  # fmt: skip
    assert client.post("/console/admin/oncall/shifts", data=huge).status_code == 400
    client.post(f"/console/admin/oncall/services/{roads}",
                data={"csrf_token": csrf_token(client), "opens": "08:00", "closes": "17:00",
                      "minutes": 5})  # fmt: skip
    assert 'value="5"' in client.get("/console/admin/oncall").get_data(as_text=True)
    audit = client.get("/console/admin/audit").get_data(as_text=True)
    assert "Astreinte <strong>voirie: paul@ville.fr</strong>" in audit


@pytest.mark.parametrize(
    ("moment", "at_work"),
    [
        (datetime(2026, 12, 8, 10, 0), True),  # a Tuesday morning
        (datetime(2026, 12, 8, 19, 0), False),  # the evening
        (datetime(2026, 12, 6, 2, 10), False),  # a Sunday night
        (datetime(2026, 12, 25, 10, 0), False),  # Christmas, a Friday
        (datetime(2027, 5, 6, 10, 0), False),  # Ascension Thursday 2027
        (datetime(2027, 5, 7, 10, 0), True),  # the Friday after
    ],
)
def test_service_hours_know_weekends_and_public_holidays(moment, at_work) -> None:
    from models.oncall import OnCallService

    hours = OnCallService(service_id=1, opens="08:30", closes="17:30")
    assert oncall.in_service_hours(hours, moment.replace(tzinfo=TOWN_ZONE)) is at_work


def test_answered_by_typing_ok_where_the_chat_has_no_buttons(rt) -> None:
    with time_machine.travel(SUNDAY_NIGHT, tick=True) as clock:
        phones = {}
        for email, name in (("paul@ville.fr", "Paul"), ("lea@ville.fr", "Léa"),
                            ("marc@ville.fr", "Marc")):  # fmt: skip
            agent_id = make_agent(rt, email, name=name)
            phones[name] = TalkingCitizen(rt, f"{name}-phone", name=name, language_code="en")
            with rt.db.transaction() as session:
                code = crew_links.issue_code(session, agent_id, rt.settings.SECRET_KEY)
                if name != "Marc":
                    oncall.add_shift(session, Actor.command_line(),
                                     service_by_code(session, "voirie"),
                                     session.get(Agent, agent_id), "sat 00:00", "mon 00:00",
                                     1 if name == "Paul" else 2)  # fmt: skip
            assert "Linked" in phones[name].texts(f"/agent {code}")
        number = TalkingCitizen(rt, "marie").file_report()
        make_urgent(rt, number)
        [page] = phones["Paul"].new_messages()
        assert page.text.startswith(f"URGENT #{number}: Pothole")
        assert page.text.endswith(f"Reply OK {number} to handle it.")
        said = phones["Marc"].texts(f"ok {number}")
        assert said == f"You were not paged about report #{number}."
        clock.shift(timedelta(minutes=11))
        assert oncall.run_escalations(rt) == 1
        assert phones["Léa"].new_messages()[0].text.startswith(f"URGENT #{number}")
        said = phones["Léa"].texts(f"OK {number}")
        assert said.startswith(f"Thank you: you are handling #{number}, nobody else is paged.")
        assert f"je prends {number}" in said
        assert phones["Paul"].texts(f"ok #{number}") == (
            f"Léa is already handling report #{number}."
        )
    assert history(rt, number) == [
        ("paged", "paul@ville.fr"),
        ("escalated", "paul@ville.fr"),
        ("paged", "lea@ville.fr"),
        ("page_acknowledged", "lea@ville.fr"),
    ]
