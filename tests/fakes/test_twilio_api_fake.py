"""The Twilio stand-in, driven by the real twilio Client built by webhooks.twilio.client."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList

from tests.fakes.server import FakeServer, Request, Response
from tests.fakes.twilio_api import FakeTwilioAPI, count_segments
from webhooks.twilio.client import (
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


# --- WhatsApp ----------------------------------------------------------------------------

WA_CITIZEN = "whatsapp:" + CITIZEN
WA_TOWN = "whatsapp:" + TOWN_NUMBER
FIXTURES = Path(__file__).parents[1] / "fixtures" / "whatsapp"
LIST_PICKER = {
    "body": "Quel est le problème ?",
    "button": "Choisir",
    "items": [{"id": "voirie", "item": "Voirie", "description": "Trous, trottoirs"}],
}
QUICK_REPLY = {
    "body": "Avez-vous une photo ?",
    "actions": [{"id": "yes", "title": "Oui"}, {"id": "no", "title": "Non"}],
}


class _Receiver(FakeServer):
    """The product's status webhook, as far as these tests need: it records each POST."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[tuple[str, dict[str, str], str]] = []

    def handle(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        with self._lock:
            self.posts.append((request.path, form, request.headers["X-Twilio-Signature"]))
        return Response(200, b"", "text/xml")


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    with _Receiver() as server:
        yield server


def _content(client: Client, types: dict[str, Any], language: str = "fr") -> Any:
    request = ContentList.ContentCreateRequest(
        {"friendly_name": "t", "language": language, "variables": {}, "types": types}
    )
    return client.content.v1.contents.create(request)


def test_whatsapp_in_session_then_signed_receipts_up_to_read(
    fake: FakeTwilioAPI, client: Client, receiver: _Receiver
) -> None:
    fake.whatsapp_inbound(WA_CITIZEN)
    callback = receiver.base_url + "/webhooks/whatsapp/status"
    message = client.messages.create(
        to=WA_CITIZEN,
        from_=WA_TOWN,
        body="Votre signalement #1042 est reçu",
        status_callback=callback,
    )
    assert (message.status, message.error_code) == ("queued", None)
    assert message.to == WA_CITIZEN

    fake.deliver(message.sid, "sent", "delivered", "read")

    validator = RequestValidator(fake.auth_token)
    assert [form["MessageStatus"] for _, form, _ in receiver.posts] == ["sent", "delivered", "read"]
    for path, form, signature in receiver.posts:
        assert path == "/webhooks/whatsapp/status"
        assert validator.validate(callback, form, signature)
        assert (form["MessageSid"], form["To"], form["From"]) == (message.sid, WA_CITIZEN, WA_TOWN)
        assert form["ChannelPrefix"] == "whatsapp" and "ErrorCode" not in form
    [sent] = fake.whatsapp_sent_to(CITIZEN)
    assert sent["body"] == "Votre signalement #1042 est reçu"
    assert (sent["status"], sent["error_code"]) == ("read", None)


@pytest.mark.parametrize(
    ("label", "types", "kwargs"),
    [
        ("text", None, {"body": "Statut : résolu"}),
        ("photo alone", None, {"media_url": ["https://town.example/m/1.jpg"]}),
        ("list picker", {"twilio/list-picker": LIST_PICKER}, {}),
        ("quick reply", {"twilio/quick-reply": QUICK_REPLY}, {}),
    ],
)
def test_free_form_outside_the_window_is_accepted_then_fails_63016(
    fake: FakeTwilioAPI,
    client: Client,
    receiver: _Receiver,
    label: str,
    types: dict[str, Any] | None,
    kwargs: dict[str, Any],
) -> None:
    fake.whatsapp_inbound(CITIZEN, at=datetime.now(UTC) - timedelta(hours=24, minutes=1))
    if types:
        kwargs = {"content_sid": _content(client, types).sid}
    callback = receiver.base_url + "/status"
    message = client.messages.create(
        to=WA_CITIZEN, from_=WA_TOWN, status_callback=callback, **kwargs
    )

    # Twilio's answer is a 201: the refusal is WhatsApp's, and comes afterwards.
    assert (message.status, message.error_code) == ("queued", None), label
    [posted] = fake.wait_for_callbacks(1)
    assert posted["answer"] == 200
    [(_, form, signature)] = receiver.posts
    assert RequestValidator(fake.auth_token).validate(callback, form, signature)
    assert (form["MessageStatus"], form["ErrorCode"]) == ("failed", "63016")
    assert fake.whatsapp_sent_to(WA_CITIZEN)[0]["error_code"] == 63016


def test_approved_template_goes_outside_the_window_with_its_variables(
    fake: FakeTwilioAPI, client: Client
) -> None:
    sid = fake.approved_template("fr", "Votre signalement {{1}} est maintenant : {{2}}.")
    message = client.messages.create(
        to=WA_CITIZEN,
        from_=WA_TOWN,
        content_sid=sid,
        content_variables=json.dumps({"1": "#1042", "2": "résolu"}),
        status_callback="http://127.0.0.1:9/unreachable",
    )

    time.sleep(0.2)  # a refusal would have been reported by now
    assert fake.callbacks == []
    assert fake.whatsapp_sent_to(CITIZEN) == [
        {
            "sid": message.sid,
            "body": "Votre signalement #1042 est maintenant : résolu.",
            "content_sid": sid,
            "content_variables": {"1": "#1042", "2": "résolu"},
            "media_url": [],
            "status": "queued",
            "error_code": None,
        }
    ]
    approval = client.content.v1.contents(sid).approval_fetch().fetch()
    assert approval.whatsapp["status"] == "approved"


@pytest.mark.parametrize(("hours", "code"), [(23.9, None), (24.1, 63016)])
def test_the_window_is_24_hours_from_the_last_inbound(
    fake: FakeTwilioAPI, client: Client, hours: float, code: int | None
) -> None:
    fake.whatsapp_inbound(WA_CITIZEN, at=datetime.now(UTC) - timedelta(hours=hours))
    client.messages.create(to=WA_CITIZEN, from_=WA_TOWN, body="x")
    time.sleep(0.2)
    assert fake.whatsapp_sent_to(CITIZEN)[0]["error_code"] == code


def test_four_buttons_in_session_are_refused(fake: FakeTwilioAPI, client: Client) -> None:
    fake.whatsapp_inbound(CITIZEN)
    actions = [{"id": str(n), "title": f"Choix {n}"} for n in range(4)]
    content = _content(client, {"twilio/quick-reply": {"body": "?", "actions": actions}})
    client.messages.create(to=WA_CITIZEN, from_=WA_TOWN, content_sid=content.sid)
    fake.wait_for_callbacks(1)
    assert fake.whatsapp_sent_to(CITIZEN)[0]["error_code"] == 63005


@pytest.mark.parametrize(
    ("inject", "code"),
    [
        (lambda fake: fake.sandbox_not_joined(CITIZEN), 63015),
        (lambda fake: fake.fail_whatsapp_next(1, code=63018), 63018),
        (lambda fake: fake.fail_whatsapp_next(1, code=63024), 63024),
    ],
)
def test_injected_whatsapp_failures_come_after_the_201(
    fake: FakeTwilioAPI, client: Client, inject: Any, code: int
) -> None:
    fake.whatsapp_inbound(CITIZEN)
    inject(fake)
    message = client.messages.create(to=WA_CITIZEN, from_=WA_TOWN, body="x")
    assert message.error_code is None
    [callback] = fake.wait_for_callbacks(1)
    assert callback["url"] is None  # no StatusCallback: recorded, not posted
    assert callback["form"]["ErrorCode"] == str(code)
    assert fake.message(message.sid)["status"] == "failed"


@pytest.mark.parametrize(
    ("label", "kwargs", "status", "code"),
    [
        ("variables without sid", {"body": "x", "content_variables": '{"1": "a"}'}, 400, 21654),
        ("unknown sid", {"content_sid": "HX" + "0" * 32}, 400, 21655),
        ("bad sender", {"from_": "whatsapp:Mairie", "body": "x"}, 400, 21212),
        ("bad recipient", {"to": "whatsapp:0612345678", "body": "x"}, 400, 21211),
    ],
)
def test_whatsapp_send_errors(
    fake: FakeTwilioAPI,
    client: Client,
    label: str,
    kwargs: dict[str, str],
    status: int,
    code: int,
) -> None:
    with pytest.raises(TwilioRestException) as error:
        client.messages.create(**{"to": WA_CITIZEN, "from_": WA_TOWN, **kwargs})
    assert (error.value.status, error.value.code) == (status, code), label


@pytest.mark.parametrize("variables", ["not json", '["#1042"]', '{"1": ""}'])
def test_invalid_content_variables_raise_21656(
    fake: FakeTwilioAPI, client: Client, variables: str
) -> None:
    sid = fake.approved_template("fr", "Signalement {{1}}")
    with pytest.raises(TwilioRestException) as error:
        client.messages.create(
            to=WA_CITIZEN, from_=WA_TOWN, content_sid=sid, content_variables=variables
        )
    assert (error.value.status, error.value.code) == (400, 21656)


def test_whatsapp_opt_out_and_daily_limit_are_synchronous(
    fake: FakeTwilioAPI, client: Client
) -> None:
    fake.whatsapp_inbound(CITIZEN)
    fake.whatsapp_daily_limit(1)
    client.messages.create(to=WA_CITIZEN, messaging_service_sid=SERVICE_SID, body="1")
    with pytest.raises(TwilioRestException) as error:
        client.messages.create(to=WA_CITIZEN, messaging_service_sid=SERVICE_SID, body="2")
    assert (error.value.status, error.value.code) == (429, 63038)

    fake.whatsapp_daily_limit(None)
    fake.unsubscribe(CITIZEN)
    with pytest.raises(TwilioRestException) as error:
        client.messages.create(to=WA_CITIZEN, from_=WA_TOWN, body="3")
    assert (error.value.status, error.value.code) == (400, 21610)
    assert [m["Body"] for m in fake.messages] == ["1"]


# --- Content API ---------------------------------------------------------------------------


def test_content_create_fetch_and_list_with_the_real_client(client: Client) -> None:
    picker = _content(client, {"twilio/list-picker": LIST_PICKER})
    buttons = _content(client, {"twilio/quick-reply": QUICK_REPLY}, language="en")

    assert re.match(r"^HX[0-9a-f]{32}$", picker.sid)
    # The library sends every type it knows (null when unused); only the real one is kept.
    assert picker.types == {"twilio/list-picker": LIST_PICKER}
    assert picker.date_created is not None  # ISO 8601, parsed by the client
    fetched = client.content.v1.contents(buttons.sid).fetch()
    assert (fetched.language, fetched.types) == ("en", {"twilio/quick-reply": QUICK_REPLY})
    assert [c.sid for c in client.content.v1.contents.list(page_size=1)] == [
        picker.sid,
        buttons.sid,
    ]
    approval = client.content.v1.contents(picker.sid).approval_fetch().fetch()
    assert approval.whatsapp["status"] == "unsubmitted"


@pytest.mark.parametrize(
    ("label", "types"),
    [
        (
            "11 list items",
            {"twilio/list-picker": {**LIST_PICKER, "items": LIST_PICKER["items"] * 11}},
        ),
        (
            "25-character item",
            {"twilio/list-picker": {**LIST_PICKER, "items": [{"id": "a", "item": "x" * 25}]}},
        ),
        (
            "11 quick replies",
            {"twilio/quick-reply": {**QUICK_REPLY, "actions": QUICK_REPLY["actions"] * 6}},
        ),
        (
            "21-character title",
            {"twilio/quick-reply": {**QUICK_REPLY, "actions": [{"id": "a", "title": "x" * 21}]}},
        ),
        ("no type", {}),
    ],
)
def test_content_over_the_limits_is_refused(
    client: Client, label: str, types: dict[str, Any]
) -> None:
    with pytest.raises(TwilioRestException) as error:
        _content(client, types)
    assert error.value.status == 400, label


def test_content_at_the_limits_is_accepted(client: Client) -> None:
    items = [{"id": str(n), "item": "x" * 24, "description": "d"} for n in range(10)]
    actions = [{"id": str(n), "title": "y" * 20} for n in range(10)]
    _content(client, {"twilio/list-picker": {**LIST_PICKER, "items": items}})
    _content(client, {"twilio/quick-reply": {**QUICK_REPLY, "actions": actions}})


def test_unknown_content_is_404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as error:
        client.content.v1.contents("HX" + "f" * 32).fetch()
    assert error.value.status == 404


# --- fixtures ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.txt")), ids=lambda p: p.stem)
def test_whatsapp_fixtures_are_twilio_forms(path: Path) -> None:
    form = dict(parse_qsl(path.read_text(), keep_blank_values=True, strict_parsing=True))
    assert form["AccountSid"] == "AC0123456789abcdef0123456789abcdef"
    assert form["ApiVersion"] == "2010-04-01"
    assert re.match(r"^(SM|MM)[0-9a-f]{32}$", form["MessageSid"])
    inbound = path.stem.startswith("inbound_")
    citizen = form["From"] if inbound else form["To"]
    assert citizen == "whatsapp:+33612345678"
    if inbound:
        assert form["WaId"] == "33612345678" and form["ProfileName"]
        assert int(form["NumMedia"]) == sum(key.startswith("MediaUrl") for key in form)
    else:
        assert form["MessageStatus"] == path.stem.split("_")[1]
