"""Each action on a report page: its event row (with the agent), and the messages it queues
for the followers (public actions) or not (internal ones)."""

from __future__ import annotations

import json
import re

import pytest

from models.console import ResponseTemplate
from models.messaging import messages_for_report
from models.report import follower_ids, get_report, report_events
from services import simulated
from tests.helpers import TalkingCitizen, csrf_token, log_in_as, make_agent, report_by


@pytest.fixture
def desk(app):
    """A report with two followers (Marie, who filed it, and John, in English), and a
    logged-in agent of the roads service."""
    rt = app.extensions["webleads"]
    marie = TalkingCitizen(rt, "marie", name="Marie")
    number = marie.file_report()
    john = TalkingCitizen(rt, "john", name="John", language_code="en")
    john.say("hello")
    john.say(choice="cat:nid-de-poule")
    john.say("Huge hole")
    john.say(choice="skip")
    john.say(location=(48.12461, -1.20821))
    john.say(choice=f"follow:{number}")
    client = app.test_client()
    agent_id = make_agent(rt, "lea@vitre.example", name="Léa Martin")
    log_in_as(client, agent_id)
    return rt, client, number, agent_id, marie, john


def heard(citizen: TalkingCitizen) -> str:
    """What reached the citizen since the last look (without saying anything)."""
    return "\n".join(r.text for r in citizen.new_messages())


def post(client, path: str, **form):
    return client.post(path, data={**form, "csrf_token": csrf_token(client)})


def events(rt, number):
    with rt.db.reading() as session:
        return report_events(session, number)


def outbox(rt, number):
    with rt.db.reading() as session:
        return messages_for_report(session, number)


def test_status_change_tells_each_follower_and_shows_the_delivery(desk):
    rt, client, number, agent_id, marie, john = desk
    response = post(
        client,
        f"/console/reports/{number}/status",
        **{"status-status": "in_progress", "status-message": "Une équipe passe lundi."},
    )
    assert response.status_code == 303
    event = events(rt, number)[-1]
    assert (event.kind, event.agent_id, event.to_status) == ("status", agent_id, "in_progress")
    messages = outbox(rt, number)
    assert len(messages) == 2 and {m.event_id for m in messages} == {event.id}
    assert "Une équipe passe lundi." in heard(marie)
    # John follows Marie's report: he reads it as the report he follows, not his own.
    assert heard(john).startswith(f"Hello John, work on the report #{number} you follow")
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert page.count('data-status="queued"') == 2
    while simulated.drain(rt, "marie"):  # the dev channel's "provider" takes Marie's messages
        pass
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert page.count('data-status="sent"') == 1 and page.count('data-status="queued"') == 1
    assert "Une équipe passe lundi." in page and "En cours" in page


def test_closing_needs_a_reason_and_illegal_moves_are_refused(desk):
    rt, client, number, *_ = desk
    post(client, f"/console/reports/{number}/status", **{"status-status": "closed"})
    post(client, f"/console/reports/{number}/status", **{"status-status": "new"})
    assert [e.kind for e in events(rt, number)] == ["created", "follower", "citizen_message"]
    assert outbox(rt, number) == []
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "Pour clore un signalement" in page


def test_reply_reaches_the_followers_without_changing_the_status(desk):
    rt, client, number, agent_id, marie, _ = desk
    post(client, f"/console/reports/{number}/reply", **{"reply-message": "Merci, c'est noté."})
    event = events(rt, number)[-1]
    assert (event.kind, event.agent_id, event.public_message) == (
        "reply",
        agent_id,
        "Merci, c'est noté.",
    )
    assert len(outbox(rt, number)) == 2
    assert "Merci, c'est noté." in heard(marie)
    with rt.db.reading() as session:
        assert get_report(session, number).status == "new"


def test_internal_note_is_never_sent(desk):
    rt, client, number, agent_id, marie, _ = desk
    post(client, f"/console/reports/{number}/note", **{"note-note": "Voir avec l'équipe B"})
    event = events(rt, number)[-1]
    assert (event.kind, event.agent_id, event.internal_note) == (
        "note",
        agent_id,
        "Voir avec l'équipe B",
    )
    assert outbox(rt, number) == [] and heard(marie) == ""
    assert "Voir avec l&#39;équipe B" in client.get(f"/console/reports/{number}").get_data(
        as_text=True
    )


def test_assign_to_an_agent_of_the_service(desk):
    rt, client, number, agent_id, *_ = desk
    colleague = make_agent(rt, "marc@vitre.example", name="Marc")
    outsider = make_agent(rt, "parcs@vitre.example", services=("espaces-verts",))
    with rt.db.reading() as session:
        service_id = get_report(session, number).service_id
    post(
        client,
        f"/console/reports/{number}/assign",
        **{"assign-service": str(service_id), "assign-assignee": str(outsider)},
    )
    assert events(rt, number)[-1].kind != "assigned"  # not of this service: refused
    post(
        client,
        f"/console/reports/{number}/assign",
        **{"assign-service": str(service_id), "assign-assignee": str(colleague)},
    )
    event = events(rt, number)[-1]
    assert (event.kind, event.agent_id) == ("assigned", agent_id)
    assert event.detail["assignee_id"] == colleague
    with rt.db.reading() as session:
        assert get_report(session, number).assigned_agent_id == colleague
    assert outbox(rt, number) == []
    marc = client.application.test_client()
    log_in_as(marc, colleague)
    mine = marc.get("/console/reports?mine=1").get_data(as_text=True)
    assert f"#{number}" in mine


def test_recategorise_moves_the_report_to_the_new_service(desk):
    from models.catalog import category_by_code

    rt, client, number, agent_id, *_ = desk
    with rt.db.reading() as session:
        streetlight = category_by_code(session, "lampadaire")
    post(client, f"/console/reports/{number}/category", **{"recat-category": str(streetlight.id)})
    event = events(rt, number)[-1]
    assert (event.kind, event.agent_id) == ("recategorised", agent_id)
    with rt.db.reading() as session:
        report = get_report(session, number)
    assert (report.category_id, report.service_id) == (streetlight.id, streetlight.service_id)
    # The roads agent handed it over: it is the lighting service's now.
    assert client.get(f"/console/reports/{number}").status_code == 404


def test_merge_moves_the_followers_and_tells_each(desk):
    rt, client, number, agent_id, marie, john = desk
    paul = TalkingCitizen(rt, "paul", name="Paul")
    other = paul.file_report(location=(48.1300, -1.2000))
    heard(marie), heard(john), heard(paul)
    post(client, f"/console/reports/{number}/merge", **{"merge-target": f"#{other}"})
    with rt.db.reading() as session:
        merged = get_report(session, number)
        followers = set(follower_ids(session, other))
    assert (merged.status, merged.duplicate_of_id) == ("duplicate", other)
    assert {marie.citizen.id, john.citizen.id, paul.citizen.id} <= followers
    event = events(rt, number)[-1]
    assert (event.kind, event.to_status, event.agent_id) == ("status", "duplicate", agent_id)
    assert f"#{other}" in heard(marie) and f"#{other}" in heard(john)
    assert heard(paul) == ""


def test_merge_refuses_a_report_the_agent_cannot_see(desk):
    rt, client, number, *_ = desk
    hidden = report_by(rt, "paul", category="cat:lampadaire", location=(48.1300, -1.2000))
    post(client, f"/console/reports/{number}/merge", **{"merge-target": str(hidden)})
    with rt.db.reading() as session:
        assert get_report(session, number).status == "new"
    assert "Aucun signalement #" in client.get(f"/console/reports/{number}").get_data(as_text=True)


def test_templates_are_offered_filled_for_the_report(desk):
    rt, client, number, *_ = desk
    with rt.db.transaction() as session:
        session.add(
            ResponseTemplate(
                title="Intervention",
                status="in_progress",
                body="Bonjour {name}, votre signalement {ref} ({category}) est confié "
                "au service {service}.",
            )
        )
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    data = json.loads(re.search(r'id="templates-data">(.*?)</script>', page, re.S).group(1))
    assert data[0]["status"] == "in_progress"
    assert data[0]["body"] == (
        f"Bonjour Marie, votre signalement #{number} (Nid-de-poule) est confié au service Voirie."
    )


def test_report_page_shows_the_citizen_with_a_masked_phone(app):
    rt = app.extensions["webleads"]
    sms = TalkingCitizen(rt, "+33612345678", channel="sms", name=None)
    number = sms.file_report(location=None)
    client = app.test_client()
    log_in_as(client, make_agent(rt, "lea@vitre.example"))
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "+33 6 ** ** ** 78" in page and "12 34 56" not in page
    assert "lieu à préciser" in page
