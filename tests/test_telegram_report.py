"""A whole report in Telegram: webhook in, outbox worker and real sender out, to the fake.

Every step posts what Telegram would post (buttons pressed on the messages the bot
really sent) and then runs the worker, so the assertions are on the exact requests
Telegram receives.
"""

from __future__ import annotations

import io
import itertools
import re

from PIL import Image

from app.seed import CATEGORIES
from models.catalog import PROBLEM
from models.messaging import SENT, messages_for_citizen
from models.report import get_report, media_of_report
from services import reports
from tests.helpers import jpeg_with_gps
from tests.telegram_support import (
    CHAT,
    LOCATION_IN_TOWN,
    callback_update,
    citizen,
    deliver,
    payload,
    post,
    text_update,
    with_ids,
)

WELCOME = (
    "Hello Yann! I am the reporting assistant of Vitré. Tell me about a problem in a public "
    "place or share an idea, and follow it until it is dealt with."
)
LOCATION_KEYBOARD = {
    "keyboard": [
        [{"text": "📍 Share my location", "request_location": True}],
        [{"text": "⌨️ Type an address instead"}],
    ],
    "one_time_keyboard": True,
    "resize_keyboard": True,
}


def menu_keyboard() -> dict:
    rows = [
        [{"text": en, "callback_data": f"cat:{code}"}]
        for code, _, en, _, kind, *_ in CATEGORIES
        if kind == PROBLEM
    ]
    rows += [
        [{"text": "Propose an idea", "callback_data": "idea"}],
        [{"text": "My reports", "callback_data": "mine"}],
    ]
    return {"inline_keyboard": rows}


def test_complete_report_then_its_status_change(tg_client, tg_rt, telegram, tmp_path) -> None:
    ids = itertools.count(800001)

    def send(update: dict) -> list[dict]:
        """The citizen sends `update`; returns what the bot then sent (sendMessage)."""
        before = len(telegram.sent_messages(CHAT))
        assert post(tg_client, update).status_code == 200
        deliver(tg_rt)
        return telegram.sent_messages(CHAT)[before:]

    def press(data: str) -> list[dict]:
        """The citizen presses a button of the bot's last message with buttons."""
        menu = [m for m in telegram.chat_messages(CHAT) if "reply_markup" in m][-1]
        update_id = next(ids)
        sent = send(callback_update(menu, data, update_id))
        query_id = f"cbq-{update_id}"
        telegram.wait_for(
            "answerCallbackQuery", predicate=lambda p: p["callback_query_id"] == query_id
        )
        return sent

    # /start: the welcome, then the categories as inline buttons.
    sent = send(text_update("/start", next(ids), 1))
    assert sent == [
        {"chat_id": CHAT, "text": WELCOME},
        {
            "chat_id": CHAT,
            "text": "What would you like to report?",
            "reply_markup": menu_keyboard(),
        },
    ]
    menu_id = telegram.chat_messages(CHAT)[-1]["message_id"]

    # A category button: answered, the menu shows the choice without its buttons.
    sent = press("cat:nid-de-poule")
    assert telegram.calls_to("editMessageText") == [
        {
            "chat_id": CHAT,
            "message_id": menu_id,
            "text": "What would you like to report?\n\n→ Pothole",
        }
    ]
    edited = next(m for m in telegram.chat_messages(CHAT) if m["message_id"] == menu_id)
    assert "reply_markup" not in edited
    assert sent == [
        {
            "chat_id": CHAT,
            "text": "Describe the problem in a few words (what, and since when).",
            "reply_markup": {"remove_keyboard": True},
        }
    ]

    # The description: a photo is asked for, with a Skip button.
    sent = send(text_update("Deep pothole in front of number 12, since Monday", next(ids), 2))
    assert sent == [
        {
            "chat_id": CHAT,
            "text": "Can you add a photo? It helps the service a lot. Send it, or choose Skip.",
            "reply_markup": {"inline_keyboard": [[{"text": "Skip", "callback_data": "skip"}]]},
        }
    ]

    # A real JPEG with GPS in its EXIF, in two sizes: the larger is fetched.
    picture = jpeg_with_gps(1280, 960)
    telegram.add_file("photo-big", picture, "photos/file_7.jpg")
    sizes = [
        {"file_id": "photo-small", "file_unique_id": "ps", "file_size": 900, "width": 320,
         "height": 240},
        {"file_id": "photo-big", "file_unique_id": "pb", "file_size": len(picture),
         "width": 1280, "height": 960},
    ]  # fmt: skip
    photo = with_ids(payload("photo_with_caption", photo=sizes, caption=None), next(ids), 3)
    sent = send(photo)
    assert telegram.downloads == ["photos/file_7.jpg"]
    assert sent == [
        {
            "chat_id": CHAT,
            "text": "Where is it? Share your location, or type the address "
            "(for example: 12 rue de la Poterie).",
            "reply_markup": LOCATION_KEYBOARD,
        }
    ]

    # The pin: the summary comes with Send / Cancel, and the location keyboard goes away.
    lat, lon = LOCATION_IN_TOWN
    pin = payload("location", location={"latitude": lat, "longitude": lon})
    sent = send(with_ids(pin, next(ids), 4))
    clearer, summary = sent
    assert clearer == {
        "chat_id": CHAT,
        "text": "…",
        "disable_notification": True,
        "reply_markup": {"remove_keyboard": True},
    }
    assert telegram.calls_to("deleteMessage")[-1]["chat_id"] == CHAT
    assert summary["text"].startswith("Your report:\nCategory: Pothole\n")
    assert "Photo: yes" in summary["text"]
    assert summary["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Send", "callback_data": "yes"}, {"text": "Cancel", "callback_data": "no"}]
        ]
    }

    # Send: the report is filed, with its photo on disk and no EXIF left in it.
    [thanks] = press("yes")
    number = int(re.search(r"#(\d+)", thanks["text"]).group(1))
    assert thanks == {
        "chat_id": CHAT,
        "text": f"Thank you! Your report #{number} is registered. You will get its updates "
        f"here; send #{number} at any time to see its status.",
    }
    assert telegram.calls_to("editMessageText")[-1]["text"].endswith("\n\n→ Send")
    with tg_rt.db.reading() as session:
        report = get_report(session, number)
        [media] = media_of_report(session, report.id)
    assert report.channel == "telegram" and report.status == "new"
    assert (report.lat, report.lon) == LOCATION_IN_TOWN
    stored = Image.open(io.BytesIO((tmp_path / "media" / media.path).read_bytes()))
    assert Image.open(io.BytesIO(picture)).getexif().get(0x8825)  # the original had GPS
    assert (stored.width, stored.height) == (1280, 960)
    assert len(stored.getexif()) == 0

    # An agent changes the status: the personalised message reaches the same chat.
    with tg_rt.db.transaction() as session:
        reports.change_status(session, number, "in_progress", message="A team comes tomorrow.")
    before = len(telegram.sent_messages(CHAT))
    deliver(tg_rt)
    [update] = telegram.sent_messages(CHAT)[before:]
    assert update["chat_id"] == CHAT and set(update) == {"chat_id", "text"}
    assert update["text"].startswith(f"Hello Yann, work on your report #{number} (Pothole")
    assert update["text"].endswith("Message from the Roads service: A team comes tomorrow.")

    # Every message was sent once, with Telegram's message id recorded.
    with tg_rt.db.reading() as session:
        rows = messages_for_citizen(session, citizen(tg_rt).citizen.id)
    assert {r.status for r in rows} == {SENT}
    # Messages are "chat:message"; answers to a pressed button name the callback query.
    assert all(re.fullmatch(rf"{CHAT}:\d+|callback:cbq-\d+", r.provider_message_id) for r in rows)
    assert sum(r.provider_message_id.startswith("callback:") for r in rows) == len(
        telegram.calls_to("answerCallbackQuery")
    )
