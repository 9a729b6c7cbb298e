"""The SMS channel end to end: signed Twilio forms in, the real SmsSender out to a local
Twilio (tests/fakes/twilio_api.py), delivery receipts back.

Inbound forms are the real bodies in tests/fixtures/twilio/ (one file per case), with a
few fields changed per test. They are signed for PUBLIC_BASE_URL + path, as Twilio signs
the public URL, while they are posted to the app under test.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import update

from models.citizen import find_citizen
from models.db import utcnow
from models.messaging import Outbox, messages_for_citizen
from models.report import get_report, media_of_report
from services import reports
from services.types import Reply
from tests.fakes.twilio_api import count_segments
from tests.helpers import jpeg_with_gps
from tests.sms_support import (
    CITIZEN,
    PUBLIC,
    STATUS_CALLBACK,
    TOWN_NUMBER,
    Phone,
    file_by_sms,
    make_sms_app,
    post_signed,
    receipt,
    signature,
    twilio_form,
)
from webhooks.sms.sender import render
from webhooks.twilio.phone import normalise_phone

# --- a whole report, then its follow-up ---------------------------------------------------------


def test_a_report_by_sms_from_first_message_to_its_delivered_update(sms_app, twilio) -> None:
    phone = Phone(sms_app, twilio)
    response = phone.text("Hello")
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True).endswith("<Response />")

    welcome, menu = phone.inbox()
    assert welcome.startswith("Hello! I am the reporting assistant of Vitré.")
    assert menu == (
        "What would you like to report?\n1 Pothole\n2 Damaged pavement\n3 Road sign or marking\n"
        "4 Broken streetlight\n5 Litter or overflowing bin\n6 Graffiti\n"
        "7 Park, tree or green space\n8 Propose an idea\n9 My reports"
    )
    first = twilio.messages[0]
    assert {k: v for k, v in first.items() if k != "sid"} == {
        "To": CITIZEN,
        "From": TOWN_NUMBER,
        "Body": welcome,
        "StatusCallback": STATUS_CALLBACK,
    }

    assert phone.says("pothole") == "Describe the problem in a few words (what, and since when)."
    photo_question = phone.says("Deep hole in front of number 12, since Monday")
    assert "Send it by MMS, or reply SKIP" in photo_question
    assert "1 Skip" not in photo_question  # the text already names the word to reply
    where = phone.says("skip")
    assert where.endswith("\nReply with the address (number and street).")
    summary = phone.says("12 rue de la Poterie")
    assert summary.startswith("Your report:\nCategory: Pothole\n")
    assert summary.endswith("Shall I send it?\n1 Send\n2 Cancel")
    done, link = phone.says("1").split("\n---\n")
    number = int(done.split("#", 1)[1].split(" ", 1)[0])
    assert done == (
        f"Thank you! Your report #{number} is registered. You will get its updates here; "
        f"send #{number} at any time to see its status."
    )
    assert f"#{number}" in link and f"{PUBLIC}/r/{number}-" in link
    assert phone.says(f"#{number}").startswith(f"Report #{number} (Pothole): registered.")

    rt = phone.rt
    with rt.db.reading() as session:
        report = get_report(session, number)
        assert (report.channel, report.address, report.geolocated) == (
            "sms",
            "12 rue de la Poterie",
            False,
        )
    assert phone.citizen.address == CITIZEN

    with rt.db.transaction() as session:
        reports.change_status(session, number, "in_progress", message="A team comes on Monday.")
    (update_sms,) = phone.inbox()
    assert update_sms == (
        f"Hello, work on your report #{number} (Pothole, 12 rue de la Poterie) has started: "
        "the Roads service is on it.\nMessage from the Roads service: A team comes on Monday."
    )
    sid = twilio.sent_to(CITIZEN)[-1]["sid"]
    # Naming whose words they are takes it just past one segment; every notice stays
    # within two (tests/test_sms_length.py).
    assert twilio.message(sid)["num_segments"] == "2"
    for name in ("status_sent", "status_delivered", "status_sent"):  # the late "sent" is stale
        assert receipt(phone.client, twilio, name, sid).status_code == 200
    with rt.db.reading() as session:
        row = next(m for m in messages_for_citizen(session, phone.citizen.id)
                   if m.provider_message_id == sid)  # fmt: skip
    assert row.status == "delivered" and row.delivered_at is not None


def test_french_is_written_in_gsm7(sqlite_url, tmp_path, twilio) -> None:
    app = make_sms_app(sqlite_url, tmp_path, twilio, DEFAULT_LANGUAGE="fr")
    phone = Phone(app, twilio)
    phone.text("Bonjour")
    welcome, menu = phone.inbox()
    app.extensions["webleads"].db.dispose()
    assert welcome.startswith("Bonjour ! Je suis")
    assert "2 Trottoir abimé" in menu  # î has no GSM-7 form, é has one
    assert "5 Dépot sauvage ou poubelle pleine" in menu
    for message in twilio.sent_to(CITIZEN):
        assert twilio.message(message["sid"])["num_segments"] == str(
            count_segments(message["Body"])
        )
        assert int(twilio.message(message["sid"])["num_segments"]) <= 2


# --- signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "how", "expected"),
    [
        ("signed for the public URL", "public", 200),
        ("no signature", "none", 403),
        ("forged signature", "forged", 403),
        ("signed with another auth token", "other-token", 403),
        ("signed for another site", "other-url", 403),
        ("signed for the URL the proxy passes on (request.url)", "internal-url", 403),
        ("body changed after signing", "tampered", 403),
        ("shared-key signature the bot has no key for", "shared-key", 403),
    ],
    ids=lambda value: value if isinstance(value, str) and " " in value else None,
)
@pytest.mark.parametrize("path", ["/webhooks/sms", "/webhooks/sms/status"])
def test_only_twilio_signed_requests_are_taken(
    sms_sqlite_app, twilio, path, label, how, expected
) -> None:
    client = sms_sqlite_app.test_client()
    form = twilio_form("inbound_sms" if path == "/webhooks/sms" else "status_delivered")
    token, url, headers = twilio.auth_token, PUBLIC + path, {}
    if how == "other-token":
        token = "not-the-auth-token"
    elif how == "other-url":
        url = "https://attacker.example.net" + path
    elif how == "internal-url":
        url = "http://localhost" + path
    headers["X-Twilio-Signature"] = signature(form, url, token)
    if how == "none":
        headers = {}
    elif how == "forged":
        headers["X-Twilio-Signature"] = "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA=="
    elif how == "tampered":
        form = {**form, "Body": "Something else"}
    elif how == "shared-key":
        headers["X-Twilio-Webhooks-Signature-Settings"] = "key=KS00,algorithm=HMAC_SHA256"
    response = client.post(path, data=form, headers=headers)
    assert response.status_code == expected, label
    with sms_sqlite_app.extensions["webleads"].db.reading() as session:
        citizen = find_citizen(session, "sms", CITIZEN)
    assert (citizen is not None) is (expected == 200 and path == "/webhooks/sms")


def test_query_string_is_part_of_the_signed_url(sms_sqlite_app, twilio) -> None:
    client = sms_sqlite_app.test_client()
    form = twilio_form("inbound_sms")
    path = "/webhooks/sms?town=vitre"
    assert post_signed(client, path, form, twilio.auth_token).status_code == 200
    wrong = post_signed(client, path, form, twilio.auth_token, url=PUBLIC + "/webhooks/sms")
    assert wrong.status_code == 403


def test_without_twilio_settings_the_webhooks_do_not_exist(sqlite_app) -> None:
    form = twilio_form("inbound_sms")
    response = post_signed(sqlite_app.test_client(), "/webhooks/sms", form, "any")
    assert response.status_code == 404


# --- replays, opt-out -------------------------------------------------------------------------


def test_a_redelivered_message_has_one_effect(sms_app, twilio) -> None:
    phone = Phone(sms_app, twilio)
    phone.text("Hello", sid="SM" + "1" * 32)
    phone.text("Hello", sid="SM" + "1" * 32)
    assert len(phone.inbox()) == 2  # welcome + menu, once
    phone.text("1", sid="SM" + "2" * 32)
    phone.text("1", sid="SM" + "2" * 32)
    assert phone.inbox() == ["Describe the problem in a few words (what, and since when)."]
    assert phone.state == "description"


@pytest.mark.parametrize("word", ["STOP", "stop", "Arrêt", "ARRET", "STOPALL", "Unsubscribe",
                                  "END", "quit", "Stop."])  # fmt: skip
def test_every_opt_out_word_is_answered_once_then_silence(sms_sqlite_app, twilio, word) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    phone.text("Hello")
    phone.inbox()
    phone.text(word, fixture="inbound_stop")
    assert phone.inbox() == [
        "You will no longer receive messages from us. Send START to receive them again."
    ]
    assert phone.citizen.opted_out
    phone.text("Hello?")
    phone.text("1")
    assert phone.inbox() == []


def test_stop_then_nothing_even_a_status_change_and_start_subscribes_again(sms_app, twilio) -> None:
    phone = Phone(sms_app, twilio)
    number = file_by_sms(phone)
    phone.text("STOP", fixture="inbound_stop")
    assert len(phone.inbox()) == 1
    with phone.rt.db.transaction() as session:
        reports.change_status(session, number, "acknowledged", message="Seen.")
    assert phone.inbox() == []
    assert "Send MENU to report" in phone.says("HELP")  # HELP is still answered
    welcome = phone.says("START")
    assert "What would you like to report?" in welcome and not phone.citizen.opted_out
    with phone.rt.db.transaction() as session:
        reports.change_status(session, number, "resolved")
    assert any(f"your report #{number}" in text for text in phone.inbox())


def test_aide_and_help_list_the_commands(sms_sqlite_app, twilio) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    phone.text("Hello")
    phone.inbox()
    for word in ("AIDE", "help"):
        text = phone.says(word)
        assert "Send MENU to report, MES DEMANDES for your reports, #1042 for a status" in text
        assert text.endswith("9 My reports")  # the pending question comes back


def test_opted_out_by_twilio_21610_marks_the_citizen(sms_app, twilio) -> None:
    phone = Phone(sms_app, twilio)
    twilio.unsubscribe(CITIZEN)  # the citizen texted STOP to Twilio's own opt-out filter
    phone.text("Hello")
    assert phone.inbox() == []
    assert phone.citizen.opted_out
    rows = phone.outbox()
    assert {m.status for m in rows} <= {"failed", "cancelled"}
    assert all(m.last_error.startswith("Twilio error 21610") for m in rows)


def test_invalid_number_21211_marks_the_citizen_unreachable(sms_sqlite_app, twilio) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    twilio.invalid_number(CITIZEN)
    phone.text("Hello")
    assert phone.inbox() == []
    assert phone.citizen.unreachable and not phone.citizen.opted_out


@pytest.mark.parametrize(
    ("label", "outage"),
    [("429 too many requests", 429), ("503 from Twilio", 503), ("network down", "down")],
)
def test_temporary_failures_are_retried_later(sms_sqlite_app, twilio, label, outage) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    if outage == "down":
        twilio.set_down(True)
    else:
        twilio.fail_next(1, status=outage)
    phone.text("Hello")
    assert phone.inbox() == []
    rows = phone.outbox()
    assert {m.status for m in rows} == {"queued"}
    assert rows[0].next_attempt_at > utcnow() and "Twilio" in rows[0].last_error
    twilio.set_down(False)
    with phone.rt.db.transaction() as session:  # the backoff is over
        session.execute(update(Outbox).values(next_attempt_at=utcnow()))
    assert len(phone.inbox()) == 2, label


def test_a_messaging_service_sends_instead_of_a_number(sqlite_url, tmp_path, twilio) -> None:
    service = "MG" + "ab" * 16
    app = make_sms_app(sqlite_url, tmp_path, twilio, TWILIO_MESSAGING_SERVICE_SID=service)
    try:
        phone = Phone(app, twilio)
        phone.text("Hello")
        assert len(phone.inbox()) == 2
        sent = twilio.messages[0]
        assert sent["MessagingServiceSid"] == service and "From" not in sent
        assert twilio.message(sent["sid"])["status"] == "accepted"
    finally:
        app.extensions["webleads"].db.dispose()


# --- delivery receipts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "status", "error"),
    [
        ("status_queued", "sent", None),
        ("status_sent", "sent", None),
        ("status_delivered", "delivered", None),
        ("status_undelivered", "failed", "Twilio undelivered: error 30003"),
        ("status_failed", "failed", "Twilio failed: error 30008"),
    ],
)
def test_delivery_receipts_are_recorded(sms_sqlite_app, twilio, fixture, status, error) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    phone.text("Hello")
    phone.inbox()
    sid = twilio.messages[0]["sid"]
    assert receipt(phone.client, twilio, fixture, sid).status_code == 200
    row = next(m for m in phone.outbox() if m.provider_message_id == sid)
    assert (row.status, row.last_error) == (status, error)
    assert (row.delivered_at is not None) is (status == "delivered")


def test_a_receipt_for_an_unknown_message_is_ignored(sms_sqlite_app, twilio) -> None:
    client = sms_sqlite_app.test_client()
    response = receipt(client, twilio, "status_delivered", "SM" + "f" * 32)
    assert response.status_code == 200


# --- pictures (MMS) -------------------------------------------------------------------------------


def to_photo_step(phone: Phone) -> None:
    for body in ("Hello", "1", "Deep hole in front of number 12"):
        phone.text(body)
    phone.inbox()


def test_an_mms_picture_is_kept_without_its_exif(sms_app, twilio) -> None:
    phone = Phone(sms_app, twilio)
    to_photo_step(phone)
    where = phone.mms(jpeg_with_gps())
    assert where.status_code == 200
    assert phone.inbox()[0].startswith("Where is it?")
    phone.text("12 rue de la Poterie")
    phone.text("1")
    number = int(phone.inbox()[-2].split("#", 1)[1].split(" ", 1)[0])
    with phone.rt.db.reading() as session:
        (media,) = media_of_report(session, number)
    from PIL import Image

    stored = Image.open(Path(phone.rt.settings.MEDIA_DIR) / media.path)
    assert stored.format == "JPEG" and len(stored.getexif()) == 0


@pytest.mark.parametrize(
    ("label", "data", "content_type", "answer"),
    [
        ("over Twilio's 5 MB", b"\xff\xd8" + b"\0" * (5 * 1024 * 1024 + 10), "image/jpeg",
         "This picture is too large (the limit is 5 MB). Please send a smaller one."),
        ("a contact card", b"BEGIN:VCARD\r\nEND:VCARD\r\n", "text/vcard",
         "I can only use pictures (JPEG, PNG, WebP). Please send a photo."),
        ("said to be a picture but is not", b"%PDF-1.4 nothing", "image/jpeg",
         "I can only use pictures (JPEG, PNG, WebP). Please send a photo."),
    ],
)  # fmt: skip
def test_unusable_mms_are_refused_politely(sms_sqlite_app, twilio, label, data, content_type,
                                           answer) -> None:  # fmt: skip
    phone = Phone(sms_sqlite_app, twilio)
    to_photo_step(phone)
    phone.mms(data, content_type)
    refusal, again = phone.inbox()
    assert refusal == answer, label
    assert again.startswith("Can you add a photo?")
    assert phone.state == "photo"
    assert not list(Path(phone.rt.settings.MEDIA_DIR).rglob("*.jpg"))


def test_a_picture_twilio_cannot_give_back_is_asked_again(sms_sqlite_app, twilio) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    to_photo_step(phone)
    url = f"https://api.twilio.com/2010-04-01/Accounts/{twilio.account_sid}/Messages/MMx/Media/MEx"
    phone.text("", fixture="inbound_mms", MediaUrl0=url)
    assert phone.inbox()[0] == "I could not get your picture. Please send it again."


# --- wrong input at every step ------------------------------------------------------------------

TO_MENU = ["Hello"]
TO_DESCRIPTION = [*TO_MENU, "1"]
TO_PHOTO = [*TO_DESCRIPTION, "Deep hole in front of number 12"]
TO_LOCATION = [*TO_PHOTO, "skip"]
TO_CONFIRM = [*TO_LOCATION, "12 rue de la Poterie"]
A_JPEG = ("mms", "image/jpeg")

WRONG_INPUT = [
    ("menu: number out of range", TO_MENU, "12",
     "Sorry, I did not understand. Choose a number from the list.", "menu"),
    ("menu: a word that is no category", TO_MENU, "spaceship",
     "Sorry, I did not understand. Choose a number from the list.", "menu"),
    ("menu: empty message", TO_MENU, "",
     "Sorry, I did not understand. Choose a number from the list.", "menu"),
    ("description: two letters", TO_DESCRIPTION, "ok",
     "Please write a few words so the service understands the problem.", "description"),
    ("photo: number out of range", TO_PHOTO, "7", "Can you add a photo?", "photo"),
    ("photo: a contact card", TO_PHOTO, ("mms", "text/vcard"),
     "I can only use pictures", "photo"),
    ("location: two letters", TO_LOCATION, "ab",
     "Please type an address, or share your location.", "location"),
    ("confirm: neither yes nor no", TO_CONFIRM, "maybe",
     "Please answer with one of the choices.", "confirm"),
    ("confirm: number out of range", TO_CONFIRM, "3",
     "Please answer with one of the choices.", "confirm"),
    ("confirm: a picture", TO_CONFIRM, A_JPEG, "I cannot use a picture at this step.", "confirm"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "before", "wrong", "answer", "state"), WRONG_INPUT,
                         ids=[row[0] for row in WRONG_INPUT])  # fmt: skip
def test_wrong_input_is_answered_and_the_question_asked_again(
    sms_sqlite_app, twilio, label, before, wrong, answer, state
) -> None:
    phone = Phone(sms_sqlite_app, twilio)
    for body in before:
        phone.text(body)
    phone.inbox()
    if isinstance(wrong, tuple):
        jpeg = wrong[1] == "image/jpeg"
        data = jpeg_with_gps() if jpeg else b"BEGIN:VCARD\r\nEND:VCARD"
        phone.mms(data, wrong[1])
    else:
        phone.text(wrong)
    replies = phone.inbox()
    assert answer in replies[0], label
    assert phone.state == state
    for body in replies:
        assert count_segments(body) <= 2


# --- pieces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+33612345678", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("06 12 34 56 78", "+33612345678"),  # national form, region FR
        ("+447700900123", "+447700900123"),
        ("36105", None),  # a short code cannot be answered
        ("VITRE", None),  # an alphanumeric sender neither
        ("", None),
    ],
)
def test_phone_numbers_are_stored_in_e164(raw, expected) -> None:
    assert normalise_phone(raw, "FR") == expected


def test_choices_named_in_the_text_are_not_listed_again() -> None:
    reply = Reply("Send a photo, or reply SKIP.", choices=[("skip", "Skip")])
    assert render(reply) == "Send a photo, or reply SKIP."
    listed = Reply("Shall I send it?", choices=[("yes", "Send"), ("no", "Cancel")])
    assert render(listed) == "Shall I send it?\n1 Send\n2 Cancel"


def test_the_worker_keeps_to_sms_rate_per_second(sqlite_url, tmp_path, twilio) -> None:
    app = make_sms_app(sqlite_url, tmp_path, twilio, SMS_RATE_PER_SECOND=10)
    try:
        twilio.enforce_limits(10)  # Twilio would answer 429 beyond 10 a second
        phone = Phone(app, twilio)
        phone.text("Hello")  # welcome + menu
        phone.text("AIDE")  # help + the menu again
        start = time.monotonic()
        assert len(phone.inbox()) == 4
        assert time.monotonic() - start >= 0.25 and twilio.rejected_429 == 0
    finally:
        app.extensions["webleads"].db.dispose()
