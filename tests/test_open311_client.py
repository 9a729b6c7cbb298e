"""The Open311 client: reports pushed to a body's back-office, its answers pulled back.

The far end is a second instance of this product (tests/open311_far_end.py: its own
database, API key and agent, served by werkzeug on loopback); the failure modes (a
timeout, a 500, a token resolved later, a refusal) are played by a stand-in
(tests/fakes/open311_flaky.py). Our side runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from georeport import GeoReport
from sqlalchemy import select

from models.db import utcnow
from models.open311_forward import ForwardState, Open311Forward, claim_pushes, forwards_of_report
from models.report import ReportEvent, add_media, attach_media, get_report
from services.moderation import approve_photo
from services.open311_client import LEASE, Open311Worker
from services.open311_queue import Open311Target, enqueue_push
from tests import open311_far_end
from tests.fakes.open311_flaky import FIRST_NUMBER, FlakyOpen311
from tests.helpers import TalkingCitizen, a_photo, add_reports, admin_id, csrf_token, log_in_as
from tests.telegram_support import CHAT, LOCATION_IN_TOWN, citizen, deliver

far_end = open311_far_end.far_end  # the fixture: the back-office, served for this module
BACK_OFFICE_DESCRIPTION = "Trou profond dans la chaussée, rappelez-moi au 06 11 22 33 44"


def push(rt, number: int, target: Open311Target) -> None:
    """What a routing rule does: queue the push in its own transaction."""
    with rt.db.transaction() as session:
        enqueue_push(session, get_report(session, number), target)


def forward_of(rt, number: int) -> Open311Forward:
    with rt.db.reading() as session:
        [forward] = forwards_of_report(session, number)
        return forward


def history(rt, number: int) -> list[tuple[str, str | None, str | None, str | None]]:
    with rt.db.reading() as session:
        events = session.scalars(
            select(ReportEvent).where(ReportEvent.report_id == number).order_by(ReportEvent.id)
        )
        return [(e.kind, e.to_status, e.public_message, e.internal_note) for e in events]


# --- a second instance of the product as the back-office ------------------------------


def test_a_report_reaches_the_back_office_and_its_answers_reach_the_resident(
    tg_rt, telegram, far_end
):
    rt = tg_rt
    resident = citizen(rt, language_code="fr")
    number = resident.file_report(description=BACK_OFFICE_DESCRIPTION, location=LOCATION_IN_TOWN)
    push(rt, number, far_end.target("gmao", **{"nid-de-poule": "nid-de-poule"}))
    worker = Open311Worker(rt)
    worker.run_once()

    forward = forward_of(rt, number)
    [arrived] = far_end.arrived(forward.ref)
    assert (forward.state, forward.service_request_id) == (ForwardState.SENT, str(arrived.number))
    assert arrived.category == "nid-de-poule"
    assert (arrived.lat, arrived.lon) == pytest.approx(LOCATION_IN_TOWN)
    assert arrived.channel == "open311" and arrived.status == "new"
    assert "Trou profond dans la chaussée" in arrived.description
    # Who reported it never leaves: not their name, not their number.
    assert "06 11 22 33 44" not in arrived.description and "Yann" not in arrived.description
    assert "webleads de la ville" in arrived.note
    assert ("note", None, None, f"Sent to gmao by Open311: request {arrived.number}.") in history(
        rt, number
    )

    far_end.move(arrived.number, "in_progress", "Intervention prévue jeudi matin.")
    worker.pull()
    far_end.move(arrived.number, "resolved", "Trou rebouché ce matin.")
    worker.pull()
    worker.pull()  # nothing new: nothing sent twice
    with rt.db.reading() as session:
        assert get_report(session, number).status == "resolved"
    far_end.move(arrived.number, "in_progress", "Le trou s’est rouvert, nous revenons.")
    worker.pull()

    says = f"gmao (Open311 request {arrived.number}) says"
    statuses = [event for event in history(rt, number) if event[0] == "status"]
    assert statuses == [
        ("status", "in_progress", "Intervention prévue jeudi matin.", f"{says}: open."),
        ("status", "resolved", "Trou rebouché ce matin.", f"{says}: closed."),
        ("status", "in_progress", "Le trou s’est rouvert, nous revenons.", f"{says}: open."),
    ]
    deliver(rt)
    texts = [m["text"] for m in telegram.sent_messages(CHAT)]
    [started] = [t for t in texts if "Intervention prévue jeudi matin." in t]
    [resolved] = [t for t in texts if "Trou rebouché ce matin." in t]
    assert f"#{number}" in started and "a été résolu" in resolved

    # The georeport client library still reads this product's server, in JSON and XML.
    keyless = GeoReport(far_end.endpoint)
    assert "nid-de-poule" in [s["service_code"] for s in keyless.get_service_list()]
    assert keyless.get_service_request(str(arrived.number))["status"] == "open"  # reopened
    xml = GeoReport(far_end.endpoint, output_format="xml")
    assert "nid-de-poule" in [s["service_code"] for s in xml.get_service_list()]


def test_a_body_set_up_with_the_cli_gets_the_routed_report_through_open311(
    tg_app, telegram, far_end
):
    """`webleads body add … --open311 URL --key KEY` and `body route`: a pothole filed on
    Telegram is pushed by the worker, and the back-office's answer reaches the resident."""
    from app.cli import cli

    rt, runner = tg_app.extensions["webleads"], tg_app.test_cli_runner()
    added = runner.invoke(cli, ["body", "add", "gmao", "--name", "Centre technique", "--open311",
                                far_end.endpoint, "--key", far_end.api_key])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert runner.invoke(cli, ["body", "route", "nid-de-poule", "gmao"]).exit_code == 0
    resident = citizen(rt, language_code="fr")
    number = resident.file_report(description="Nid-de-poule profond", location=LOCATION_IN_TOWN)

    worker = Open311Worker(rt)
    worker.run_once()
    [arrived] = far_end.arrived(forward_of(rt, number).ref)
    assert arrived.category == "nid-de-poule" and "Nid-de-poule profond" in arrived.description
    far_end.move(arrived.number, "resolved", "Rebouché par le centre technique.")
    worker.pull()
    deliver(rt)
    [told] = [m["text"] for m in telegram.sent_messages(CHAT) if "Rebouché par" in m["text"]]
    assert f"#{number}" in told


def test_a_worker_dying_between_the_send_and_the_commit_sends_the_report_once(rt, far_end):
    [number] = add_reports(rt, [{"description": "Lampadaire éteint rue de la Poterie"}])
    push(rt, number, far_end.target("gmao"))
    worker, now = Open311Worker(rt), utcnow()
    with rt.db.transaction() as session:
        [forward_id] = claim_pushes(session, limit=1, lease=LEASE, now=now)
    worker.post(worker.prepare(forward_id))  # the far end stores it; the worker dies here

    worker.push_due(now + LEASE + timedelta(seconds=1))  # another worker takes over

    forward = forward_of(rt, number)
    assert forward.state == ForwardState.SENT
    assert [a.number for a in far_end.arrived(forward.ref)] == [int(forward.service_request_id)]


# --- the failure modes, on a stand-in --------------------------------------------------


@pytest.fixture(scope="module")
def flaky_server():
    with FlakyOpen311(delay=1.0) as server:
        yield server


@pytest.fixture
def flaky(flaky_server):
    flaky_server.reset()
    return flaky_server


def flaky_target(flaky, code: str = "gmao") -> Open311Target:
    return Open311Target(code, flaky.endpoint, "key-123", {"nid-de-poule": "ROAD-HOLE"})


def test_a_timeout_after_the_far_end_stored_it_is_not_sent_again(rt, flaky):
    [number] = add_reports(rt, [{}])
    push(rt, number, flaky_target(flaky))
    flaky.plan = ["slow"]  # stored, answered after the client gave up
    worker, now = Open311Worker(rt, timeout=0.3), utcnow()
    worker.push_due(now)
    forward = forward_of(rt, number)
    assert (forward.state, forward.last_error) == ("queued", "No answer in time (timeout).")

    worker.push_due(now + timedelta(seconds=61))

    forward = forward_of(rt, number)
    assert (forward.state, forward.service_request_id) == ("sent", str(FIRST_NUMBER))
    assert (len(flaky.posts), len(flaky.stored)) == (1, 1)


def test_a_500_is_tried_again_after_a_backoff_and_arrives_once(rt, flaky):
    [number] = add_reports(rt, [{}])
    push(rt, number, flaky_target(flaky))
    flaky.plan = ["500"]
    worker, now = Open311Worker(rt), utcnow()
    worker.push_due(now)
    assert forward_of(rt, number).last_error.startswith("HTTP 500")

    assert worker.push_due(now + timedelta(seconds=30)) == 0  # not yet: a minute first
    worker.push_due(now + timedelta(seconds=61))

    forward = forward_of(rt, number)
    assert (forward.state, forward.service_request_id, forward.last_error) == (
        "sent", str(FIRST_NUMBER), None,
    )  # fmt: skip
    assert (len(flaky.posts), len(flaky.stored)) == (2, 1)


def test_a_token_is_resolved_once_the_far_end_has_a_number(rt, flaky):
    [number] = add_reports(rt, [{}])
    push(rt, number, flaky_target(flaky))
    flaky.plan = ["token"]
    worker, now = Open311Worker(rt), utcnow()
    worker.push_due(now)
    assert forward_of(rt, number).state == ForwardState.TOKEN_PENDING

    assert worker.resolve_tokens(now + timedelta(minutes=1)) == 0
    flaky.tokens_ready = True
    assert worker.resolve_tokens(now + timedelta(minutes=2)) == 1

    forward = forward_of(rt, number)
    assert (forward.state, forward.service_request_id) == ("sent", str(FIRST_NUMBER))
    assert (forward.token, len(flaky.posts)) == (f"tok-{FIRST_NUMBER}", 1)


def test_a_refusal_fails_at_once_and_shows_in_the_console(app, rt, flaky):
    [number] = add_reports(rt, [{}])
    push(rt, number, flaky_target(flaky))
    flaky.plan = ["400"]
    Open311Worker(rt).push_due()
    client = app.test_client()
    log_in_as(client, admin_id(rt))

    page = client.get("/console/admin/open311-forwards").get_data(as_text=True)

    assert forward_of(rt, number).state == ForwardState.FAILED
    assert "Envois Open311" in page and ">échec<" in page
    assert f"#{number}" in page and "HTTP 400: service_code is not known." in page

    [forward_id] = re.findall(r'data-forward="(\d+)" data-state="failed"', page)
    retried = client.post(
        f"/console/admin/open311-forwards/{forward_id}/retry",
        data={"csrf_token": csrf_token(client)},
    )
    assert retried.status_code == 303
    Open311Worker(rt).push_due()  # the far end was fixed meanwhile
    assert forward_of(rt, number).state == ForwardState.SENT


def test_the_far_end_gets_what_the_public_may_see_and_a_photo_once_approved(rt, flaky):
    resident = TalkingCitizen(rt, "hugo", name="Hugo Lemoine")
    number = resident.file_report(
        description="Trou profond, Hugo Lemoine 06 11 22 33 44", location=LOCATION_IN_TOWN
    )
    with rt.db.transaction() as session:
        photo = add_media(session, a_photo(), resident.citizen.id)
        attach_media(session, [photo], number)
    push(rt, number, flaky_target(flaky, "before"))
    Open311Worker(rt).push_due()
    with rt.db.transaction() as session:
        approve_photo(session, number, photo, approved=True, agent_id=None)
    push(rt, number, flaky_target(flaky, "after"))
    Open311Worker(rt).push_due()

    before, after = flaky.posts
    ref = forward_of_target(rt, number, "before").ref
    assert before["service_code"] == "ROAD-HOLE" and before["api_key"] == "key-123"
    assert (before["lat"], before["long"]) == ("48.124600", "-1.208200")
    assert before["attribute[webleads_ref]"] == ref and before["description"].endswith(f"[{ref}]")
    assert "Trou profond" in before["description"]
    sent = " ".join(before.values())
    assert "Hugo" not in sent and "Lemoine" not in sent and "06 11" not in sent
    assert "media_url" not in before
    assert after["media_url"] == f"https://webleads.example.org/reports/{number}/photos/{photo}"


def forward_of_target(rt, number: int, target: str) -> Open311Forward:
    with rt.db.reading() as session:
        return next(f for f in forwards_of_report(session, number) if f.target == target)
