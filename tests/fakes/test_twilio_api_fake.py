"""The Twilio stand-in, driven by the real twilio Client built by webhooks.twilio_http."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fakes.twilio_api import FakeTwilioAPI, count_segments, signed_post
from webhooks.twilio_http import (
    DEFAULT_TIMEOUT,
    BaseUrlHttpClient,
    make_client,
    rebase_url,
)

CITIZEN = "+33612345678"
TOWN_NUMBER = "+33757000001"
SERVICE_SID = "MG" + "ab" * 16
ROOT = Path(__file__).resolve().parents[2]
SID_PATTERN = re.compile(r"^SM[0-9a-f]{32}$")


@pytest.fixture
def fake() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI() as api:
        yield api


@pytest.fixture
def client(fake: FakeTwilioAPI) -> Client:
    return make_client(fake.account_sid, fake.auth_token, fake.base_url)


@dataclass
class Receiver:
    """A tiny webhook endpoint that checks X-Twilio-Signature like the app must."""

    auth_token: str
    public_base_url: str | None = None  # what Twilio signed; default: our own URL
    calls: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""


@pytest.fixture
def receiver(fake: FakeTwilioAPI) -> Iterator[Receiver]:
    state = Receiver(fake.auth_token)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            url = (state.public_base_url or state.base_url) + self.path
            valid = RequestValidator(state.auth_token).validate(
                url, form, self.headers.get("X-Twilio-Signature", "")
            )
            state.calls.append({"path": self.path, "form": form, "valid": valid})
            self.send_response(204 if valid else 403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


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
    assert fake.accepted == 1


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


def test_media_urls_are_recorded_as_a_list_and_make_an_mms(
    fake: FakeTwilioAPI, client: Client
) -> None:
    urls = ["https://town.example/a.jpg", "https://town.example/b.jpg"]
    message = client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, media_url=urls)

    assert fake.messages[0]["MediaUrl"] == urls
    assert message.sid.startswith("MM")
    assert message.num_media == "2"


def test_fetch_returns_the_stored_message(fake: FakeTwilioAPI, client: Client) -> None:
    sent = client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")

    fetched = client.messages(sent.sid).fetch()

    assert (fetched.sid, fetched.status, fetched.body) == (sent.sid, "queued", "x")
    with pytest.raises(TwilioRestException) as error:
        client.messages("SM" + "0" * 32).fetch()
    assert (error.value.status, error.value.code) == (404, 20404)


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
        ("no body nor media", {"to": CITIZEN, "from_": TOWN_NUMBER}, 400, 21602),
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
    assert fake.attempts[0]["http_status"] == status


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
    assert [a["http_status"] for a in fake.attempts] == [status, status, 201]
    assert fake.rejected_429 == (2 if status == 429 else 0)


def test_wrong_credentials_get_401(fake: FakeTwilioAPI) -> None:
    intruder = make_client(fake.account_sid, "wrong-token", fake.base_url)

    with pytest.raises(TwilioRestException) as error:
        intruder.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")

    assert (error.value.status, error.value.code) == (401, 20003)
    assert fake.attempts == []


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
    assert (fake.accepted, fake.rejected_429) == (5, 3)

    time.sleep(1.05)  # the window slides: sends are accepted again
    client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")
    assert fake.accepted == 6


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
    assert url == fake.media_url(message_sid, media_sid)

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

    resource = requests.get(url + ".json", auth=credentials, timeout=5).json()
    assert resource["content_type"] == "image/jpeg"
    assert resource["parent_sid"] == message_sid


def test_media_served_directly_without_redirect() -> None:
    with FakeTwilioAPI(media_redirect=False) as api:
        url = api.add_media("MM" + "1" * 32, "ME" + "3" * 32, b"\x89PNG", "image/png")
        response = requests.get(
            url, auth=(api.account_sid, api.auth_token), allow_redirects=False, timeout=5
        )
    assert (response.status_code, response.headers["Content-Type"]) == (200, "image/png")
    assert response.content == b"\x89PNG"


# --- callbacks ----------------------------------------------------------------------


def test_deliver_status_posts_a_signed_callback(
    fake: FakeTwilioAPI, client: Client, receiver: Receiver
) -> None:
    callback = receiver.base_url + "/webhooks/sms/status"
    message = client.messages.create(
        to=CITIZEN, messaging_service_sid=SERVICE_SID, body="x", status_callback=callback
    )

    assert fake.deliver_status(message.sid, "undelivered", error_code=30005) == (204, "")

    [call] = receiver.calls
    assert call["valid"]
    assert call["path"] == "/webhooks/sms/status"
    assert call["form"] == {
        "AccountSid": fake.account_sid,
        "ApiVersion": "2010-04-01",
        "ErrorCode": "30005",
        "From": fake.service_sender,
        "MessageSid": message.sid,
        "MessageStatus": "undelivered",
        "MessagingServiceSid": SERVICE_SID,
        "SmsSid": message.sid,
        "SmsStatus": "undelivered",
        "To": CITIZEN,
    }
    fetched = client.messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30005)
    assert fetched.date_sent is not None


def test_delivered_callback_has_no_error_code(
    fake: FakeTwilioAPI, client: Client, receiver: Receiver
) -> None:
    message = client.messages.create(
        to=CITIZEN, from_=TOWN_NUMBER, body="x", status_callback=receiver.base_url + "/s"
    )

    fake.deliver_status(message.sid, "sent")
    fake.deliver_status(message.sid, "delivered")

    assert [c["form"]["MessageStatus"] for c in receiver.calls] == ["sent", "delivered"]
    assert all(c["valid"] and "ErrorCode" not in c["form"] for c in receiver.calls)
    assert receiver.calls[-1]["form"]["From"] == TOWN_NUMBER


def test_signed_post_signs_the_public_url(fake: FakeTwilioAPI, receiver: Receiver) -> None:
    receiver.public_base_url = "https://town.example"
    inbound = {"MessageSid": "SM" + "9" * 32, "From": CITIZEN, "To": TOWN_NUMBER, "Body": "1"}
    loopback = receiver.base_url + "/webhooks/sms"

    signed_for_public = signed_post(
        loopback, inbound, fake.auth_token, signature_url="https://town.example/webhooks/sms"
    )
    signed_for_loopback = signed_post(loopback, inbound, fake.auth_token)

    assert signed_for_public[0] == 204
    assert signed_for_loopback[0] == 403
    assert receiver.calls[0]["form"] == inbound


# --- recording --------------------------------------------------------------------------


def test_wait_for_sends_from_another_thread(fake: FakeTwilioAPI, client: Client) -> None:
    def send_later() -> None:
        time.sleep(0.1)
        for body in ("un", "deux"):
            client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body=body)

    threading.Thread(target=send_later).start()

    arrived = fake.wait_for(1, predicate=lambda m: m["Body"] == "deux")
    assert [m["Body"] for m in arrived] == ["deux"]
    with pytest.raises(TimeoutError):
        fake.wait_for(3, timeout=0.2)

    fake.reset()
    assert (fake.messages, fake.accepted) == ([], 0)


def test_keep_alive_calls_are_fast(client: Client) -> None:
    # Guards disable_nagle_algorithm and the single write: without them each
    # call waits out a delayed ACK (~40 ms).
    client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="warm-up")
    started = time.perf_counter()
    for _ in range(20):
        client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")
    assert (time.perf_counter() - started) / 20 < 0.02


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


def test_runs_standalone_from_the_command_line() -> None:
    probe = FakeTwilioAPI().start()  # borrow a free port
    port = probe.port
    probe.stop()
    sid, token = "AC" + "e" * 32, "cli-token"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.twilio_api",
            "--port",
            str(port),
            "--sid",
            sid,
            "--token",
            token,
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        assert f"http://127.0.0.1:{port}" in process.stdout.readline()
        client = make_client(sid, token, f"http://127.0.0.1:{port}")
        message = client.messages.create(to=CITIZEN, from_=TOWN_NUMBER, body="x")
        assert message.status == "queued"
    finally:
        process.terminate()
        process.wait(timeout=5)
