"""Bad input at the SMS webhooks: generated, validly signed forms never get a 5xx."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import consistent
from tests.sms_support import post_signed, twilio_form

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
text = st.text(max_size=200)
# Numbers past any report's, or digits only to str.isdigit (፩, ²), where a number is read.
HUGE_WORDS = ["/suivi 99999999999999999999", "/suivre 99999999999999999999", "/suivi ፩",
              "SUIVRE ²", "፩", "9" * 1500, "#99999999999999999999"]  # fmt: skip
phone = st.one_of(
    st.from_regex(r"\+33[67][0-9]{8}", fullmatch=True),
    st.sampled_from(["+15005550006", "0612345678", "38100", "whatsapp:+33612345678", ""]),
    text,
)
media_url = st.one_of(
    st.just("https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0"),
    st.just("http://169.254.169.254/latest/meta-data/"),  # must never be fetched
    text,
)
form = st.fixed_dictionaries(
    {
        "MessageSid": st.one_of(st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True), text),
        "From": phone,
        "Body": st.one_of(
            text,
            st.sampled_from(["STOP", "aide", "1", "oui", "#1001", "passer"]),
            st.sampled_from(HUGE_WORDS),
        ),
    },
    optional={
        "NumMedia": st.one_of(st.sampled_from(["0", "1", "3", "-1", "abc", "²", "9" * 5000]), text),
        "MediaUrl0": media_url,
        "MediaContentType0": st.one_of(st.sampled_from(["image/jpeg", "text/plain"]), text),
        "To": phone,
        "Junk": text,
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
    optional={"ErrorCode": st.one_of(st.sampled_from(["30003", "30008"]), text)},
)


def failures_logged(caplog, seen: int) -> list[str]:
    """What the webhooks' guard logged (and acknowledged) since `seen` records: the engine's
    failures, which a 2xx answer no longer shows."""
    return [r.getMessage() for r in caplog.records[seen:] if r.name == "bot.engine"
            and r.levelname == "ERROR"]  # fmt: skip


@FUZZ
@given(changes=form)
def test_generated_twilio_messages(sms_app, twilio, caplog, changes) -> None:
    body = {**twilio_form("inbound_sms"), **changes}
    client = sms_app.test_client()
    seen = len(caplog.records)
    response = post_signed(client, "/webhooks/sms", body, twilio.auth_token)
    assert response.status_code < 500, (response.status_code, body)
    assert failures_logged(caplog, seen) == [], body
    consistent(sms_app.extensions["webleads"])


@FUZZ
@given(changes=status_form)
def test_generated_twilio_status_callbacks(sms_app, twilio, changes) -> None:
    body = {**twilio_form("status_delivered"), **changes}
    response = post_signed(sms_app.test_client(), "/webhooks/sms/status", body, twilio.auth_token)
    assert response.status_code < 500, (response.status_code, body)
