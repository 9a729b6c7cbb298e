"""Who sees what, end to end (DESIGN.md, "Who sees what").

Reports full of personal data are filed through the real conversation on every channel
(Telegram, SMS, WhatsApp, the terminal chat): names, phone numbers, an e-mail address, a
typed address. Strangers follow each of them from every channel. Then the town works
them as it does every day: an agent answers with a response template that greets the
author by name, statuses change with the agent's personal words, a field crew takes one
and closes it with a photo from its phone, a silent report is reminded, one is hidden
and changes again. Every message any non-author received, every link page they were
sent, and every public page, feed and keyless API answer is searched for what was
planted. The authors, meanwhile, still get everything that is theirs.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import re
from datetime import UTC, datetime
from urllib.parse import urlparse

import time_machine

from models.citizen import find_citizen
from models.console import ResponseTemplate
from models.messaging import messages_for_citizen
from models.report import get_report
from services import feedback, moderation, reports
from tests.helpers import (
    TalkingCitizen,
    a_photo,
    admin_id,
    csrf_token,
    log_in_as,
    make_agent,
    run_jobs,
)
from tests.sms_support import Phone
from tests.telegram_support import callback_update, deliver, payload, post
from tests.test_crews import code_for
from tests.whatsapp_support import WhatsApp

IDS = itertools.count(815001)
# What the authors wrote, and what the agents wrote to them.
TELEGRAM_WORDS = "Trou énorme, rappelez Yann Le Goff au 06/11/22/33/44 ou yann.legoff@example.org"
SMS_WORDS = "Lampadaire cassé, code du portail 73914, privé"
SMS_PLACE = "chez Hugo Lemoine 14 impasse Cachée"
WHATSAPP_WORDS = "Trou devant chez Marie Dupont, appelez le +33 (0)6 55 44 33 22"
WHATSAPP_PLACE = "chez Marie Dupont, 4 impasse des Lilas, tel 06 55 44 33 22"
DEV_WORDS = "Encombrants devant chez Gaston Lagaffe, 07 98 76 54 32"
DEV_PLACE = "au fond de la cour de Gaston Lagaffe, 3 allée Secrète"
TEMPLATE = "Bonjour {name}, votre signalement {ref} ({category}, {address}) est pris en charge."
AGENT_WORDS = "Merci {name}, on vous rappelle au 06 12 34 56 78 demain."
# Never for a stranger's eyes: words in any case, numbers in any spacing.
PLANTED_WORDS = ["Yann", "Goff", "yannlg", "legoff", "Hugo", "Lemoine", "Cachée", "portail",
                 "privé", "Dupont", "Lilas", "Camille", "Gaston", "Lagaffe", "Secrète",
                 "fond de la cour", "impasse", "allée"]  # fmt: skip
PLANTED_NUMBERS = ["611223344", "655443322", "798765432", "612345678", "73914", "3527065",
                   "699887766", "677665544"]  # fmt: skip
DIGIT_RUNS = re.compile(r"\+?\d[\d ./()-]*\d")
# A stranger is never told a report is theirs, in either language.
THEIRS = re.compile(r"votre signalement|your report", re.IGNORECASE)
FOLLOWED = re.compile(r"que vous suivez|you follow")
REGISTERED = re.compile(r"enregistré|is registered")
FIXED = re.compile(r"vraiment réglé|really fixed")


def planted_in(text: str) -> list[str]:
    """The planted words and numbers found in a text (HTML and JSON read back)."""
    text = html.unescape(text)
    with contextlib.suppress(ValueError):  # JSON escapes accents: read it back
        text += json.dumps(json.loads(text), ensure_ascii=False)
    found = [w for w in PLANTED_WORDS if w.lower() in text.lower()]
    runs = [re.sub(r"\D", "", run) for run in DIGIT_RUNS.findall(text)]
    return found + [n for n in PLANTED_NUMBERS if any(n in run for run in runs)]


class TelegramChat:
    """One person's private chat with the town's bot, through the real webhook."""

    def __init__(self, app, telegram, chat_id: int, first: str, last: str, language="fr"):
        self.app, self.telegram, self.client = app, telegram, app.test_client()
        self.chat_id = chat_id
        self.person = {"id": chat_id, "is_bot": False, "first_name": first, "last_name": last,
                       "username": (first + last).lower(), "language_code": language}  # fmt: skip
        self.chat = {"id": chat_id, "first_name": first, "last_name": last, "type": "private"}

    def send(self, update: dict) -> str:
        before = len(self.telegram.sent_messages(self.chat_id))
        assert post(self.client, update).status_code == 200
        deliver(self.app.extensions["webleads"])
        return "\n".join(m["text"] for m in self.telegram.sent_messages(self.chat_id)[before:])

    def says(self, text: str) -> str:
        update = payload("text_message", text=text, chat=self.chat, **{"from": self.person})
        return self.send(update | {"update_id": next(IDS)})

    def press(self, data: str) -> str:
        menu = [m for m in self.telegram.chat_messages(self.chat_id) if "reply_markup" in m][-1]
        update = callback_update(menu, data, next(IDS))
        update["callback_query"]["from"] = self.person
        return self.send(update)

    def pin(self, lat: float, lon: float) -> str:
        update = payload("location", location={"latitude": lat, "longitude": lon},
                         chat=self.chat, message_id=next(IDS), **{"from": self.person})  # fmt: skip
        return self.send(update | {"update_id": next(IDS)})


def number_in(text: str) -> int:
    return int(re.search(r"#(\d+)", text).group(1))


def file_on_every_channel(town, telegram, twilio) -> dict[str, int]:
    """The authors file their reports, each through the real conversation of its channel."""
    rt = town.extensions["webleads"]
    yann = TelegramChat(town, telegram, 3527065, "Yann", "Le Goff")
    yann.says("/start")
    yann.press("cat:nid-de-poule")
    yann.says(TELEGRAM_WORDS)
    yann.press("skip")
    yann.pin(48.1246, -1.2082)
    by_telegram = number_in(yann.press("yes"))

    hugo = Phone(town, twilio, "+33699887766")
    for body in ("Bonjour", "2", SMS_WORDS, "passer", SMS_PLACE, "1"):
        hugo.text(body)
    by_sms = number_in(next(t for t in hugo.inbox() if REGISTERED.search(t)))

    camille = WhatsApp(town, twilio, "+33677665544", name="Camille Martin")
    camille.text("Bonjour")
    camille.pick("cat:nid-de-poule", "Nid-de-poule")
    camille.text(WHATSAPP_WORDS)
    camille.press("skip", "Passer")
    camille.text(WHATSAPP_PLACE)
    camille.press("yes", "Envoyer")
    done = [m["body"] for m in camille.inbox()]
    by_whatsapp = number_in(next(body for body in done if REGISTERED.search(body)))

    gaston = TalkingCitizen(rt, "gaston", name="Gaston Lagaffe", language_code="fr")
    gaston.say("bonjour")
    gaston.say(choice="cat:nid-de-poule")
    gaston.say(DEV_WORDS)
    gaston.say(choice="skip")
    gaston.say(DEV_PLACE)
    by_dev = number_in(gaston.say(choice="yes")[-1].text)
    return {"telegram": by_telegram, "sms": by_sms, "whatsapp": by_whatsapp, "dev": by_dev}


def follow_from_every_channel(town, telegram, twilio, numbers: list[int]) -> dict:
    """Strangers follow every report, each from their own channel."""
    rt = town.extensions["webleads"]
    eve = TelegramChat(town, telegram, 9400001, "Eve", "Stranger")
    sms = Phone(town, twilio, "+33611112222")
    wa = WhatsApp(town, twilio, "+33633334444", name="Zoé Curieuse")
    dev = TalkingCitizen(rt, "curieux", name="Oscar Curieux", language_code="fr")
    for number in numbers:
        assert "suivez" in eve.says(f"/start follow_{number}")
        sms.text(f"SUIVRE {number}")
        wa.text(f"SUIVRE {number}")
        dev.say(f"SUIVRE {number}")
    strangers = {"telegram": ("telegram", "9400001"), "sms": ("sms", "+33611112222"),
                 "whatsapp": ("whatsapp", "+33633334444"), "dev": ("dev", "curieux")}  # fmt: skip
    sms.inbox(), wa.inbox()  # the worker sends what is queued
    return strangers


def outbox_texts(rt, channel: str, address: str) -> list[str]:
    """Every message queued for one citizen, whatever became of it (its text and buttons)."""
    with rt.db.reading() as session:
        citizen = find_citizen(session, channel, address)
        rows = messages_for_citizen(session, citizen.id)
    texts = []
    for row in rows:
        words = [row.payload.get("text") or "", row.payload.get("caption") or ""]
        words += [label for _, label in row.payload.get("choices", [])]
        texts.append("\n".join(w for w in words if w))
    return texts


@time_machine.travel(datetime(2026, 12, 7, 9, 0, tzinfo=UTC), tick=True)
def test_a_stranger_who_follows_reads_only_what_the_public_may(
    every_channel_app, telegram, twilio
) -> None:
    town = every_channel_app
    rt = town.extensions["webleads"]
    filed = file_on_every_channel(town, telegram, twilio)
    numbers = list(filed.values())
    strangers = follow_from_every_channel(town, telegram, twilio, numbers)

    # The agent answers each author with the personal template, then works the reports.
    with rt.db.transaction() as session:
        session.add(ResponseTemplate(title="Pris en charge", body=TEMPLATE))
    agent = town.test_client()
    log_in_as(agent, admin_id(rt))
    token = csrf_token(agent)
    for number in numbers:
        page = agent.get(f"/console/reports/{number}").get_data(as_text=True)
        data = re.search(r'id="templates-data">(.*?)</script>', page).group(1)
        body = next(t["body"] for t in json.loads(data) if t["title"] == "Pris en charge")
        reply = agent.post(f"/console/reports/{number}/reply",
                           data={"reply-message": body, "csrf_token": token})  # fmt: skip
        assert reply.status_code == 303
    names = {"telegram": "Yann", "sms": "Hugo", "whatsapp": "Camille", "dev": "Gaston"}
    with rt.db.transaction() as session:
        for channel, number in filed.items():
            words = AGENT_WORDS.format(name=names[channel])
            reports.change_status(session, number, "acknowledged", message=words)

    # A field crew takes the SMS report from its phone and closes it with a photo.
    crew_id = make_agent(rt, "paul@ville.fr", services=("voirie", "eclairage", "proprete"))
    crew = TalkingCitizen(rt, "paul-phone", name="Paul", language_code="fr")
    crew.say(f"/agent {code_for(rt, crew_id)}")
    crew.say(f"je prends {filed['sms']}")
    crew.say(f"fait {filed['sms']}")
    crew.say(photo=a_photo())
    with rt.db.reading() as session:
        assert get_report(session, filed["sms"]).status == "resolved"

    # A month of silence: the others are reminded.
    with time_machine.travel(datetime(2027, 1, 20, 9, 0, tzinfo=UTC), tick=True):
        assert feedback.remind_silent_reports(rt) >= 2

    # The WhatsApp report is hidden by the town; it changes again after that.
    with rt.db.transaction() as session:
        moderation.hide(session, filed["whatsapp"], agent_id=None)
        before_hidden = len(outbox_texts(rt, *strangers["dev"]))
        reports.change_status(session, filed["whatsapp"], "in_progress",
                              message="Merci Camille, on passe chez Marie Dupont.")  # fmt: skip
    run_jobs(rt)

    # What every stranger received: no planted word, never "your report".
    received = {}
    links = []
    for channel, (kind, address) in strangers.items():
        texts = outbox_texts(rt, kind, address)
        assert texts, channel
        received[channel] = texts
        for text in texts:
            links += re.findall(r"https?://\S+/r/\S+", text)
            assert not planted_in(text), (channel, planted_in(text), text)
            ours = re.split(r"Message du service|Message from the", text)[0]  # not the agent's
            assert not THEIRS.search(ours), (channel, text)
    # They were told, in their own words, of the reports they follow.
    for channel, texts in received.items():
        assert any(FOLLOWED.search(t) for t in texts), (channel, texts)
    # Only the author is asked whether it is fixed.
    for texts in received.values():
        assert not any(FIXED.search(t) for t in texts)
    # Hiding ended the strangers' news of the hidden report.
    assert len(outbox_texts(rt, *strangers["dev"])) == before_hidden
    dev_stranger = TalkingCitizen(rt, "curieux", name="Oscar Curieux", language_code="fr")
    assert "Je ne trouve pas" in dev_stranger.texts(f"#{filed['whatsapp']}")

    # A stranger cannot reopen what the crew resolved.
    dev_stranger.say(choice=f"fixed:{filed['sms']}:no")
    dev_stranger.say("Toujours cassé")
    with rt.db.reading() as session:
        assert get_report(session, filed["sms"]).status == "resolved"

    # A stranger's link shows the public view only, and cannot act as the author.
    assert len(links) >= 2, links  # the after-photo, by SMS and by WhatsApp at least
    browser = town.test_client()
    for link in links:
        path = urlparse(link).path
        for url in {path, path.removesuffix("/fait")}:
            page = browser.get(url)
            assert page.status_code < 500
            assert not planted_in(page.get_data(as_text=True)), (url, page.status_code)
    with rt.db.reading() as session:
        resolved = get_report(session, filed["sms"])
    for url in {urlparse(link).path.removesuffix("/fait") for link in links}:
        browser.post(url, data={"lat": "48.13", "lon": "-1.25"})
    with rt.db.reading() as session:
        assert get_report(session, filed["sms"]).lat == resolved.lat

    # Every public page, feed and keyless API answer: nothing planted either.
    public = town.test_client()
    urls = ["/", "/reports", "/reports.atom", "/reports.geojson?bbox=-180,-90,180,90",
            "/open311/v2/requests.json", "/?lang=en", "/reports.atom?lang=en"]  # fmt: skip
    for number in numbers:
        urls += [f"/reports/{number}", f"/open311/v2/requests/{number}.json"]
    for url in urls:
        response = public.get(url)
        assert response.status_code in (200, 404), url
        assert not planted_in(response.get_data(as_text=True)), url

    # The authors still get what is theirs: their own words back, and the question.
    yann_texts = "\n".join(outbox_texts(rt, "telegram", "3527065"))
    assert "Merci Yann, on vous rappelle au 06 12 34 56 78" in yann_texts
    hugo_texts = outbox_texts(rt, "sms", "+33699887766")
    assert any(FIXED.search(t) for t in hugo_texts)
    assert any("Merci Hugo" in t for t in hugo_texts)
