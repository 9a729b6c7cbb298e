"""One sentence on the channels a resident or an agent actually types into: Telegram's
real webhook after /start (buttons through the Bot API stand-in), the terminal chat
(`webleads chat`) and the console's simulator."""

from __future__ import annotations

import itertools

from app.cli import cli
from models.report import get_report
from tests.helpers import csrf_token, log_in_as, make_agent
from tests.telegram_support import CHAT, callback_update, deliver, post, text_update

SURE = "Lampadaire en panne, Rue Baudrairie\u202f: c’est bien ça\u202f?"
SENTENCE = "Lampadaire éteint rue Baudrairie depuis hier soir"


def test_telegram_after_start_asks_once_with_buttons_and_files(tg_client, tg_rt, telegram):
    ids = itertools.count(910001)

    def send(update: dict) -> list[dict]:
        before = len(telegram.sent_messages(CHAT))
        assert post(tg_client, update).status_code == 200
        deliver(tg_rt)
        return telegram.sent_messages(CHAT)[before:]

    def press(data: str) -> list[dict]:
        last = [m for m in telegram.chat_messages(CHAT) if "reply_markup" in m][-1]
        return send(callback_update(last, data, next(ids)))

    send(text_update("/start", next(ids)))  # the fixtures' Telegram user reads English
    (question,) = send(text_update(SENTENCE, next(ids)))
    assert question["text"] == "Broken streetlight, Rue Baudrairie: is that right?"
    buttons = question["reply_markup"]["inline_keyboard"]
    assert [b["text"] for row in buttons for b in row] == ["Yes", "Another category"]
    assert "photo" in press("guess:yes")[-1]["text"]
    press("skip")  # no photo; the street is known, so the summary comes next
    done = press("yes")[-1]["text"]
    assert "#1001" in done and "registered" in done
    with tg_rt.db.reading() as db:
        report = get_report(db, 1001)
        assert report.description == SENTENCE and report.channel == "telegram"


def test_the_terminal_chat_reads_one_sentence(app):
    said = f"{SENTENCE}\noui\npasser\noui\n"
    out = app.test_cli_runner().invoke(cli, ["chat", "--as", "Marie"], input=said).output
    assert SURE in out
    assert "Votre signalement #1001 est enregistré" in out


def test_the_simulator_reads_one_sentence_and_shows_the_buttons(app):
    rt = app.extensions["webleads"]
    client = app.test_client()
    log_in_as(client, make_agent(rt, "lea@vitre.example", name="Léa"))
    headers = {"X-CSRFToken": csrf_token(client)}

    def say(**body) -> list[dict]:
        response = client.post("/console/simulator/say", json=body, headers=headers)
        assert response.status_code == 200
        return response.get_json()["replies"]

    question = say(text=SENTENCE, lang="fr")[-1]
    assert question["text"] == SURE
    assert [c["value"] for c in question["choices"]] == ["guess:yes", "guess:no"]
    others = say(choice="guess:no", lang="fr")[-1]
    assert "Lampadaire en panne" not in [c["label"] for c in others["choices"]]
