"""Bad input at the WhatsApp webhooks: generated, validly signed forms never get a 5xx,
and the database stays consistent."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services import crew_links
from tests.helpers import TalkingCitizen, consistent, make_agent
from tests.sms_support import CITIZEN, post_signed
from tests.test_fuzz import PREFIXES, endings, numbers
from tests.test_fuzz_sms import FUZZ, failures_logged, media_url, text
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
        "NumMedia": st.one_of(st.sampled_from(["0", "1", "-1", "abc", "²"]), text),
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
            st.sampled_from(["63016", "63015", "63018", "63024", "63005", "-1", "9" * 40, "²"]),
            text,
        )
    },
)


@pytest.fixture(autouse=True)
def no_refusal_lookups(monkeypatch):
    # Refusals for unknown messages are looked for a moment (routes.py): not here.
    monkeypatch.setattr(routes, "REFUSAL_LOOKUPS", ())


@FUZZ
@given(changes=form)
def test_generated_whatsapp_messages(wa_app, twilio, caplog, changes) -> None:
    body = {**wa_form("inbound_text"), **changes}
    seen = len(caplog.records)
    response = post_signed(wa_app.test_client(), INBOUND, body, twilio.auth_token)
    assert response.status_code < 500, (response.status_code, body)
    assert failures_logged(caplog, seen) == [], body
    consistent(wa_app.extensions["webleads"])


@FUZZ
@given(changes=status_form)
def test_generated_whatsapp_status_callbacks(wa_app, twilio, changes) -> None:
    body = {**wa_form("status_read"), **changes}
    response = post_signed(wa_app.test_client(), STATUS, body, twilio.auth_token)
    assert response.status_code < 500, (response.status_code, body)


# A quick reply's payload and a list row's id come back as the bot wrote them, or as anything.
choice_data = st.one_of(
    st.builds(lambda p, n, e: p + n + e, st.sampled_from(PREFIXES), numbers, endings),
    st.text(max_size=3000),
)
CREW_PHONE = "+33612345699"


@pytest.fixture
def crew_phone(wa_app):
    rt = wa_app.extensions["webleads"]
    agent_id = make_agent(rt, "paul@ville.fr")
    with rt.db.transaction() as session:
        code = crew_links.issue_code(session, agent_id, rt.settings.SECRET_KEY)
    phone = TalkingCitizen(rt, CREW_PHONE, channel="whatsapp", language_code="en")
    assert "Linked" in phone.texts(f"AGENT {code}")
    return CREW_PHONE


@FUZZ
@given(field=st.sampled_from(["ButtonPayload", "ListId"]), data=choice_data, crew=st.booleans())
def test_choices_of_any_size_from_a_citizen_and_a_crew(
    wa_app, twilio, crew_phone, caplog, field, data, crew
) -> None:
    sender = "whatsapp:" + (crew_phone if crew else CITIZEN)
    kind = "button" if field == "ButtonPayload" else "interactive"
    body = {**wa_form("inbound_text"), "MessageSid": f"SM{uuid.uuid4().hex}", "From": sender,
            "MessageType": kind, field: data}  # fmt: skip
    seen = len(caplog.records)
    response = post_signed(wa_app.test_client(), INBOUND, body, twilio.auth_token)
    assert response.status_code == 200, (response.status_code, field, data[:80])
    # Handled, not a failure the webhook's guard logged and acknowledged.
    assert failures_logged(caplog, seen) == [], (field, data[:80])
    consistent(wa_app.extensions["webleads"])
