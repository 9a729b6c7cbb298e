"""Other bodies: a report routed to one is e-mailed to it, the body answers on its signed
page, and each answer reaches the resident on their channel (services/bodies.py)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from app.cli import cli
from services.bodies import remind_late_bodies
from tests.conftest import base_config
from tests.helpers import (
    EAST,
    WEST,
    TalkingCitizen,
    add_communes,
    admin_id,
    jpeg_with_gps,
    log_in_as,
    run_jobs,
)
from tests.sms_support import Phone, sms_settings

BODY_MAIL = "routes@cd35.example"
BODY_NAME = "Département d'Ille-et-Vilaine"
LINK_RE = re.compile(r"https://town\.example\.org(/b/\S+)")


@pytest.fixture
def body_app(database_url, tmp_path, twilio, smtp):
    """The town with SMS, its addresses searched locally, and an SMTP server."""
    from app.factory import create_app

    app = create_app(
        {
            **base_config(database_url, tmp_path),
            **sms_settings(twilio),
            "GEOCODER": "local",
            "SMTP_URL": smtp.url,
            "MAIL_FROM": "Mairie de Vitré <signalements@vitre.example>",
        }
    )
    yield app
    app.extensions["webleads"].db.dispose()


def webleads(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def add_department(app, *route: str) -> None:
    webleads(app, "body", "add", "CD35", "--name", BODY_NAME, "--email", BODY_MAIL,
             "--hours", "48")  # fmt: skip
    webleads(app, "body", "route", "nid-de-poule", "CD35", *route)


def file_by_sms(phone: Phone) -> int:
    """A pothole at 12 rue de la Poterie, by SMS (the address found by the local search)."""
    for body in ("Hello", "1", "Deep hole in front of number 12", "skip",
                 "12 rue de la Poterie", "1", "1"):  # fmt: skip
        phone.text(body)
    done = "\n".join(phone.inbox())
    match = re.search(r"#(\d+) is registered", done)
    assert match, done
    return int(match.group(1))


def forwarded_mail(smtp, count: int = 1):
    return smtp.wait_for(count, to=BODY_MAIL)[count - 1]


def body_path(mail) -> str:
    match = LINK_RE.search(mail.get_body(("plain",)).get_content())
    assert match, mail.get_body(("plain",)).get_content()
    return match.group(1)


def status_of(rt, number: int) -> str:
    from models.report import get_report

    with rt.db.reading() as session:
        return get_report(session, number).status


def queue_numbers(app, search: str = "") -> set[int]:
    client = app.test_client()
    log_in_as(client, admin_id(app.extensions["webleads"]))
    page = client.get("/console/reports", query_string={"q": search}).get_data(as_text=True)
    return {int(n) for n in re.findall(r'href="/console/reports/(\d+)"', page)}


def test_the_body_gets_the_report_and_each_answer_reaches_the_resident(body_app, twilio, smtp):
    rt = body_app.extensions["webleads"]
    add_department(body_app)
    phone = Phone(body_app, twilio)
    number = file_by_sms(phone)
    run_jobs(rt)

    mail = forwarded_mail(smtp)
    text = mail.get_body(("plain",)).get_content()
    assert f"#{number}" in mail["Subject"] and "Pothole" in mail["Subject"]
    assert "openstreetmap.org/?mlat=48.12" in text
    assert "Deep hole in front of number 12" in text
    assert "+336" not in text and "33612345678" not in text  # no identity by default
    assert number not in queue_numbers(body_app)  # handed over: out of the town's queue
    assert number in queue_numbers(body_app, search=str(number))  # still found by number
    client = body_app.test_client()
    path = body_path(mail)
    page = client.get(path)
    assert page.status_code == 200 and f"#{number}" in page.get_data(as_text=True)

    client.post(path, data={"answer": "taken"})
    assert phone.inbox() == [
        f"Hello, {BODY_NAME} has taken charge of your report #{number} "
        "(Pothole, 12 Rue de la Poterie 35500 Vitré)."
    ]
    assert status_of(rt, number) == "in_progress"

    photo = (io.BytesIO(jpeg_with_gps()), "after.jpg")
    done = client.post(path, data={"answer": "done", "photo": photo},
                       content_type="multipart/form-data")  # fmt: skip
    assert done.status_code == 200, done.get_data(as_text=True)
    run_jobs(rt)
    (said,) = phone.inbox()
    assert said.startswith(f"Hello, {BODY_NAME} says it has dealt with your report #{number}")
    assert status_of(rt, number) == "resolved"
    with rt.db.reading() as session:
        from models.report import media_of_report

        assert len(media_of_report(session, number)) == 1  # the body's photo, decoded

    agent = body_app.test_client()
    log_in_as(agent, admin_id(rt))
    history = agent.get(f"/console/reports/{number}").get_data(as_text=True)
    assert f"{BODY_NAME} has taken it in hand.".replace("'", "&#39;") in history
    assert f"{BODY_NAME} says it is done.".replace("'", "&#39;") in history

    closed = client.get(path)  # the report is dealt with: the link no longer acts
    assert closed.status_code == 410 and "no longer acts" in closed.get_data(as_text=True)
    assert client.post(path, data={"answer": "taken"}).status_code == 410
    assert phone.inbox() == []


def test_not_ours_sends_it_back_to_the_queue_flagged_and_the_resident_is_told(
    body_app, twilio, smtp
):
    rt = body_app.extensions["webleads"]
    add_department(body_app)
    phone = Phone(body_app, twilio)
    number = file_by_sms(phone)
    run_jobs(rt)
    path, client = body_path(forwarded_mail(smtp)), body_app.test_client()

    no_reason = client.post(path, data={"answer": "not_ours"})
    assert no_reason.status_code == 400 and "Say why" in no_reason.get_data(as_text=True)
    client.post(path, data={"answer": "not_ours", "reason": "A communal road, not ours."})

    assert phone.inbox() == [
        f"Hello, {BODY_NAME} says it is not responsible for your report #{number} "
        "(Pothole, 12 Rue de la Poterie 35500 Vitré): A communal road, not ours.\n"
        "The Roads service takes it back."
    ]
    assert number in queue_numbers(body_app)
    with rt.db.reading() as session:
        from models.report import get_report

        report = get_report(session, number)
        assert (report.status, report.priority) == ("new", "high")  # flagged in the queue
    assert client.get(path).status_code == 410  # back with the town: the link is done


def test_a_forged_or_expired_link_is_refused_politely(body_app):
    from services.bodies import mint_token

    client = body_app.test_client()
    forged = client.get("/b/1-abcdefgh.bogus-signature")
    assert forged.status_code == 404
    assert "This link is not valid" in forged.get_data(as_text=True)
    token = mint_token(body_app.config["SECRET_KEY"], 1)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=401)):
        expired = client.post(f"/b/{token}", data={"answer": "done"})
    assert expired.status_code == 410 and "too old" in expired.get_data(as_text=True)


def test_a_late_body_is_reminded_once_and_shows_late_on_the_dashboard(body_app, smtp):
    rt = body_app.extensions["webleads"]
    add_department(body_app)
    start = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        TalkingCitizen(rt, "yann", name="Yann").file_report(location=WEST)
        run_jobs(rt)
        forwarded_mail(smtp)
        clock.shift(timedelta(hours=47))
        assert remind_late_bodies(rt) == 0  # within its 48 hours
        clock.shift(timedelta(hours=2))
        assert remind_late_bodies(rt) == 1
        run_jobs(rt)
        assert remind_late_bodies(rt) == 0  # once
        run_jobs(rt)
        reminder = forwarded_mail(smtp, 2)
        assert reminder["Subject"].startswith("Reminder: [#")
        assert len(smtp.messages(to=BODY_MAIL)) == 2

        client = body_app.test_client()
        log_in_as(client, admin_id(rt))
        page = client.get("/console/dashboard").get_data(as_text=True)
    row = re.search(r'<tr data-body="CD35">(.*?)</tr>', page, re.S).group(1)
    assert BODY_NAME.replace("'", "&#39;") in row
    assert 'data-late="1"' in row


def test_a_zone_rule_routes_only_inside_its_polygon_and_also_keeps_the_service(
    body_app, smtp, tmp_path
):
    rt = body_app.extensions["webleads"]
    add_communes(body_app, tmp_path)
    add_department(body_app, "--zone", "Étrelles", "--also")
    inside = TalkingCitizen(rt, "yann", name="Yann").file_report(location=EAST)
    outside = TalkingCitizen(rt, "anne", name="Anne").file_report(location=WEST)
    run_jobs(rt)

    (mail,) = smtp.wait_for(1, to=BODY_MAIL)
    assert f"[#{inside}]" in mail["Subject"]
    assert {inside, outside} <= queue_numbers(body_app)  # "also": the service keeps it
    listing = webleads(body_app, "body", "list")
    assert "CD35" in listing and "nid-de-poule in Étrelles (also the service)" in listing


def test_an_admin_adds_a_body_and_a_rule_in_the_console_audited(body_app, smtp):
    from tests.helpers import csrf_token

    rt = body_app.extensions["webleads"]
    client = body_app.test_client()
    log_in_as(client, admin_id(rt))
    with client.session_transaction() as session:
        session["console_lang"] = "fr"  # the town's agents read French
    token = csrf_token(client)
    form = {"csrf_token": token, "code": "ENEDIS", "name": "Enedis", "reach": "email",
            "email": "signalements@enedis.example", "hours": "24",
            "share_identity": "on"}  # fmt: skip
    assert client.post("/console/admin/bodies", data=form).status_code == 303
    rule = {"csrf_token": token, "category": "lampadaire", "body": "ENEDIS", "zone": ""}
    assert client.post("/console/admin/bodies/routes", data=rule).status_code == 303
    page = client.get("/console/admin/bodies").get_data(as_text=True)
    assert "signalements@enedis.example" in page and "Partout" in page
    audit = client.get("/console/admin/audit").get_data(as_text=True)
    assert "Autre organisme" in audit and "ENEDIS" in audit

    # This body may know who reported it: the e-mail names the resident.
    TalkingCitizen(rt, "marie", name="Marie").file_report("cat:lampadaire", location=WEST)
    run_jobs(rt)
    (mail,) = smtp.wait_for(1, to="signalements@enedis.example")
    assert "Reported by: Marie, marie" in mail.get_body(("plain",)).get_content()
