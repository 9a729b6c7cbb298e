"""Every SMS/MMS form Twilio sends (tests/fixtures/twilio/inbound_*.txt), in one table:
what the citizen gets back and where the conversation is after it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.helpers import jpeg_with_gps, run_jobs
from tests.sms_support import Phone, post_signed, twilio_form

PICTURE_SID = "MM8e7d6c5b4a39281706f5e4d3c2b1a0f9"
PICTURE_MEDIA = "ME0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@dataclass(frozen=True)
class Row:
    label: str
    fixture: str
    before: str | None  # the state the citizen is in first; None: they never wrote
    says: str | None  # the start of the first SMS back; None: no answer at all
    after: str | None = None  # the state after (None: as before)
    keep_body: bool = False  # the fixture's own Body (else the citizen's number writes it)


ROWS = [
    Row("text", "inbound_sms", None, "Hello! I am the reporting assistant of Vitré",
        after="menu", keep_body=True),
    Row("stop", "inbound_stop", "menu", "You will no longer receive", after="idle",
        keep_body=True),
    Row("picture-at-the-photo-step", "inbound_mms", "photo", "Where is it?", after="location"),
    Row("vcard-at-the-photo-step", "inbound_vcard", "photo", "I can only use pictures"),
    Row("sound-then-picture", "inbound_audio_then_picture", "photo", "Where is it?",
        after="location"),
    Row("picture-at-the-menu", "inbound_mms", "menu", "I cannot use a picture at this step."),
    Row("alphanumeric-sender", "inbound_alphanumeric_sender", None, None, keep_body=True),
]  # fmt: skip

TO_STATE = {"menu": ["Bonjour"], "photo": ["Bonjour", "1", "Un trou profond devant le 12"]}


@pytest.mark.parametrize("row", ROWS, ids=[r.label for r in ROWS])
def test_inbound_table(sms_app, twilio, row: Row) -> None:
    phone = Phone(sms_app, twilio)
    for body in TO_STATE.get(row.before, []):
        phone.text(body)
    phone.inbox()
    twilio.add_media(PICTURE_SID, PICTURE_MEDIA, jpeg_with_gps(), "image/jpeg")
    form = twilio_form(row.fixture)
    if not row.keep_body:
        form["Body"] = ""
    response = post_signed(phone.client, "/webhooks/sms", form, twilio.auth_token)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    run_jobs(phone.rt)
    answers = phone.inbox()
    if row.says is None:
        assert answers == []
        assert row.before is None and phone.citizen is None  # nobody was created
        return
    assert answers and answers[0].startswith(row.says), answers
    assert phone.state == (row.after or row.before)
