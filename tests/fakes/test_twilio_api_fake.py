"""The Twilio stand-in, driven by the real twilio Client built by webhooks.twilio_http."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from tests.fakes.twilio_api import FakeTwilioAPI, count_segments
from webhooks.twilio_http import (
    DEFAULT_TIMEOUT,
    BaseUrlHttpClient,
    make_client,
    rebase_url,
)

CITIZEN = "+33612345678"
TOWN_NUMBER = "+33757000001"
SERVICE_SID = "MG" + "ab" * 16
SID_PATTERN = re.compile(r"^SM[0-9a-f]{32}$")


@pytest.fixture
def fake() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI() as api:
        yield api


@pytest.fixture
def client(fake: FakeTwilioAPI) -> Client:
    return make_client(fake.account_sid, fake.auth_token, fake.base_url)


# --- sending ---------------------------------------------------------------------


def test_create_with_from_records_the_exact_form(fake: FakeTwilioAPI, client: Client) -> None:
    message = client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="Signalement #1042 reçu")

    assert fake.messages == [
        {"To": CITIZEN, "From": TOWN_NUMBER, "Body": "Signalement #1042 reçu", "sid": message.sid}
    ]
    assert SID_PATTERN.match(message.sid)
    assert message.status == "queued"
    assert message.num_segments == "1"
    assert message.num_media == "0"
    assert message.from_ == TOWN_NUMBER
    assert message.direction == "outbound-api"
    assert message.account_sid == fake.account_sid
    assert message.date_created is not None  # parsed from RFC 2822 by the client
    assert message.uri == f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{message.sid}.json"
    assert fake.sent_to(CITIZEN)[0]["sid"] == message.sid


def test_create_through_messaging_service_with_status_callback(
    fake: FakeTwilioAPI, client: Client
) -> None:
    callback = "https://town.example/webhooks/sms/status"
    message = client.messages.create(
        to=CITIZEN, messaging_service_sid=SERVICE_SID, body="Bonjour", status_callback=callback
    )

    assert fake.messages == [
        {
            "To": CITIZEN,
            "MessagingServiceSid": SERVICE_SID,
            "Body": "Bonjour",
            "StatusCallback": callback,
            "sid": message.sid,
        }
    ]
    # Twilio: a Messaging Service send is "accepted", its sender chosen later.
    assert message.status == "accepted"
    assert message.from_ is None
    assert message.messaging_service_sid == SERVICE_SID


# --- segments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "body", "segments"),
    [
        ("gsm7 single full", "a" * 160, 1),
        ("gsm7 161 chars", "a" * 161, 2),
        ("gsm7 two full parts", "a" * 306, 2),
        ("gsm7 third part", "a" * 307, 3),
        ("gsm7 accents of the basic table", "é è à ù ì ò É Ç" * 10, 1),
        ("extended chars count two", "€" * 80, 1),
        ("extended chars overflow", "€" * 81, 2),
        ("escape pair never split", "a" * 152 + "€" + "a" * 10, 2),
        ("escape pair pushed to next part", "a" * 152 + "€" + "a" * 152, 3),
        ("lowercase c cedilla is not gsm7", "ç" * 70, 1),
        ("ucs2 71 chars", "ç" * 71, 2),
        ("emoji is two code units", "a" * 68 + "👋", 1),
        ("emoji overflows ucs2", "a" * 69 + "👋", 2),
        ("surrogate pair never split", "a" * 66 + "👋" + "a" * 66, 3),
        ("empty body", "", 1),
    ],
)
def test_count_segments(label: str, body: str, segments: int) -> None:
    assert count_segments(body) == segments, label


@pytest.mark.parametrize(
    ("body", "segments"),
    [("a" * 161, "2"), ("Votre signalement est résolu 👍", "1"), ("👍" * 36, "2")],
)
def test_client_sees_segments(client: Client, body: str, segments: str) -> None:
    message = client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body=body)
    assert message.num_segments == segments


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "kwargs", "status", "code"),
    [
        ("missing To", {"to": "", "from_": TOWN_NUMBER, "body": "x"}, 400, 21604),
        ("no sender", {"to": CITIZEN, "body": "x"}, 400, 21603),
        ("no body", {"to": CITIZEN, "from_": TOWN_NUMBER}, 400, 21602),
        (
            "contact key as number",
            {"to": "sms:" + CITIZEN, "from_": TOWN_NUMBER, "body": "x"},
            400,
            21211,
        ),
        ("bad sender", {"to": CITIZEN, "from_": "not a sender!", "body": "x"}, 400, 21212),
        ("too long", {"to": CITIZEN, "from_": TOWN_NUMBER, "body": "a" * 1601}, 400, 21617),
    ],
)
def test_validation_errors(
    fake: FakeTwilioAPI,
    client: Client,
    label: str,
    kwargs: dict[str, str],
    status: int,
    code: int,
) -> None:
    with pytest.raises(TwilioRestException) as error:
        client.messages.create(**kwargs)

    assert (error.value.status, error.value.code) == (status, code), label
    assert fake.messages == []


def test_unsubscribed_recipient_raises_21610(fake: FakeTwilioAPI, client: Client) -> None:
    fake.unsubscribe(CITIZEN)

    with pytest.raises(TwilioRestException) as error:
        client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")

    assert error.value.status == 400
    assert error.value.code == 21610
    assert "unsubscribed recipient" in error.value.msg
    assert fake.messages == []


def test_invalid_number_raises_21211(fake: FakeTwilioAPI, client: Client) -> None:
    fake.invalid_number(CITIZEN)

    with pytest.raises(TwilioRestException) as error:
        client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")

    assert (error.value.status, error.value.code) == (400, 21211)
    assert CITIZEN in error.value.msg


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, 20500), (503, 20503)])
def test_fail_next_then_recover(
    fake: FakeTwilioAPI, client: Client, status: int, code: int
) -> None:
    fake.fail_next(2, status=status)

    for _ in range(2):
        with pytest.raises(TwilioRestException) as error:
            client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")
        assert (error.value.status, error.value.code) == (status, code)
    client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")

    assert len(fake.messages) == 1
    assert fake.rejected_429 == (2 if status == 429 else 0)


def test_wrong_credentials_get_401(fake: FakeTwilioAPI) -> None:
    intruder = make_client(fake.account_sid, "wrong-token", fake.base_url)

    with pytest.raises(TwilioRestException) as error:
        intruder.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")

    assert (error.value.status, error.value.code) == (401, 20003)
    assert fake.messages == []


def test_twilio_error_json_shape(fake: FakeTwilioAPI) -> None:
    fake.unsubscribe(CITIZEN)
    response = requests.post(
        f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json",
        data={"To": CITIZEN, "From": TOWN_NUMBER, "Body": "x"},
        auth=(fake.account_sid, fake.auth_token),
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": 21610,
        "message": "Attempt to send to unsubscribed recipient",
        "more_info": "https://www.twilio.com/docs/errors/21610",
        "status": 400,
    }


def test_enforced_rate_limit_rejects_the_excess(fake: FakeTwilioAPI, client: Client) -> None:
    fake.enforce_limits(per_second=5)
    codes = []
    for _ in range(8):
        try:
            client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")
            codes.append(201)
        except TwilioRestException as error:
            codes.append(error.code)

    assert codes == [201] * 5 + [20429] * 3
    assert fake.rejected_429 == 3

    time.sleep(1.05)  # the window slides: sends are accepted again
    client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")
    assert len(fake.messages) == 6


def test_set_down_refuses_connections_then_comes_back(fake: FakeTwilioAPI, client: Client) -> None:
    client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="before")  # a pooled connection
    base_url = fake.base_url

    fake.set_down(True)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="during")

    fake.set_down(False)
    client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="after")
    assert fake.base_url == base_url
    assert [m["Body"] for m in fake.messages] == ["before", "after"]


# --- media ------------------------------------------------------------------------


def test_media_requires_basic_auth_and_redirects_to_the_cdn(fake: FakeTwilioAPI) -> None:
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg"
    message_sid, media_sid = "MM" + "1" * 32, "ME" + "2" * 32
    url = fake.add_media(message_sid, media_sid, jpeg, "image/jpeg")

    anonymous = requests.get(url, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == 20003

    credentials = (fake.account_sid, fake.auth_token)
    redirect = requests.get(url, auth=credentials, allow_redirects=False, timeout=5)
    assert redirect.status_code == 307
    assert "/mms-cdn/" in redirect.headers["Location"]

    picture = requests.get(url, auth=credentials, timeout=5)
    assert picture.status_code == 200
    assert picture.headers["Content-Type"] == "image/jpeg"
    assert picture.content == jpeg


# --- the HTTP client ------------------------------------------------------------------


class _Captured(Exception):
    pass


@pytest.mark.parametrize(
    "api_base_url", [None, "https://api.twilio.com", "https://api.twilio.com/"]
)
def test_make_client_without_stand_in_calls_twilio(
    monkeypatch: pytest.MonkeyPatch, api_base_url: str | None
) -> None:
    monkeypatch.delenv("TWILIO_EDGE", raising=False)
    monkeypatch.delenv("TWILIO_REGION", raising=False)
    sid = "AC" + "f" * 32
    client = make_client(sid, "token", api_base_url)
    seen: list[str] = []

    def capture(request: requests.PreparedRequest, **kwargs: Any) -> None:
        seen.append(request.url or "")
        raise _Captured

    assert type(client.http_client) is TwilioHttpClient
    assert client.http_client.timeout == DEFAULT_TIMEOUT
    monkeypatch.setattr(client.http_client.session, "send", capture)
    with pytest.raises(_Captured):
        client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")

    assert seen == [f"https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"]


def test_make_client_with_stand_in_uses_the_base_url(fake: FakeTwilioAPI) -> None:
    client = make_client(fake.account_sid, fake.auth_token, fake.base_url + "/")
    assert isinstance(client.http_client, BaseUrlHttpClient)
    assert client.http_client.timeout == DEFAULT_TIMEOUT
    client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")
    assert len(fake.messages) == 1


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "http://127.0.0.1:8082",
            "http://127.0.0.1:8082/2010-04-01/Accounts/AC1/Messages.json",
        ),
        (
            "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=5",
            "http://127.0.0.1:8082/twilio/",
            "http://127.0.0.1:8082/twilio/2010-04-01/Accounts/AC1/Messages.json?PageSize=5",
        ),
        (
            "https://town.example/webhooks/sms/status",
            "http://127.0.0.1:8082",
            "https://town.example/webhooks/sms/status",
        ),
        (
            "https://eviltwilio.com/x",
            "http://127.0.0.1:8082",
            "https://eviltwilio.com/x",
        ),
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            None,
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
        ),
    ],
)
def test_rebase_url(url: str, base: str | None, expected: str) -> None:
    assert rebase_url(url, base) == expected


def test_edge_and_region_hosts_are_rewritten_too(
    fake: FakeTwilioAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    client = make_client(fake.account_sid, fake.auth_token, fake.base_url)
    client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")
    assert len(fake.messages) == 1


# --- standalone ----------------------------------------------------------------------------
