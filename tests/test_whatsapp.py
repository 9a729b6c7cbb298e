"""The WhatsApp channel end to end: signed Twilio WhatsApp forms in, the real
WhatsAppSender out to a local Twilio (tests/fakes/twilio_api.py: the Content API, the
24-hour window, WhatsApp's refusals after the 201), signed status callbacks back.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import update

from models.db import utcnow
from models.messaging import Outbox, messages_for_report
from models.report import get_report, media_of_report, report_events
from services import pilot, reports
from services.audit import Actor
from services.launchkit import kit_for, poster_pdf
from tests.helpers import admin_id, csrf_token, jpeg_with_gps, log_in_as, make_agent
from tests.sms_support import CITIZEN, PUBLIC, Phone, make_sms_app, post_signed
from tests.test_launchkit import read_pdf
from tests.whatsapp_support import (
    INBOUND,
    STATUS,
    STATUS_CALLBACK,
    WA_TOWN,
    WhatsApp,
    make_wa_app,
    replay,
    status,
    wa_form,
    worker,
)

HOTEL_DE_VILLE = (48.1246, -1.2082)


def file_report(wa: WhatsApp) -> int:
    """A whole report by buttons and lists (the worker runs between messages)."""
    wa.text("Bonjour")
    wa.inbox()
    wa.pick("cat:nid-de-poule", "Pothole")
    wa.text("Deep hole in front of number 12")
    wa.press("skip", "Skip")
    wa.share_location(*HOTEL_DE_VILLE)
    wa.inbox()
    wa.press("yes", "Send")
    done = next(m["body"] for m in wa.inbox() if "is registered" in m["body"])
    return int(done.split("#", 1)[1].split(" ", 1)[0])


# --- a whole report ------------------------------------------------------------------------


def test_a_whole_report_with_a_list_buttons_a_photo_and_a_location(wa_app, twilio) -> None:
    wa = WhatsApp(wa_app, twilio)
    response = wa.text("Bonjour")  # a greeting: the menu (a sentence: tests/test_nlu.py)
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True).endswith("<Response />")  # replies: the outbox
    welcome, menu = wa.inbox()
    assert welcome["body"].startswith("Hello Camille Martin! I am the reporting assistant of Vitré")
    assert welcome["kind"] == "twilio/text"
    assert menu["kind"] == "twilio/list-picker" and menu["body"] == "What would you like to report?"
    assert menu["rows"][0] == ("cat:nid-de-poule", "Pothole")
    assert menu["rows"][-1] == ("mine", "My reports")
    assert all(len(title) <= 24 for _, title in menu["rows"]) and len(menu["rows"]) <= 10
    sent = twilio.messages[0]
    assert (sent["To"], sent["From"], sent["StatusCallback"]) == (
        "whatsapp:" + CITIZEN, WA_TOWN, STATUS_CALLBACK,
    )  # fmt: skip

    wa.pick("cat:nid-de-poule", "Pothole")
    assert wa.texts() == ["Describe the problem in a few words (what, and since when)."]
    wa.text("Deep hole in front of number 12, since Monday")
    (photo_question,) = wa.inbox()
    assert photo_question["kind"] == "twilio/quick-reply"
    assert photo_question["buttons"] == [("skip", "Skip")]

    wa.photo(jpeg_with_gps())
    (where,) = wa.inbox()
    assert where["body"].startswith("Where is it?")
    assert "Location" in where["body"]  # how to share a place on WhatsApp
    wa.share_location(*HOTEL_DE_VILLE)
    summary = wa.inbox()[-1]
    assert summary["body"].startswith("Your report:\nCategory: Pothole")
    assert summary["kind"] == "twilio/quick-reply"
    assert [title for _, title in summary["buttons"]] == ["Send", "Cancel"]
    wa.press(summary["buttons"][0][0], "Send")
    done = next(m["body"] for m in wa.inbox() if "is registered" in m["body"])
    number = int(done.split("#", 1)[1].split(" ", 1)[0])

    rt = wa.rt
    with rt.db.reading() as session:
        report = get_report(session, number)
        assert report.channel == "whatsapp" and report.geolocated
        assert (round(report.lat, 4), round(report.lon, 4)) == HOTEL_DE_VILLE
        (media,) = media_of_report(session, number)
    stored = Image.open(Path(rt.settings.MEDIA_DIR) / media.path)
    assert stored.format == "JPEG" and len(stored.getexif()) == 0  # EXIF (GPS) stripped
    citizen = wa.citizen
    assert (citizen.address, citizen.display_name) == (CITIZEN, "Camille Martin")


def test_typed_numbers_and_words_work_as_well_as_buttons(wa_sqlite_app, twilio) -> None:
    wa = WhatsApp(wa_sqlite_app, twilio)
    wa.text("Bonjour")
    wa.inbox()
    wa.text("1")  # the first row of the list
    assert wa.texts() == ["Describe the problem in a few words (what, and since when)."]
    wa.text("A hole")
    wa.inbox()
    wa.text("skip")  # the button's word, typed
    assert wa.inbox()[0]["body"].startswith("Where is it?")
    assert wa.state == "location"


def test_french_citizens_get_french_buttons(sqlite_url, tmp_path, twilio) -> None:
    app = make_wa_app(sqlite_url, tmp_path, twilio, DEFAULT_LANGUAGE="fr")
    try:
        wa = WhatsApp(app, twilio)
        wa.text("Bonjour")
        _, menu = wa.inbox()
        assert menu["body"] == "Que souhaitez-vous signaler\u202f?"
        assert ("cat:nid-de-poule", "Nid-de-poule") in menu["rows"]
        wa.text("1")
        wa.text("Un trou")
        (photo,) = wa.inbox()[-1:]
        assert photo["buttons"] == [("skip", "Passer")]
    finally:
        app.extensions["webleads"].db.dispose()


@pytest.mark.parametrize("fixture", ["inbound_voice", "inbound_sticker", "inbound_document",
                                     "inbound_contact"])  # fmt: skip
def test_voice_stickers_documents_and_contacts_get_a_polite_answer(wa_sqlite_app, twilio,
                                                                   fixture) -> None:  # fmt: skip
    wa = WhatsApp(wa_sqlite_app, twilio)
    wa.text("Bonjour")
    wa.pick("cat:nid-de-poule", "Pothole")
    wa.inbox()
    wa.post(fixture)
    answer = wa.texts()
    assert answer[0] == "Sorry, I can only read text, photos and locations."
    assert answer[1] == "Describe the problem in a few words (what, and since when)."
    assert wa.state == "description"
    with wa.rt.db.reading() as session:  # nothing was downloaded or kept
        assert media_of_report(session, 1) == []


def test_a_reply_to_our_message_goes_to_that_report(wa_sqlite_app, twilio) -> None:
    wa = WhatsApp(wa_sqlite_app, twilio)
    number = file_report(wa)
    with wa.rt.db.transaction() as session:
        reports.change_status(session, number, "in_progress", message="On Monday.")
    (news,) = wa.inbox()
    wa.post("inbound_reply", Body="Still not repaired", OriginalRepliedMessageSid=news["sid"])
    (answer,) = wa.texts()
    assert answer == f"Added to #{number}. The service will see it."
    with wa.rt.db.reading() as session:
        words = [e.public_message for e in report_events(session, number)
                 if e.kind == "citizen_message"]  # fmt: skip
    assert words == ["Still not repaired"]


# --- the webhook's contract -----------------------------------------------------------------


def test_only_twilio_signed_requests_are_taken(wa_sqlite_app, twilio) -> None:
    client = wa_sqlite_app.test_client()
    form = wa_form("inbound_text")
    assert client.post(INBOUND, data=form).status_code == 403
    forged = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    assert client.post(INBOUND, data=form, headers=forged).status_code == 403
    other_token = post_signed(client, INBOUND, form, "not-the-auth-token")
    assert other_token.status_code == 403
    sms_url = post_signed(client, INBOUND, form, twilio.auth_token, url=PUBLIC + "/webhooks/sms")
    assert sms_url.status_code == 403  # signed for another URL
    assert post_signed(client, STATUS, wa_form("status_read"), "nope").status_code == 403
    assert twilio.messages == []
    assert post_signed(client, INBOUND, form, twilio.auth_token).status_code == 200


def test_without_a_whatsapp_sender_the_webhooks_do_not_exist(sqlite_url, tmp_path, twilio):
    app = make_sms_app(sqlite_url, tmp_path, twilio)  # SMS only
    try:
        client = app.test_client()
        form = wa_form("inbound_text")
        assert post_signed(client, INBOUND, form, twilio.auth_token).status_code == 404
    finally:
        app.extensions["webleads"].db.dispose()


def test_a_redelivered_message_has_one_effect(wa_app, twilio) -> None:
    wa = WhatsApp(wa_app, twilio)
    wa.text("Bonjour", sid="SM" + "1" * 32)
    wa.text("Bonjour", sid="SM" + "1" * 32)
    assert len(wa.inbox()) == 2  # one welcome, one menu
    assert len(wa.outbox()) == 2


# --- news of a report: the 24-hour window ----------------------------------------------------


def test_inside_the_window_the_news_is_personalised_with_buttons_and_read_is_shown(
    wa_app, twilio
) -> None:
    wa = WhatsApp(wa_app, twilio)
    number = file_report(wa)
    with wa.rt.db.transaction() as session:
        reports.change_status(session, number, "resolved", message="Filled this morning.")
    (news,) = wa.inbox()
    assert news["body"].startswith(f"Hello Camille Martin, your report #{number} (Pothole")
    assert "Filled this morning." in news["body"] and "Is it really fixed?" in news["body"]
    assert news["kind"] == "twilio/quick-reply"
    assert [t for _, t in news["buttons"]] == ["Yes, fixed", "No", "Partly"]
    assert news["content_variables"] == {} and news["error_code"] is None

    replay(wa.client, twilio.deliver(news["sid"], "sent", "delivered", "read"))
    with wa.rt.db.reading() as session:
        (row,) = [m for m in messages_for_report(session, number) if m.provider_message_id
                  == news["sid"]]  # fmt: skip
    assert row.status == "read" and row.delivered_at is not None

    log_in_as(wa.client, admin_id(wa.rt))
    page = wa.client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert 'data-status="read"' in page

    wa.press(news["buttons"][0][0], "Yes, fixed")
    assert wa.texts()[0]  # the thanks
    assert wa.state == "idle"


def test_outside_the_window_the_template_goes_then_the_full_message(
    database_url, tmp_path, twilio
) -> None:
    template_fr = twilio.approved_template("fr", "Votre signalement {{1}} : {{2}}. Répondez ici.")
    template_en = twilio.approved_template("en", "Your report {{1}}: {{2}}. Reply here.")
    templates = {"WHATSAPP_TEMPLATE_FR": template_fr, "WHATSAPP_TEMPLATE_EN": template_en}
    app = make_wa_app(database_url, tmp_path, twilio, DEFAULT_LANGUAGE="fr", **templates)
    try:
        wa = WhatsApp(app, twilio)
        wa.text("Bonjour")
        wa.text("1")
        wa.text("Un trou profond")
        wa.text("passer")
        wa.share_location(*HOTEL_DE_VILLE)
        wa.text("1")
        done = next(m["body"] for m in wa.inbox() if "est enregistré" in m["body"])
        number = int(done.split("#", 1)[1].split(" ", 1)[0])
        wa.window_closed(hours=30)
        with wa.rt.db.transaction() as session:
            reports.change_status(session, number, "in_progress", message="Lundi.")
        (template,) = wa.inbox()
        assert template["content_sid"] == template_fr
        assert template["content_variables"] == {"1": f"#{number}", "2": "en cours de traitement"}
        assert (
            template["body"]
            == f"Votre signalement #{number} : en cours de traitement. Répondez ici."
        )
        assert twilio.messages[-1].get("Body") is None  # a template carries no body
        assert template["error_code"] is None  # approved: WhatsApp takes it outside the window
        held = [m for m in wa.outbox() if m.status == "held"]
        assert len(held) == 1 and "Lundi." in held[0].payload["text"]

        wa.text("Merci, quoi de neuf ?")  # the citizen answers: the window opens
        full, *answers = wa.inbox()
        assert full["body"].startswith(
            f"Bonjour Camille Martin, le traitement de votre signalement #{number}"
        )
        assert "Lundi." in full["body"] and full["error_code"] is None
        assert answers  # then the answer to what they wrote
        assert [m.status for m in wa.outbox() if m.status == "held"] == []
    finally:
        app.extensions["webleads"].db.dispose()


def test_without_a_template_the_news_waits_is_flagged_and_goes_by_sms(wa_app, twilio) -> None:
    wa = WhatsApp(wa_app, twilio)
    number = file_report(wa)
    wa.window_closed()
    with wa.rt.db.transaction() as session:
        reports.change_status(session, number, "in_progress", message="On Monday.")
    assert wa.inbox() == []  # nothing free-form outside the window: WhatsApp would refuse it
    (row,) = [m for m in wa.outbox() if m.report_id == number and m.status == "held"]
    assert "24-hour window" in row.last_error and "SMS" in row.last_error
    (sms,) = twilio.sent_to(CITIZEN)  # the bare number: an SMS
    assert "work on your report" in sms["Body"] and "On Monday." in sms["Body"]

    log_in_as(wa.client, admin_id(wa.rt))
    listing = wa.client.get("/console/messages").get_data(as_text=True)
    assert f'data-message="{row.id}"' in listing and 'data-status="held"' in listing
    assert "+33 6 ** ** ** 78" in listing and "612345678" not in listing
    thread = wa.client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert 'data-status="held"' in thread

    wa.text("Hello?")  # the citizen writes on WhatsApp: the full message goes there too
    bodies = wa.texts()
    assert "On Monday." in bodies[0]


def test_with_sms_opted_out_the_news_only_waits(wa_sqlite_app, twilio) -> None:
    phone = Phone(wa_sqlite_app, twilio)
    phone.text("STOP")
    phone.inbox()
    sms_before = len(twilio.sent_to(CITIZEN))
    wa = WhatsApp(wa_sqlite_app, twilio)
    number = file_report(wa)
    wa.window_closed()
    with wa.rt.db.transaction() as session:
        reports.change_status(session, number, "in_progress")
    assert wa.inbox() == []
    assert len(twilio.sent_to(CITIZEN)) == sms_before  # STOP by SMS is kept
    (row,) = [m for m in wa.outbox() if m.status == "held"]
    assert "SMS" not in row.last_error


def test_a_free_form_message_whatsapp_refuses_with_63016_waits_and_goes_by_sms(
    wa_app, twilio
) -> None:
    wa = WhatsApp(wa_app, twilio)
    number = file_report(wa)
    # Our clock says the window is open; WhatsApp's says it closed (it is WhatsApp's call).
    twilio.whatsapp_inbound(CITIZEN, at=datetime.now(UTC) - timedelta(hours=25))
    with wa.rt.db.transaction() as session:
        reports.change_status(session, number, "in_progress")
    (refused,) = wa.inbox()  # Twilio took it (201): WhatsApp's refusal comes afterwards
    callbacks = twilio.wait_for_callbacks(1)
    assert callbacks[-1]["form"]["ErrorCode"] == "63016"
    replay(wa.client, callbacks[-1:])
    (row,) = [m for m in wa.outbox() if m.provider_message_id == refused["sid"]]
    assert row.status == "held" and "63016" in row.last_error
    worker(wa.rt).run_once()
    (sms,) = twilio.sent_to(CITIZEN)
    assert "work on your report" in sms["Body"]


def templates(twilio) -> dict[str, str]:
    return {
        "WHATSAPP_TEMPLATE_FR": twilio.approved_template("fr", "Votre signalement {{1}} : {{2}}."),
        "WHATSAPP_TEMPLATE_EN": twilio.approved_template("en", "Your report {{1}}: {{2}}."),
    }


def news_refused_with_63016(wa: WhatsApp, number: int) -> dict:
    """The news goes free-form (our clock: the window is open), WhatsApp refuses it (its
    clock: closed) in the status callback, which the app gets; returns what was refused."""
    twilio = wa.twilio
    twilio.whatsapp_inbound(CITIZEN, at=datetime.now(UTC) - timedelta(hours=25))
    with wa.rt.db.transaction() as session:
        reports.change_status(session, number, "in_progress", message="On Monday.")
    (refused,) = wa.inbox()
    callbacks = twilio.wait_for_callbacks(1)
    assert callbacks[-1]["form"]["ErrorCode"] == "63016"
    replay(wa.client, callbacks[-1:])
    return refused


def test_after_whatsapps_63016_the_template_goes_then_the_full_message(
    database_url, tmp_path, twilio
) -> None:
    settings = templates(twilio)
    app = make_wa_app(database_url, tmp_path, twilio, **settings)
    try:
        wa = WhatsApp(app, twilio)
        number = file_report(wa)
        refused = news_refused_with_63016(wa, number)
        assert "On Monday." in refused["body"]
        (template,) = wa.inbox()  # the approved template, which WhatsApp takes
        assert template["content_sid"] == settings["WHATSAPP_TEMPLATE_EN"]
        assert template["body"] == f"Your report #{number}: in progress."
        assert template["error_code"] is None
        assert twilio.sent_to(CITIZEN) == []  # no SMS: the template went
        (held,) = [m for m in wa.outbox() if m.status == "held"]
        assert "On Monday." in held.payload["text"] and "template went" in held.last_error

        wa.text("Thanks, what is new?")  # the citizen answers: the window opens
        full, *answers = wa.inbox()
        assert "work on your report" in full["body"] and "On Monday." in full["body"]
        assert full["error_code"] is None and answers
        assert [m for m in wa.outbox() if m.status == "held"] == []
        assert twilio.sent_to(CITIZEN) == []
    finally:
        app.extensions["webleads"].db.dispose()


def test_after_63016_a_refused_template_falls_back_to_sms(sqlite_url, tmp_path, twilio) -> None:
    app = make_wa_app(sqlite_url, tmp_path, twilio, **templates(twilio))
    try:
        wa = WhatsApp(app, twilio)
        number = file_report(wa)
        news_refused_with_63016(wa, number)
        twilio.fail_whatsapp_next(1, code=63016)  # and the template is refused as well
        (template,) = wa.inbox()
        callbacks = twilio.wait_for_callbacks(2)
        assert callbacks[-1]["form"]["MessageSid"] == template["sid"]
        replay(wa.client, callbacks[-1:])
        worker(wa.rt).run_once()
        (sms,) = twilio.sent_to(CITIZEN)
        assert "work on your report" in sms["Body"] and "On Monday." in sms["Body"]
    finally:
        app.extensions["webleads"].db.dispose()


def test_63018_is_tried_again_and_63015_is_listed(wa_sqlite_app, twilio) -> None:
    wa = WhatsApp(wa_sqlite_app, twilio)
    wa.text("Bonjour")
    twilio.fail_whatsapp_next(1, code=63018)
    first, _ = wa.inbox()
    replay(wa.client, twilio.wait_for_callbacks(1))
    (row,) = [m for m in wa.outbox() if m.provider_message_id == first["sid"]]
    assert row.status == "queued" and "63018" in row.last_error  # tried again shortly
    assert (row.next_attempt_at - utcnow()).total_seconds() > 5
    with wa.rt.db.transaction() as session:
        session.execute(update(Outbox).values(next_attempt_at=utcnow()))
    assert wa.inbox()[0]["body"] == first["body"]  # the same message, again

    twilio.sandbox_not_joined(CITIZEN)
    wa.text("aide")
    wa.inbox()
    callbacks = twilio.wait_for_callbacks(2)
    replay(wa.client, callbacks[1:])
    failed = [m for m in wa.outbox() if m.status == "failed"]
    assert failed and "63015" in failed[0].last_error  # listed in the console
    worker(wa.rt).run_once()
    assert twilio.sent_to(CITIZEN)  # and sent by SMS meanwhile
    assert not wa.citizen.unreachable and not wa.citizen.opted_out


def test_the_daily_limit_63038_waits_and_21610_opts_out(wa_sqlite_app, twilio) -> None:
    wa = WhatsApp(wa_sqlite_app, twilio)
    twilio.whatsapp_daily_limit(0)
    wa.text("Bonjour")
    assert wa.inbox() == []
    (row, *_) = wa.outbox()
    assert row.status == "queued" and "63038" in row.last_error
    assert (row.next_attempt_at - utcnow()).total_seconds() > 1800  # in an hour, not now
    twilio.whatsapp_daily_limit(None)
    twilio.unsubscribe("whatsapp:" + CITIZEN)
    with wa.rt.db.transaction() as session:
        session.execute(update(Outbox).values(next_attempt_at=utcnow()))
    wa.inbox()
    assert wa.citizen.opted_out


@pytest.mark.parametrize("word", ["STOP", "ARRET", "stop"])
def test_stop_then_silence_and_start_again(wa_sqlite_app, twilio, word) -> None:
    wa = WhatsApp(wa_sqlite_app, twilio)
    wa.text("Bonjour")
    wa.inbox()
    wa.text(word)
    assert len(wa.inbox()) == 1  # the confirmation
    assert wa.citizen.opted_out
    wa.text("Bonjour")
    assert wa.inbox() == []
    wa.text("START")
    assert wa.inbox() and not wa.citizen.opted_out


def test_the_worker_keeps_to_whatsapp_rate_per_second(sqlite_url, tmp_path, twilio) -> None:
    app = make_wa_app(sqlite_url, tmp_path, twilio, WHATSAPP_RATE_PER_SECOND=10)
    try:
        twilio.enforce_limits(10)
        wa = WhatsApp(app, twilio)
        wa.text("Bonjour")  # welcome + menu (and its content)
        wa.text("aide")  # help + the menu again
        start = time.monotonic()
        assert len(wa.inbox()) == 4
        assert time.monotonic() - start >= 0.25 and twilio.rejected_429 == 0
    finally:
        app.extensions["webleads"].db.dispose()


def test_a_receipt_for_an_unknown_message_is_ignored(wa_sqlite_app, twilio) -> None:
    wa = WhatsApp(wa_sqlite_app, twilio)
    for name in ("status_sent", "status_delivered", "status_read", "status_failed_63016"):
        assert status(wa.client, twilio, name, "SM" + "0" * 32).status_code == 200


# --- the console, the launch kit, Open311 --------------------------------------------------------


def test_the_console_filters_and_masks_whatsapp(wa_sqlite_app, twilio) -> None:
    wa = WhatsApp(wa_sqlite_app, twilio)
    number = file_report(wa)
    log_in_as(wa.client, admin_id(wa.rt))
    queue = wa.client.get("/console/reports?channel=whatsapp").get_data(as_text=True)
    assert f"#{number}" in queue and 'value="whatsapp"' in queue and "WhatsApp" in queue
    page = wa.client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "+33 6 ** ** ** 78" in page and "612345678" not in page
    dashboard = wa.client.get("/console/dashboard").get_data(as_text=True)
    by_channel = dashboard.split('id="per-channel"')[1].split("</table>")[0]
    assert '<tr data-channel="whatsapp"><td>WhatsApp</td><td class="num">1</td></tr>' in by_channel
    api = wa.client.get("/open311/v2/requests.json").get_json()
    assert any(str(r["service_request_id"]) == str(number) for r in api)


def test_the_launch_kit_gets_a_whatsapp_qr_code(wa_sqlite_app) -> None:
    rt = wa_sqlite_app.extensions["webleads"]
    kit = kit_for(rt)
    assert kit.url_of("WhatsApp") == "https://wa.me/33939000001?text=Bonjour"
    codes, text = read_pdf(poster_pdf(kit))  # the QR code on the poster, decoded back
    assert "https://wa.me/33939000001?text=Bonjour" in codes and "WhatsApp" in text
    with rt.db.transaction() as session:
        pilot.add_code(session, Actor("admin@vitre.example"), "Centre", "Quartier du centre")
    rt.catalog.invalidate()
    assert kit_for(rt).url_of("WhatsApp") == "https://wa.me/33939000001?text=centre"


def test_the_simulator_draws_the_replies_as_whatsapp_would(sqlite_app) -> None:
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    log_in_as(client, make_agent(rt, "lea@vitre.example", name="Léa"))
    headers = {"X-CSRFToken": csrf_token(client)}

    def say(**body):
        response = client.post("/console/simulator/say", json=body, headers=headers)
        assert response.status_code == 200
        return [r["looks"]["whatsapp"] for r in response.get_json()["replies"]]

    menu = say(text="bonjour", lang="fr")[-1]
    assert menu["kind"] == "twilio/list-picker" and menu["button"] == "Choisir"
    assert {"value": "cat:graffiti", "label": "Tag ou graffiti", "description": ""} in menu["rows"]
    say(choice="cat:graffiti", lang="fr")
    (photo,) = say(text="Tag sur le mur", lang="fr")
    assert photo["kind"] == "twilio/quick-reply"
    assert photo["buttons"] == [{"value": "skip", "label": "Passer"}]
    page = client.get("/console/simulator").get_data(as_text=True)
    assert 'id="sim-look"' in page and "WhatsApp" in page


def test_63024_marks_the_citizen_unreachable(wa_sqlite_app, twilio) -> None:
    wa = WhatsApp(wa_sqlite_app, twilio)
    twilio.fail_whatsapp_next(1, code=63024)
    wa.text("Bonjour")
    wa.inbox()
    replay(wa.client, twilio.wait_for_callbacks(1))
    assert wa.citizen.unreachable
    assert "failed" in {m.status for m in wa.outbox()}
    assert not [m for m in wa.outbox() if m.status in ("queued", "held")]


def test_a_picture_over_5_mb_is_refused_politely(wa_sqlite_app, twilio) -> None:
    wa = WhatsApp(wa_sqlite_app, twilio)
    wa.text("Bonjour")
    wa.pick("cat:nid-de-poule", "Pothole")
    wa.text("A hole")
    wa.inbox()
    wa.photo(b"\xff\xd8" + b"\0" * (5 * 1024 * 1024 + 10))
    answer = wa.texts()
    assert answer[0] == "This picture is too large (the limit is 5 MB). Please send a smaller one."
    assert wa.state == "photo"
