"""Helpers of the SMS tests: signed Twilio forms, an app wired to the Twilio stand-in, a phone.

The fixtures (`twilio`, the Twilio stand-in; `sms_app`, `sms_sqlite_app`) are in
tests/conftest.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from app.factory import create_app
from bot.outbox import OutboxWorker
from tests.conftest import base_config
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.helpers import ContactOnChannel, run_jobs
from webhooks.sms.sender import SmsSender

PUBLIC = "https://town.example.org"
TOWN_NUMBER = "+33939000001"
CITIZEN = "+33612345678"
STATUS_CALLBACK = PUBLIC + "/webhooks/sms/status"
FIXTURES = Path(__file__).parent / "fixtures" / "twilio"


def fixture_form(path: Path, **changes: str) -> dict[str, str]:
    """A real Twilio form body kept in a fixture file, some fields changed."""
    form = dict(parse_qsl(path.read_text(encoding="utf-8").strip(), keep_blank_values=True))
    form.update(changes)
    return form


def twilio_form(name: str, **changes: str) -> dict[str, str]:
    """A real Twilio form body from tests/fixtures/twilio/<name>.txt, some fields changed."""
    return fixture_form(FIXTURES / f"{name}.txt", **changes)


def signature(form: dict, url: str, token: str) -> str:
    return RequestValidator(token).compute_signature(url, form)


def post_signed(client, path: str, form: dict, token: str, *, url: str | None = None):
    """Posts `form` as Twilio would, signed for the public URL (or `url`)."""
    headers = {"X-Twilio-Signature": signature(form, url or PUBLIC + path, token)}
    return client.post(path, data=form, headers=headers)


def sms_settings(twilio: FakeTwilioAPI, **extra) -> dict:
    return {
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": TOWN_NUMBER,
        "TWILIO_API_BASE_URL": twilio.base_url,
        "PUBLIC_BASE_URL": PUBLIC,
        "SMS_RATE_PER_SECOND": 1000,  # the rate limiter has its own test
        "DEFAULT_LANGUAGE": "en",
        **extra,
    }


def make_sms_app(database_url: str, tmp_path, twilio: FakeTwilioAPI, **extra):
    return create_app({**base_config(database_url, tmp_path), **sms_settings(twilio, **extra)})


def deliver(rt, sender: SmsSender | None = None) -> int:
    """Runs the outbox worker with the real SmsSender until nothing is due."""
    worker = OutboxWorker(rt, {"sms": sender or SmsSender(rt)})
    total = 0
    for _ in range(20):
        tried = worker.run_once()
        total += tried
        if not tried:
            break
    return total


class Phone(ContactOnChannel):
    """A citizen's phone texting the town's number, through the signed webhook."""

    channel = "sms"

    def __init__(self, app, twilio: FakeTwilioAPI, number: str = CITIZEN) -> None:
        self.app = app
        self.rt = app.extensions["webleads"]
        self.twilio = twilio
        self.number = number
        self.client = app.test_client()
        self.sender = SmsSender(self.rt)
        self._read = 0

    def text(self, body: str, *, sid: str | None = None, fixture: str = "inbound_sms", **fields):
        """Texts `body`; returns the webhook's response."""
        sid = sid or "SM" + uuid.uuid4().hex
        form = twilio_form(
            fixture, Body=body, From=self.number, MessageSid=sid, SmsSid=sid, SmsMessageSid=sid
        )
        form.update(fields)
        response = post_signed(self.client, "/webhooks/sms", form, self.twilio.auth_token)
        assert response.status_code == 200, response.get_data(as_text=True)
        run_jobs(self.rt)  # the worker's part: an MMS picture is downloaded there
        return response

    def mms(self, data: bytes, content_type: str = "image/jpeg", body: str = "", **kw):
        """Sends a picture message; the picture waits on the fake Twilio, as on Twilio."""
        sid, media = "MM" + uuid.uuid4().hex, "ME" + uuid.uuid4().hex
        self.twilio.add_media(sid, media, data, content_type)
        url = (
            f"https://api.twilio.com/2010-04-01/Accounts/{self.twilio.account_sid}"
            f"/Messages/{sid}/Media/{media}"
        )
        return self.text(
            body, sid=sid, fixture="inbound_mms", MediaUrl0=url, MediaContentType0=content_type
        )

    def inbox(self) -> list[str]:
        """The SMS that reached this phone since the last look (the worker runs first)."""
        deliver(self.rt, self.sender)
        bodies = [m["Body"] for m in self.twilio.sent_to(self.number)]
        new, self._read = bodies[self._read :], len(bodies)
        return new

    def says(self, body: str, **kw) -> str:
        """Texts `body` and returns what came back, joined."""
        self.text(body, **kw)
        return "\n---\n".join(self.inbox())


def file_by_sms(phone: Phone, address: str = "12 rue de la Poterie") -> int:
    """Goes through a whole report by SMS (no geocoder: the address is kept as typed)."""
    for body in ("Hello", "1", "Deep hole in front of number 12", "skip", address, "1"):
        phone.text(body)
    done = phone.inbox()
    ref = next(text for text in done if "is registered" in text)
    return int(ref.split("#", 1)[1].split(" ", 1)[0])


def receipt(client, twilio: FakeTwilioAPI, name: str, message_sid: str, **changes):
    """Posts a signed delivery receipt (tests/fixtures/twilio/status_*.txt) for a message."""
    form = twilio_form(name, MessageSid=message_sid, SmsSid=message_sid, **changes)
    return post_signed(client, "/webhooks/sms/status", form, twilio.auth_token)
