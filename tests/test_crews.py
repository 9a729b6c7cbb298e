"""Field crews (issue 14): an agent links a chat, then takes, closes and hands back reports
from it; the citizen sees the repair. Both databases; Telegram through its fake."""

from __future__ import annotations

import io
import itertools
import re
from datetime import datetime, timedelta

import time_machine
from PIL import Image

from app.cli import cli
from models.agent import agent_by_email
from models.catalog import service_by_code
from models.citizen import lock_citizen
from models.crew import LinkCode
from models.messaging import messages_for_citizen
from models.report import get_report, media_of_report, report_events
from services import crew_digest, crew_links, crews, reports
from services.audit import audit_rows
from services.town_clock import TOWN_ZONE
from tests.helpers import (
    TalkingCitizen,
    a_photo,
    add_reports,
    admin_id,
    csrf_token,
    jpeg_with_gps,
    log_in_as,
    make_agent,
    report_by,
)
from tests.telegram_support import CHAT, callback_update, deliver, payload, post, with_ids

AGENT_CHAT = 7000111


def code_for(rt, agent_id: int) -> str:
    with rt.db.transaction() as session:
        return crew_links.issue_code(session, agent_id, rt.settings.SECRET_KEY)


def linked(rt, email: str = "paul@ville.fr", services=("voirie",), sender="paul-phone"):
    agent_id = make_agent(rt, email, services=services)
    phone = TalkingCitizen(rt, sender, name="Paul", language_code="en")
    assert "Linked" in phone.texts(f"/agent {code_for(rt, agent_id)}")
    return agent_id, phone


def test_link_with_a_good_wrong_expired_and_reused_code(rt) -> None:
    agent_id = make_agent(rt, "paul@ville.fr")
    phone = TalkingCitizen(rt, "paul-phone", name="Paul", language_code="en")
    code = code_for(rt, agent_id)
    with rt.db.reading() as session:  # only a hash is kept
        assert all(code not in row.code_hash for row in session.query(LinkCode))

    wrong = "0" * 8 if code != "0" * 8 else "1" * 8
    assert "not right" in phone.texts(f"/agent {wrong}")
    assert crews_agent(rt, phone) is None
    # "/agent 1234" from a chat never linked is not a citizen's report either.
    assert phone.state == "start"

    assert "Linked: this chat is now paul's phone" in phone.texts(f"/agent {code}")
    assert crews_agent(rt, phone) == agent_id

    other = TalkingCitizen(rt, "someone-else", language_code="en")
    assert "already been used" in other.texts(f"AGENT {code}")
    assert crews_agent(rt, other) is None

    late = code_for(rt, agent_id)
    with rt.db.transaction() as session:
        for row in session.query(LinkCode).filter(LinkCode.used_at.is_(None)):
            row.expires_at = row.created_at - timedelta(seconds=1)
    assert "expired" in other.texts(f"/agent {late}")
    assert crews_agent(rt, other) is None


def test_guesses_are_rate_limited(rt) -> None:
    agent_id = make_agent(rt, "paul@ville.fr")
    guesser = TalkingCitizen(rt, "guesser", language_code="en")
    for n in range(crew_links.MAX_GUESSES):
        assert "not right" in guesser.texts(f"/agent {10000000 + n}")
    good = code_for(rt, agent_id)
    assert "Too many wrong codes" in guesser.texts(f"/agent {good}")
    assert crews_agent(rt, guesser) is None


def crews_agent(rt, talker: TalkingCitizen) -> int | None:
    with rt.db.reading() as session:
        agent = crews.agent_of_chat(session, talker.citizen.id)
        return agent.id if agent else None


def test_an_agent_of_another_service_cannot_take_or_close(rt) -> None:
    number = report_by(rt, "marie")  # a pothole: Roads
    _, phone = linked(rt, "lea@ville.fr", services=("proprete",), sender="lea-phone")
    for said in (f"je prends {number}", f"fait {number}", f"note {number} vu",
                 f"pas pour nous {number} pas chez nous"):  # fmt: skip
        assert f"cannot work on report #{number}" in phone.texts(said)
    assert "cannot work" in phone.texts(choice=f"crew:take:{number}")
    with rt.db.reading() as session:
        report = get_report(session, number)
        assert report.status == "new" and report.assigned_agent_id is None
        assert [e.kind for e in report_events(session, number)] == ["created"]


def test_hand_back_and_notes_and_tasks_from_the_field(rt) -> None:
    late, fresh = add_reports(
        rt,
        [
            {"created_at": datetime.now().astimezone() - timedelta(days=5)},
            {"lat": 48.1300, "lon": -1.2000},
        ],
    )
    agent_id, phone = linked(rt)
    with rt.db.transaction() as session:
        for n in (fresh, late):
            reports.assign(session, n, service_id=get_report(session, n).service_id,
                           assignee_id=agent_id, agent_id=admin_id(rt))  # fmt: skip
    assert len(phone.new_messages()) == 2  # the two assignments, at once
    listing = phone.texts("/taches")
    assert listing.index(f"#{late}") < listing.index(f"#{fresh}")
    assert "overdue" in listing.split(f"#{late}")[0]

    assert "Note added" in phone.texts(f"note {late} Il faut une pelleteuse")
    assert "Why is" in phone.texts(choice=f"crew:back:{late}")
    assert "back in the service's queue" in phone.texts("Pas chez nous, c'est le département")
    with rt.db.reading() as session:
        report = get_report(session, late)
        notes = [e.internal_note for e in report_events(session, late) if e.kind == "note"]
    assert report.assigned_agent_id is None and report.status == "new"
    assert notes == [
        "Il faut une pelleteuse",
        "Pas pour nous : Pas chez nous, c'est le département",
    ]
    assert f"#{late}" not in phone.texts("/taches")

    # Sharing a location: the open reports of their services within 300 m, nearest first.
    near = phone.say(location=(48.1246, -1.2082))
    assert f"#{late}" in near[0].text and f"#{fresh}" not in near[0].text
    rows = [r for r in audit_rows_of(rt) if r.report == f"#{late}"]
    assert {r.action for r in rows} >= {"note (field)", "assigned (field)"}


def audit_rows_of(rt):
    with rt.db.reading() as session:
        return audit_rows(session)


def test_a_whole_report_from_telegram(tg_client, tg_rt, telegram, tmp_path) -> None:
    rt = tg_rt
    ids = itertools.count(900001)
    # The citizen reports on Telegram; a neighbour by SMS follows the same report.
    yann = TalkingCitizen(rt, str(CHAT), channel="telegram", name="Yann", language_code="en")
    number = yann.file_report()
    with rt.db.transaction() as session:
        neighbour, _, _ = lock_citizen(session, "sms", "+33612345678", display_name=None,
                                       language="fr")  # fmt: skip
        reports.join_report(session, get_report(session, number), neighbour, {})
    deliver(rt)

    agent_id = make_agent(rt, "paul@ville.fr")
    agent = {"id": AGENT_CHAT, "is_bot": False, "first_name": "Paul", "language_code": "fr"}
    chat = {"id": AGENT_CHAT, "first_name": "Paul", "type": "private"}

    def agent_says(update: dict) -> list[dict]:
        before = len(telegram.sent_messages(AGENT_CHAT))
        assert post(tg_client, update).status_code == 200
        deliver(rt)
        return telegram.sent_messages(AGENT_CHAT)[before:]

    def text(words: str) -> dict:
        return with_ids(payload("text_message", text=words, chat=chat, **{"from": agent}),
                        next(ids), next(ids))  # fmt: skip

    [linked_msg, _help] = agent_says(text(f"/agent {code_for(rt, agent_id)}"))
    assert linked_msg["text"].startswith("C’est relié")

    # The admin assigns it in the console: the card reaches the agent's chat at once.
    with rt.db.transaction() as session:
        reports.assign(session, number, service_id=get_report(session, number).service_id,
                       assignee_id=agent_id, agent_id=admin_id(rt))  # fmt: skip
    deliver(rt)
    [card] = telegram.sent_messages(AGENT_CHAT)[-1:]
    assert card["text"].startswith(f"Nouveau signalement pour vous\u202f: #{number}, Nid-de-poule")
    assert "openstreetmap.org" in card["text"] and "Un trou profond" in card["text"]
    buttons = [b["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == [f"crew:take:{number}", f"crew:back:{number}"]

    # "Je prends": in progress, and the citizen is told as from the console.
    before = len(telegram.sent_messages(CHAT))
    message = [m for m in telegram.chat_messages(AGENT_CHAT) if "reply_markup" in m][-1]
    [taken] = agent_says(callback_update(message, f"crew:take:{number}", next(ids)) | {})
    assert f"#{number}" in taken["text"]
    [told] = telegram.sent_messages(CHAT)[before:]
    assert told["text"].startswith(f"Hello Yann, work on your report #{number}")

    # A photo with "fait": resolved; the photo (no EXIF) goes to the citizen's chat.
    picture = jpeg_with_gps(800, 600)
    telegram.add_file("after-big", picture, "photos/after.jpg")
    sizes = [{"file_id": "after-big", "file_unique_id": "ab", "file_size": len(picture),
              "width": 800, "height": 600}]  # fmt: skip
    photo = with_ids(payload("photo_with_caption", photo=sizes, caption="Fait", chat=chat,
                             **{"from": agent}), next(ids), next(ids))  # fmt: skip
    [done] = agent_says(photo)
    assert f"#{number}" in done["text"] and "photo" in done["text"]
    with rt.db.reading() as session:
        report = get_report(session, number)
        [after] = media_of_report(session, number)
        events = report_events(session, number)
    assert report.status == "resolved"
    [sent_photo] = telegram.sent_photos(CHAT)
    assert sent_photo["caption"] == f"The work done on your report #{number}:"
    shown = Image.open(io.BytesIO(sent_photo["photo"]))
    assert len(shown.getexif()) == 0 and (shown.width, shown.height) == (800, 600)
    assert (tmp_path / "media" / after.path).read_bytes() == sent_photo["photo"]
    assert any(m["text"].startswith(f"Hello Yann, your report #{number}") for m in
               telegram.sent_messages(CHAT)[before:])  # fmt: skip

    # The SMS neighbour gets the link page, which shows the photo.
    with rt.db.reading() as session:
        sms_texts = [m.payload["text"] for m in messages_for_citizen(session, neighbour.id)]
    [link] = [m.group(0) for t in sms_texts if (m := re.search(r"https?://\S+/r/\S+/fait", t))]
    page = tg_client.get(link[link.index("/r/") :])
    assert page.status_code == 200
    assert 'id="after-photo"' in page.get_data(as_text=True)
    image = tg_client.get(link[link.index("/r/") :] + ".jpg")
    assert image.status_code == 200 and image.data == sent_photo["photo"]

    # Every step is in the history, from the field, and in the audit export.
    with rt.db.reading() as session:
        field = crews.field_event_ids_of(session, [e.id for e in events])
    field_kinds = [e.kind for e in events if e.id in field]
    assert field_kinds == ["status", "status"]
    rows = [r for r in audit_rows_of(rt) if r.report == f"#{number}"]
    assert [r.action for r in rows if r.action.endswith("(field)")] == ["status (field)"] * 2

    # The dashboard: Roads resolved 1 report, 1 from the field.
    log_in_as(tg_client, admin_id(rt))
    html = tg_client.get("/console/dashboard").get_data(as_text=True)
    share = html[html.index('id="field-share"') :]
    assert re.search(r"Voirie</th><td>1</td><td>1</td><td>100", share), share[:600]


# The digest asks for 2 December 2026: the reports are filed on the 1st, whatever today is.
@time_machine.travel(datetime(2026, 12, 1, 15, 0, tzinfo=TOWN_ZONE), tick=True)
def test_the_morning_digest_reaches_linked_service_heads(rt) -> None:
    late, _new = add_reports(
        rt, [{"created_at": datetime.now().astimezone() - timedelta(days=6)}, {}]
    )
    head_id, head_phone = linked(rt, "chef@ville.fr", sender="chef-phone")
    _, crew_phone = linked(rt, "paul@ville.fr", sender="paul-phone")
    with rt.db.transaction() as session:
        roads = service_by_code(session, "voirie").id
        crew_digest.set_head(session, head_id, roads)
        crew_digest.set_digest_time(session, roads, "07:30")
    paris = TOWN_ZONE
    with rt.db.transaction() as session:
        assert crew_digest.send_due_digests(session, datetime(2026, 12, 2, 7, 0, tzinfo=paris)) == 0
    with rt.db.transaction() as session:
        assert (
            crew_digest.send_due_digests(session, datetime(2026, 12, 2, 7, 31, tzinfo=paris)) == 1
        )
    with rt.db.transaction() as session:  # once a day
        assert crew_digest.send_due_digests(session, datetime(2026, 12, 2, 9, 0, tzinfo=paris)) == 0
    [digest] = head_phone.new_messages()
    assert digest.text.startswith("Good morning. Roads: 1 new since yesterday, 1 overdue")
    assert f"#{late}" in digest.text
    assert crew_phone.new_messages() == []  # not a head


def test_unlinking_from_the_chat_and_from_the_console(rt, client) -> None:
    agent_id, phone = linked(rt)
    number = report_by(rt, "marie")
    assert "Unlinked" in phone.texts("/agent off")
    assert crews_agent(rt, phone) is None
    # A plain chat again: "je prends" is no agent power.
    phone.say(f"je prends {number}")
    with rt.db.reading() as session:
        assert get_report(session, number).status == "new"

    # Linked again from the console's page, then unlinked there.
    log_in_as(client, agent_id)
    page = client.post("/console/phone/code", data={"csrf_token": csrf_token(client)})
    code = re.search(r"/agent (\d{8})", page.get_data(as_text=True)).group(1)
    assert "Linked" in phone.texts(f"/agent {code}")
    assert "No chat is linked" not in client.get("/console/phone").get_data(as_text=True)
    client.post("/console/phone/unlink", data={"csrf_token": csrf_token(client)})
    assert crews_agent(rt, phone) is None


def test_cli_prints_a_link_code(app, rt) -> None:
    make_agent(rt, "paul@ville.fr")
    result = app.test_cli_runner().invoke(cli, ["agent", "link-code", "paul@ville.fr"])
    assert result.exit_code == 0, result.output
    code = re.search(r"/agent (\d{8})", result.output).group(1)
    phone = TalkingCitizen(rt, "paul-phone", language_code="en")
    assert "Linked" in phone.texts(f"/agent {code}")
    with rt.db.reading() as session:
        assert (
            crews.agent_of_chat(session, phone.citizen.id).id
            == agent_by_email(session, "paul@ville.fr").id
        )


def test_my_phone_page_gives_a_code_with_the_bot_deep_link_and_a_qr(tg_client, tg_rt) -> None:
    from tests.fakes.telegram_api import DEFAULT_BOT_USERNAME

    agent_id = make_agent(tg_rt, "paul@ville.fr")
    log_in_as(tg_client, agent_id)
    assert "Aucune conversation n’est reliée" in tg_client.get("/console/phone").get_data(
        as_text=True
    )
    page = tg_client.post("/console/phone/code", data={"csrf_token": csrf_token(tg_client)})
    html = page.get_data(as_text=True)
    code = re.search(r"/agent (\d{8})", html).group(1)
    assert f"https://t.me/{DEFAULT_BOT_USERNAME}?start=agent_{code}" in html
    assert "<svg" in html  # the QR code
    # The deep link's /start agent_CODE links the chat like /agent CODE.
    phone = TalkingCitizen(tg_rt, "7000222", channel="telegram", language_code="en")
    assert "Linked" in phone.texts(f"/start agent_{code}")
    html = tg_client.get("/console/phone").get_data(as_text=True)
    assert "Conversation reliée" in html and "Telegram" in html


def test_done_button_then_a_photo_or_without_one(rt, client) -> None:
    with_photo, without = add_reports(rt, [{}, {}])
    _, phone = linked(rt)
    for number in (with_photo, without):
        assert "is yours, in progress" in phone.texts(f"je prends {number}")
    # "Terminé" asks for the photo; a photo then closes it.
    assert "Send a photo of the work done" in phone.texts(choice=f"crew:done:{with_photo}")
    assert "resolved; the photo is sent" in phone.texts(photo=a_photo())
    # "Terminé", then "sans photo".
    assert "Send a photo" in phone.texts(f"terminé {without}")
    assert "resolved; the citizen is told" in phone.texts("sans photo")
    with rt.db.reading() as session:
        assert get_report(session, with_photo).status == "resolved"
        assert len(media_of_report(session, with_photo)) == 1
        assert get_report(session, without).status == "resolved"
        assert media_of_report(session, without) == []
    # The console's history says who, and that it was from the field.
    log_in_as(client, admin_id(rt))
    html = client.get(f"/console/reports/{without}").get_data(as_text=True)
    assert html.count("depuis le terrain") == 3  # assigned, in progress, resolved


def test_the_chat_of_a_deactivated_agent_talks_to_the_bot_as_a_citizen_again(rt) -> None:
    agent_id, phone = linked(rt)
    number = report_by(rt, "marie")
    with rt.db.transaction() as session:
        from models.agent import Agent

        session.get(Agent, agent_id).active = False
    phone.say(f"je prends {number}")  # no agent powers left...
    with rt.db.reading() as session:
        assert get_report(session, number).status == "new"
    assert "report" in phone.texts("bonjour").lower()  # ...and the bot answers it as anyone


def test_one_liners_close_with_or_without_a_photo(rt) -> None:
    """What the agents' guide teaches: fait 1042 sans photo, and a photo captioned fait 1042."""
    bare, pictured = add_reports(rt, [{}, {}])
    _, phone = linked(rt)
    for number in (bare, pictured):
        assert "is yours, in progress" in phone.texts(f"je prends {number}")
    assert "resolved; the citizen is told" in phone.texts(f"fait {bare} sans photo")
    assert "resolved; the photo is sent" in phone.texts(f"fait {pictured}", photo=a_photo())
    with rt.db.reading() as session:
        assert get_report(session, bare).status == "resolved"
        assert media_of_report(session, bare) == []
        assert get_report(session, pictured).status == "resolved"
        assert len(media_of_report(session, pictured)) == 1


def test_an_unknown_command_says_what_was_not_understood(rt) -> None:
    _, phone = linked(rt)
    said = phone.texts("je prendrai le 1042 demain")
    assert said.startswith("I did not understand “je prendrai le 1042 demain”.")
    assert "je prends 1042: take a report" in said  # then what can be said
