"""Helpers of the Telegram tests: fixture payloads, posting them, the outbox worker.

The fixtures (`telegram`, the fake Bot API; `tg_app`, `tg_rt`, `tg_client`) are in
tests/conftest.py.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path
from typing import Any

from bot.outbox import OutboxWorker
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.helpers import TalkingCitizen, run_jobs
from webhooks.telegram.polling import poll_forever
from webhooks.telegram.sender import TelegramSender

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
SECRET = "webhook-secret_0123456789"
CHAT = 3527065  # the citizen of every fixture (a private chat: chat id = user id)
URL = "/webhooks/telegram"
LOCATION_IN_TOWN = (48.1246, -1.2082)  # 12 rue de la Poterie, Vitré


def telegram_config(telegram: FakeTelegramAPI) -> dict:
    return {
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
    }


def payload(name: str, **changes: Any) -> dict:
    """A fixture update; `changes` replace keys of its message (or callback query)."""
    update = json.loads((FIXTURES / f"{name}.json").read_text())
    body = next(v for k, v in update.items() if k != "update_id")
    body.update(copy.deepcopy(changes))
    return update


def text_update(text: str, update_id: int, message_id: int | None = None) -> dict:
    """The citizen types `text`."""
    return with_ids(payload("text_message", text=text), update_id, message_id)


def with_ids(update: dict, update_id: int, message_id: int | None = None) -> dict:
    update = copy.deepcopy(update)
    update["update_id"] = update_id
    if message_id is not None:
        next(v for k, v in update.items() if k != "update_id")["message_id"] = message_id
    return update


def callback_update(message: dict, data: str, update_id: int) -> dict:
    """The citizen presses the button `data` of `message` (a message the bot sent)."""
    update = payload("callback_query", message=message, data=data)
    update["callback_query"]["id"] = f"cbq-{update_id}"
    update["update_id"] = update_id
    return update


def post(client, update: dict | str | bytes, secret: str | None = SECRET, *, worker: bool = True):
    """Posts an update to the webhook as Telegram does; then the worker does its part.

    The webhook answers at once; a picture to download is the worker's (bot/jobs.py),
    run here as it would run beside the web server, unless `worker` is False.
    """
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    body = update if isinstance(update, str | bytes) else json.dumps(update)
    response = client.post(URL, data=body, headers=headers, content_type="application/json")
    if worker:
        run_jobs(client.application.extensions["webleads"])
    return response


def deliver(rt, sender: TelegramSender | None = None) -> int:
    """Runs the outbox worker with the real sender until nothing is due; returns how many."""
    worker = OutboxWorker(rt, {"telegram": sender or TelegramSender(rt.settings, rt.db)})
    if hasattr(worker, "limiters"):
        # The worker's own pacing (1 message/s per chat) is not what these tests are
        # about, and the fake only enforces Telegram's limits when asked to.
        worker.limiters = {}
    total = 0
    while tried := worker.run_once():
        total += tried
    return total


def citizen(rt, language_code: str = "en") -> TalkingCitizen:
    """The fixtures' citizen, seen from the engine's side (state, replies queued)."""
    return TalkingCitizen(
        rt, str(CHAT), channel="telegram", name="Yann", language_code=language_code
    )


# How to bring the citizen to each state (through the engine, not Telegram).
STEPS_TO = {
    "menu": [dict(text="/start")],
    "idle": [dict(text="/start"), dict(text="/annuler")],
    "description": [dict(text="/start"), dict(choice="cat:nid-de-poule")],
    "photo": [
        dict(text="/start"),
        dict(choice="cat:nid-de-poule"),
        dict(text="Deep pothole in front of number 12"),
    ],
    "location": [
        dict(text="/start"),
        dict(choice="cat:nid-de-poule"),
        dict(text="Deep pothole in front of number 12"),
        dict(choice="skip"),
    ],
    "confirm": [
        dict(text="/start"),
        dict(choice="cat:nid-de-poule"),
        dict(text="Deep pothole in front of number 12"),
        dict(choice="skip"),
        dict(location=LOCATION_IN_TOWN),
    ],
}


def citizen_at(rt, state: str) -> TalkingCitizen:
    """The citizen, brought to `state`, with the replies so far already read."""
    talker = citizen(rt)
    for said in STEPS_TO[state]:
        talker.say(**said)
    assert talker.state == state
    return talker


def is_update(body) -> bool:
    """What Telegram's webhook sends: an object with an integer update_id."""
    return isinstance(body, dict) and type(body.get("update_id")) is int


class Polling:
    """poll_forever in a thread, as `webleads run` starts it."""

    def __init__(self, app) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=poll_forever, args=(app, self.stop), daemon=True)

    def __enter__(self) -> Polling:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)

    def stop_now(self) -> float:
        """Stops polling; returns how long the thread took to end."""
        started = time.monotonic()
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive()
        return time.monotonic() - started
