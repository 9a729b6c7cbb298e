"""Undelivered messages and their retry; reopened reports and the thread's words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from models.citizen import Citizen, find_citizen
from models.db import utcnow
from models.messaging import Outbox, mark_dead, messages_for_report, queue_messages
from models.report import ReportEvent, get_report
from services import reports
from services.feedback import remind_silent_reports
from tests.helpers import TalkingCitizen, add_reports, admin_id, csrf_token, log_in_as, make_agent

BLOCKED = "Forbidden: bot was blocked by the user"


@dataclass
class Undelivered:
    number: int  # Marie's pothole (roads service)
    dead: int  # the status update that never reached Marie
    sms: int  # a reply to an SMS follower, failed for good


def undelivered(rt) -> Undelivered:
    """Marie's report is acknowledged; neither follower's message gets through."""
    number = TalkingCitizen(rt, "marie", name="Marie").file_report()
    with rt.db.transaction() as session:
        reports.change_status(session, number, "acknowledged", message="On s'en occupe.")
        marie = find_citizen(session, "dev", "marie")
        (update,) = [
            m
            for m in messages_for_report(session, number)
            if m.citizen_id == marie.id and m.event_id is not None
        ]
        mark_dead(session, update.id, BLOCKED)
        paul = Citizen(channel="sms", address="+33698765432", display_name="Paul")
        session.add(paul)
        session.flush()
        queue_messages(
            session,
            [
                {
                    "citizen_id": paul.id,
                    "channel": "sms",
                    "address": paul.address,
                    "payload": {"text": "Votre signalement avance."},
                    "report_id": number,
                }
            ],
        )
        sms = max(m.id for m in messages_for_report(session, number))
        mark_dead(session, sms, "21610: unsubscribed recipient", status="failed")
    return Undelivered(number, update.id, sms)


def message(rt, message_id: int) -> Outbox:
    with rt.db.reading() as session:
        return session.get(Outbox, message_id)


def logged_in(app, agent_id: int):
    client = app.test_client()
    log_in_as(client, agent_id)
    return client


def retry(client, message_id: int, **form):
    return client.post(
        f"/console/messages/{message_id}/retry", data={**form, "csrf_token": csrf_token(client)}
    )


def row_of(page: str, message_id: int) -> str:
    return page.split(f'data-message="{message_id}"')[1].split("</tr>")[0]


# --- the list and the retry button -----------------------------------------------------


def test_the_admin_sees_what_did_not_reach_the_citizens(app, rt):
    sent = undelivered(rt)
    client = logged_in(app, admin_id(rt))
    assert 'href="/console/messages"' in client.get("/console/reports").get_data(as_text=True)
    page = client.get("/console/messages").get_data(as_text=True)
    assert "Messages non remis" in page
    dead = row_of(page, sent.dead)
    assert f'href="/console/reports/{sent.number}#thread"' in dead
    assert "Marie" in dead and "Simulateur" in dead and "non remis" in dead
    assert BLOCKED in dead and "Réessayer" in dead
    failed = row_of(page, sent.sms)
    assert "+33 6 ** ** ** 32" in failed and "698765432" not in failed  # masked
    assert ">échec<" in failed and "21610: unsubscribed recipient" in failed
    assert '<td class="num">0</td>' in failed  # tries


def test_retry_puts_the_message_back_in_the_queue_and_wakes_the_worker(app, rt):
    sent = undelivered(rt)
    client = logged_in(app, admin_id(rt))
    rt.outbox_ready.clear()
    response = retry(client, sent.dead, next="/console/messages")
    assert response.status_code == 303 and response.headers["Location"] == "/console/messages"
    requeued = message(rt, sent.dead)
    assert (requeued.status, requeued.attempts, requeued.last_error) == ("queued", 0, None)
    assert rt.outbox_ready.is_set()
    page = client.get("/console/messages").get_data(as_text=True)
    assert "Le message est remis dans la file d’envoi" in page
    assert f'data-message="{sent.dead}"' not in page and f'data-message="{sent.sms}"' in page
    retry(client, sent.dead)  # twice: nothing more to do
    assert "n’est plus en échec" in client.get("/console/messages").get_data(as_text=True)
    assert retry(client, 999999).status_code == 404


def test_an_agent_sees_and_retries_only_their_services_messages(app, rt):
    sent = undelivered(rt)
    roads = logged_in(app, make_agent(rt, "voirie@vitre.example", services=("voirie",)))
    parks = logged_in(app, make_agent(rt, "parcs@vitre.example", services=("espaces-verts",)))
    assert f'data-message="{sent.dead}"' in roads.get("/console/messages").get_data(as_text=True)
    page = parks.get("/console/messages").get_data(as_text=True)
    assert f'data-message="{sent.dead}"' not in page and "Tous les messages sont arrivés" in page
    assert 'class="tabs"' not in page  # no admin tabs for an agent
    assert retry(parks, sent.dead).status_code == 404
    assert message(rt, sent.dead).status == "dead"
    assert retry(roads, sent.dead).status_code == 303
    assert message(rt, sent.dead).status == "queued"


def test_a_conversation_message_is_for_the_admins_only(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    zoe = TalkingCitizen(rt, "zoe")
    zoe.say("bonjour")
    with rt.db.transaction() as session:
        citizen = find_citizen(session, "dev", "zoe")
        welcome = session.get(Outbox, zoe_message_id(session, citizen.id))
        mark_dead(session, welcome.id, "timeout")
    roads = logged_in(sqlite_app, make_agent(rt, "voirie@vitre.example"))
    admin = logged_in(sqlite_app, admin_id(rt))
    assert "conversation" in row_of(
        admin.get("/console/messages").get_data(as_text=True), welcome.id
    )
    assert f'data-message="{welcome.id}"' not in roads.get("/console/messages").get_data(
        as_text=True
    )
    assert retry(roads, welcome.id).status_code == 404
    assert retry(admin, welcome.id).status_code == 303


def zoe_message_id(session, citizen_id: int) -> int:
    from models.messaging import messages_for_citizen

    return messages_for_citizen(session, citizen_id)[0].id


def test_retry_needs_a_login_and_its_csrf_token(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    sent = undelivered(rt)
    anonymous = sqlite_app.test_client()
    assert anonymous.get("/console/messages").status_code == 302
    assert anonymous.post(f"/console/messages/{sent.dead}/retry").status_code == 401
    admin = logged_in(sqlite_app, admin_id(rt))
    assert admin.post(f"/console/messages/{sent.dead}/retry").status_code == 400
    assert message(rt, sent.dead).status == "dead"


def test_the_report_page_has_the_retry_button_beside_the_dead_message(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    sent = undelivered(rt)
    client = logged_in(sqlite_app, admin_id(rt))
    page = client.get(f"/console/reports/{sent.number}").get_data(as_text=True)
    deliveries = re.findall(r'<li class="delivery" data-status="(\w+)">(.*?)</li>', page, re.S)
    dead = [body for status, body in deliveries if status == "dead"]
    assert len(dead) == 1 and f"/console/messages/{sent.dead}/retry" in dead[0]
    assert f'name="next" value="/console/reports/{sent.number}#thread"' in dead[0]
    assert all("retry" not in body for status, body in deliveries if status != "dead")
    response = retry(client, sent.dead, next=f"/console/reports/{sent.number}#thread")
    assert response.headers["Location"] == f"/console/reports/{sent.number}#thread"
    # A `next` off the console is ignored.
    assert retry(client, sent.sms, next="https://evil.example/").headers["Location"] == (
        "/console/messages"
    )


# --- reopened reports and the thread ---------------------------------------------------


def resolved_then_reopened(rt) -> tuple[TalkingCitizen, int]:
    marie = TalkingCitizen(rt, "marie", name="Marie")
    number = marie.file_report()
    with rt.db.transaction() as session:
        reports.change_status(session, number, "resolved", message="Rebouché.")
    marie.say("non")
    marie.say("Le trou est revenu après la pluie")
    return marie, number


def queue_row(client, number: int) -> str:
    page = client.get("/console/reports?status=all").get_data(as_text=True)
    return page.split(f'data-number="{number}"')[1].split("</tr>")[0]


def test_a_report_reopened_by_its_citizen_is_flagged_until_answered(app, rt):
    _marie, number = resolved_then_reopened(rt)
    other = add_reports(rt, [{"reopened_count": 1}])[0]  # reopened long ago, answered since
    client = logged_in(app, admin_id(rt))
    assert "Rouvert par le citoyen" in queue_row(client, number)
    assert "Rouvert par le citoyen" not in queue_row(client, other)
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    subtitle = page.split('class="subtitle"')[1].split("</p>")[0]
    assert "Rouvert par le citoyen" in subtitle
    thread = page.split('id="thread"')[1]
    reopened = thread.split('class="event event-reopened"')[1].split("</li>")[0]
    assert "Rouvert par le citoyen" in reopened and "Résolu → En cours" in reopened
    assert "L’habitant dit que ce n’est pas réparé." in reopened
    assert "Le trou est revenu après la pluie" in reopened and "fixed:" not in reopened
    client.post(
        f"/console/reports/{number}/reply",
        data={"reply-message": "Nous repassons demain.", "csrf_token": csrf_token(client)},
    )
    assert "Rouvert par le citoyen" not in queue_row(client, number)
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "rouvert une fois" in page.split('class="subtitle"')[1].split("</p>")[0]


def test_the_thread_says_every_kind_of_event_in_french(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    marie = TalkingCitizen(rt, "marie", name="Marie")
    number = marie.file_report()
    john = TalkingCitizen(rt, "john2", name="Jean")
    john.say("bonjour")
    john.say(choice="cat:nid-de-poule")
    john.say("Gros trou")
    john.say(choice="skip")
    john.say(location=(48.12461, -1.20821))
    john.say(choice=f"follow:{number}")
    with rt.db.transaction() as session:
        session.add(
            ReportEvent(
                report_id=number,
                kind="geocoded",
                detail={
                    "source": "typed",
                    "label": "12 Rue de la Poterie 35500 Vitré",
                    "score": 0.93,
                },
            )
        )
        report = get_report(session, number)
        report.created_at = report.created_at - timedelta(days=30)  # silent past its SLA
    assert remind_silent_reports(rt) >= 1
    with rt.db.transaction() as session:
        reports.change_status(session, number, "resolved")
    marie.say("oui")
    page = logged_in(sqlite_app, admin_id(rt)).get(f"/console/reports/{number}")
    thread = page.get_data(as_text=True).split('id="thread"')[1]
    heads = re.findall(r'<div class="event-head">\s*<strong>([^<]+)</strong>', thread)
    for label in [
        "Nouvel abonné",
        "Placé sur la carte",
        "Message d’attente aux abonnés",
        "Avis de l’habitant",
    ]:
        assert label in heads, heads
    assert "Placé d’après l’adresse écrite\u202f: 12 Rue de la Poterie 35500 Vitré." in thread
    assert "L’habitant confirme que c’est réparé." in thread
    assert not {"follower", "geocoded", "reminder", "feedback", "reopened"} & set(heads)


def test_open311_reports_say_their_channel(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    number = add_reports(rt, [{"channel": "open311", "created_at": utcnow()}])[0]
    client = logged_in(sqlite_app, admin_id(rt))
    assert "<td>Open311</td>" in queue_row(client, number)
    page = client.get("/console/reports?channel=open311").get_data(as_text=True)
    assert f'data-number="{number}"' in page and '<option value="open311" selected>' in page


@pytest.mark.parametrize("status", ["sent", "queued", "delivered"])
def test_only_dead_or_failed_messages_can_be_retried(sqlite_app, status):
    rt = sqlite_app.extensions["webleads"]
    sent = undelivered(rt)
    with rt.db.transaction() as session:
        session.get(Outbox, sent.dead).status = status
    client = logged_in(sqlite_app, admin_id(rt))
    retry(client, sent.dead)
    assert message(rt, sent.dead).status == status


def test_reports_reminded_by_the_watchdog_are_flagged_until_an_agent_speaks(app) -> None:
    rt = app.extensions["webleads"]
    number = TalkingCitizen(rt, "marie", name="Marie").file_report()
    with rt.db.transaction() as session:
        report = get_report(session, number)
        report.created_at = report.created_at - timedelta(days=10)  # silent past its SLA
    flag = "Sans nouvelles\u202f: relance automatique envoyée"
    client = logged_in(app, admin_id(rt))
    assert flag not in client.get("/console/reports").get_data(as_text=True)
    assert remind_silent_reports(rt) == 1
    assert flag in client.get("/console/reports").get_data(as_text=True)
    assert flag in client.get(f"/console/reports/{number}").get_data(as_text=True)
    with rt.db.transaction() as session:
        reports.reply(session, number, "L'équipe passe demain.", agent_id=admin_id(rt))
    assert flag not in client.get("/console/reports").get_data(as_text=True)
