"""Helpers of the WhatsApp tests: signed Twilio WhatsApp forms, an app wired to the Twilio
stand-in (tests/fakes/twilio_api.py), and a citizen's WhatsApp.

The forms are the real bodies in tests/fixtures/whatsapp/ (one file per case), a few
fields changed per test, signed for PUBLIC_BASE_URL + path as Twilio signs them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import update

from app.factory import create_app
from bot.outbox import OutboxWorker
from models.citizen import Citizen
from tests.conftest import base_config
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.helpers import ContactOnChannel, run_jobs
from tests.sms_support import (
    CITIZEN,
    PUBLIC,
    TOWN_NUMBER,
    fixture_form,
    post_signed,
    sms_settings,
)
from webhooks.sms.sender import SmsSender
from webhooks.whatsapp.sender import WhatsAppSender

WA_TOWN = "whatsapp:" + TOWN_NUMBER
WA_CITIZEN = "whatsapp:" + CITIZEN
INBOUND = "/webhooks/whatsapp"
STATUS = "/webhooks/whatsapp/status"
STATUS_CALLBACK = PUBLIC + STATUS
FIXTURES = Path(__file__).parent / "fixtures" / "whatsapp"


def wa_form(name: str, **changes: str) -> dict[str, str]:
    """A real Twilio WhatsApp form from tests/fixtures/whatsapp/<name>.txt, some fields changed."""
    return fixture_form(FIXTURES / f"{name}.txt", **changes)


def wa_settings(twilio: FakeTwilioAPI, **extra) -> dict:
    settings = {
        "TWILIO_WHATSAPP_FROM": WA_TOWN,
        "WHATSAPP_RATE_PER_SECOND": 1000,  # the limiter has its own test
        **extra,
    }
    return sms_settings(twilio, **settings)


def make_wa_app(database_url: str, tmp_path, twilio: FakeTwilioAPI, **extra):
    return create_app({**base_config(database_url, tmp_path), **wa_settings(twilio, **extra)})


def worker(rt, whatsapp: WhatsAppSender | None = None, **kw) -> OutboxWorker:
    senders = {"whatsapp": whatsapp or WhatsAppSender(rt)}
    if rt.settings.TWILIO_ACCOUNT_SID and rt.settings.TWILIO_FROM_NUMBER:
        senders["sms"] = SmsSender(rt)
    return OutboxWorker(rt, senders, **kw)


def deliver(rt, whatsapp: WhatsAppSender | None = None) -> int:
    """Runs the outbox worker (WhatsApp and SMS senders) until nothing is due."""
    run = worker(rt, whatsapp)
    total = 0
    for _ in range(20):
        tried = run.run_once()
        total += tried
        if not tried:
            break
    return total


def content_of(twilio: FakeTwilioAPI, sid: str) -> dict:
    """A Content API resource, fetched as anyone would (GET /v1/Content/{sid})."""
    response = requests.get(
        f"{twilio.base_url}/v1/Content/{sid}", auth=(twilio.account_sid, twilio.auth_token),
        timeout=5,
    )  # fmt: skip
    response.raise_for_status()
    return response.json()


class WhatsApp(ContactOnChannel):
    """A citizen's WhatsApp writing to the town's number, through the signed webhook."""

    channel = "whatsapp"

    def __init__(
        self, app, twilio: FakeTwilioAPI, number: str = CITIZEN, name: str = "Camille Martin"
    ):
        self.app = app
        self.rt = app.extensions["webleads"]
        self.twilio = twilio
        self.number = number
        self.name = name
        self.client = app.test_client()
        self.sender = WhatsAppSender(self.rt)
        self._read = 0

    def post(self, fixture: str = "inbound_text", *, sid: str | None = None, at=None, **fields):
        """Posts one inbound form (the fixture, with this number and a fresh MessageSid)."""
        sid = sid or "SM" + uuid.uuid4().hex
        form = wa_form(
            fixture, From="whatsapp:" + self.number, WaId=self.number.lstrip("+"),
            ProfileName=self.name, MessageSid=sid, SmsSid=sid, SmsMessageSid=sid,
        )  # fmt: skip
        form.update(fields)
        self.twilio.whatsapp_inbound(self.number, at=at)  # WhatsApp opens the window too
        response = post_signed(self.client, INBOUND, form, self.twilio.auth_token)
        assert response.status_code == 200, response.get_data(as_text=True)
        run_jobs(self.rt)  # the worker's part: a picture is downloaded there
        return response

    def text(self, body: str, **kw):
        return self.post("inbound_text", Body=body, **kw)

    def press(self, payload: str, title: str = "", **kw):
        """Taps a quick-reply button."""
        return self.post("inbound_quick_reply", ButtonPayload=payload, ButtonText=title,
                         Body=title, **kw)  # fmt: skip

    def pick(self, row_id: str, title: str = "", **kw):
        """Chooses a row of a list picker."""
        return self.post("inbound_list_reply", ListId=row_id, ListTitle=title, Body=title, **kw)

    def share_location(self, lat: float, lon: float, **kw):
        return self.post("inbound_location", Latitude=str(lat), Longitude=str(lon), **kw)

    def photo(self, data: bytes, content_type: str = "image/jpeg", body: str = "", **kw):
        """Sends a picture; it waits on the fake Twilio, behind Basic auth, as on Twilio."""
        sid, media = "MM" + uuid.uuid4().hex, "ME" + uuid.uuid4().hex
        self.twilio.add_media(sid, media, data, content_type)
        url = (
            f"https://api.twilio.com/2010-04-01/Accounts/{self.twilio.account_sid}"
            f"/Messages/{sid}/Media/{media}"
        )
        return self.post("inbound_image", sid=sid, MediaUrl0=url, MediaContentType0=content_type,
                         Body=body, **kw)  # fmt: skip

    def inbox(self) -> list[dict]:
        """What reached this WhatsApp since the last look (the worker runs first).

        Each: body, content_sid, kind (twilio/text, twilio/quick-reply, twilio/list-picker,
        or "template"), buttons / rows as (id, title), sid.
        """
        deliver(self.rt, self.sender)
        sent = self.twilio.whatsapp_sent_to(self.number)
        new, self._read = sent[self._read :], len(sent)
        return [self._seen(message) for message in new]

    def _seen(self, message: dict) -> dict:
        seen = {**message, "kind": "twilio/text", "buttons": [], "rows": []}
        if message["content_sid"]:
            content = content_of(self.twilio, message["content_sid"])
            kind, spec = next(iter(content["types"].items()))
            seen["kind"] = kind
            seen["buttons"] = [(a["id"], a["title"]) for a in spec.get("actions", [])]
            seen["rows"] = [(i["id"], i["item"]) for i in spec.get("items", [])]
            if message["content_variables"]:
                seen["kind"] = "template"
        return seen

    def texts(self) -> list[str]:
        return [m["body"] for m in self.inbox()]

    def window_closed(self, hours: float = 25) -> None:
        """Moves the citizen's last message `hours` back, here and at the fake WhatsApp."""
        then = datetime.now(UTC) - timedelta(hours=hours)
        self.twilio.whatsapp_inbound(self.number, at=then)
        with self.rt.db.transaction() as session:
            session.execute(
                update(Citizen).where(Citizen.id == self.citizen.id).values(last_inbound_at=then)
            )


def status(client, twilio: FakeTwilioAPI, name: str, message_sid: str, **changes):
    """Posts a signed WhatsApp status callback (tests/fixtures/whatsapp/status_*.txt)."""
    form = wa_form(name, MessageSid=message_sid, SmsSid=message_sid, **changes)
    return post_signed(client, STATUS, form, twilio.auth_token)


def replay(client, callbacks: list[dict]) -> None:
    """Posts the stand-in's signed status callbacks to the app, as they were signed (the
    stand-in posts them to the public URL, where the app under test is not)."""
    for callback in callbacks:
        headers = {"X-Twilio-Signature": callback["signature"]}
        answer = client.post(STATUS, data=callback["form"], headers=headers)
        assert answer.status_code == 200, answer.status_code
