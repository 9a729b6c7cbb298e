"""Bad input at the WhatsApp webhooks: generated, validly signed forms never get a 5xx,
and the database stays consistent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import consistent
from tests.sms_support import post_signed
from tests.test_fuzz_sms import FUZZ, media_url, text
from tests.whatsapp_support import INBOUND, STATUS, wa_form
from webhooks.whatsapp import routes

address = st.one_of(
    st.from_regex(r"whatsapp:\+33[67][0-9]{8}", fullmatch=True),
    st.sampled_from(["whatsapp:", "whatsapp:+1", "+33612345678", "whatsapp:abc", ""]),
    text,
)
number = st.one_of(
    st.sampled_from(["48.85", "-91", "181", "nan", "inf", "1e400", "", "0x10"]), text
)
form = st.fixed_dictionaries(
    {
        "MessageSid": st.one_of(st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True), text),
        "From": address,
        "Body": st.one_of(text, st.sampled_from(["STOP", "aide", "1", "oui", "#1001"])),
    },
    optional={
        "ProfileName": text,
        "MessageType": st.one_of(
            st.sampled_from(["text", "image", "audio", "sticker", "location", "interactive"]),
            text,
        ),
        "ButtonPayload": st.one_of(st.sampled_from(["yes", "skip", "cat:x", "fixed:1:yes"]), text),
        "ButtonText": text,
        "ListId": st.one_of(st.sampled_from(["cat:nid-de-poule", "mine", "idea"]), text),
        "ListTitle": text,
        "Latitude": number,
        "Longitude": number,
        "NumMedia": st.one_of(st.sampled_from(["0", "1", "-1", "abc"]), text),
        "MediaUrl0": media_url,
        "MediaContentType0": st.one_of(st.sampled_from(["image/jpeg", "audio/ogg"]), text),
        "OriginalRepliedMessageSid": st.one_of(st.sampled_from(["SM" + "0" * 32]), text),
    },
)
status_form = st.fixed_dictionaries(
    {
        "MessageSid": st.one_of(st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True), text),
        "MessageStatus": st.one_of(
            st.sampled_from(["queued", "sent", "delivered", "undelivered", "failed", "read"]),
            text,
        ),
    },
    optional={
        "ErrorCode": st.one_of(
            st.sampled_from(["63016", "63015", "63018", "63024", "63005", "-1", "9" * 40]), text
        )
    },
)


@pytest.fixture(autouse=True)
def no_refusal_lookups(monkeypatch):
    # Refusals for unknown messages are looked for a moment (routes.py): not here.
    monkeypatch.setattr(routes, "REFUSAL_LOOKUPS", ())


@FUZZ
@given(changes=form)
def test_generated_whatsapp_messages(wa_app, twilio, changes) -> None:
    body = {**wa_form("inbound_text"), **changes}
    response = post_signed(wa_app.test_client(), INBOUND, body, twilio.auth_token)
    assert response.status_code < 500, (response.status_code, body)
    consistent(wa_app.extensions["webleads"])


@FUZZ
@given(changes=status_form)
def test_generated_whatsapp_status_callbacks(wa_app, twilio, changes) -> None:
    body = {**wa_form("status_read"), **changes}
    response = post_signed(wa_app.test_client(), STATUS, body, twilio.auth_token)
    assert response.status_code < 500, (response.status_code, body)
