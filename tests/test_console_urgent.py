"""The queue opens most urgent first: priority, then deadline (overdue first), then number.

An agent sets a report's priority from its page; the change is in the report's history.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine

from models.catalog import category_by_code
from models.db import utcnow
from models.queue_queries import QueueFilter
from models.report import Report
from models.scope import EVERYTHING, AgentScope
from tests.helpers import add_reports, admin_id, csrf_token, log_in_as, make_agent
from tests.test_console_queue import numbers_on, walk

# The demo's SLAs: pothole 72 h, pavement 120 h, streetlight 48 h.
SLA = {"nid-de-poule": 72, "trottoir": 120, "lampadaire": 48}
RANK = {"urgent": 0, "high": 1, "normal": 2}


def mixed_reports(rt, now) -> list[int]:
    """Reports of three categories and priorities: overdue, nearly due, equal deadlines."""
    specs = []
    for i in range(9):
        category = ("nid-de-poule", "trottoir", "lampadaire")[i % 3]
        # a pothole filed 24 h before a streetlight has the same deadline: ties
        created = now - timedelta(hours=10 * (i // 3) + (24 if category == "nid-de-poule" else 0))
        specs += [
            {"category": category, "created_at": created},
            {"category": category, "created_at": created, "priority": "normal"},
        ]
    specs += [
        {"category": "trottoir", "created_at": now - timedelta(hours=1), "priority": "urgent"},
        {"category": "nid-de-poule", "created_at": now - timedelta(days=20), "priority": "high"},
        {"category": "lampadaire", "created_at": now - timedelta(hours=2), "priority": "high"},
        {"category": "nid-de-poule", "created_at": now - timedelta(days=5)},  # overdue
        {"category": "lampadaire", "created_at": now - timedelta(days=3)},  # overdue, later
    ]
    return add_reports(rt, specs)


def urgent_order(rt, numbers: list[int]) -> list[int]:
    with rt.db.reading() as session:
        rows = [session.get(Report, n) for n in numbers]
    with rt.db.reading() as session:
        codes = {category_by_code(session, c).id: c for c in SLA}

    def key(r):
        deadline = r.created_at + timedelta(hours=SLA[codes[r.category_id]])
        return (RANK[r.priority], deadline, r.id)

    return [r.id for r in sorted(rows, key=key)]


@pytest.mark.parametrize("who", ["admin", "agent of every service"])
def test_urgent_pages_cover_every_report_once_both_ways(app, who):
    rt = app.extensions["webleads"]
    now = utcnow()
    numbers = mixed_reports(rt, now)
    expected = urgent_order(rt, numbers)
    with rt.db.reading() as session:
        from models.catalog import all_services

        services = tuple(s.id for s in all_services(session))
    # an agent's services split the ranges by service too: the same order must come out
    scope = EVERYTHING if who == "admin" else AgentScope(services=services)
    with rt.db.reading() as session:
        forward, backward = walk(session, QueueFilter(statuses=("new",), scope=scope), size=4)
    assert forward == expected
    assert backward == list(reversed(expected))
    # urgent, then high (the 20-day-old pothole before the streetlight), then the overdue
    assert forward[:3] == [numbers[18], numbers[19], numbers[20]]
    assert forward[3:5] == [numbers[21], numbers[22]]


@time_machine.travel("2026-12-07 09:00:00+00:00", tick=False)
def test_the_queue_opens_with_the_overdue_reports_not_the_newest(app):
    """The review's morning: four overdue reports sat under the new ones."""
    rt = app.extensions["webleads"]
    now = utcnow()
    overdue = add_reports(
        rt,
        [
            {"created_at": now - timedelta(days=4)},  # 24 h late
            {"created_at": now - timedelta(days=6)},  # 72 h late: the latest
            {"category": "lampadaire", "created_at": now - timedelta(days=3)},  # 24 h late
        ],
    )
    fresh = add_reports(rt, [{"created_at": now - timedelta(minutes=m)} for m in (30, 5, 1)])
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    html = client.get("/console/reports").get_data(as_text=True)
    shown = numbers_on(html)
    # the most late first; equal lateness: the earlier deadline, then the lower number
    assert shown[:3] == [overdue[1], overdue[0], overdue[2]]
    assert shown[3:] == fresh  # then the nearest to their deadline
    assert 'value="urgent" selected' in html
    assert "Les plus urgents d’abord" in html or "Les plus urgents d'abord" in html
    # the other orders stay a choice away
    assert numbers_on(client.get("/console/reports?sort=newest").get_data(as_text=True)) == (
        sorted(overdue + fresh, reverse=True)
    )


def test_an_agent_sees_their_services_open_reports_most_urgent_first(app):
    rt = app.extensions["webleads"]
    now = utcnow()
    lea = make_agent(rt, "lea@vitre.example")
    n = add_reports(
        rt,
        [
            {"created_at": now - timedelta(hours=1)},
            {"created_at": now - timedelta(hours=2), "priority": "high"},
            {"category": "lampadaire", "created_at": now - timedelta(days=9)},  # not hers
            {"created_at": now - timedelta(days=9), "status": "resolved"},  # done
            {"category": "trottoir", "created_at": now - timedelta(days=6)},  # 24 h late
        ],
    )
    client = app.test_client()
    log_in_as(client, lea)
    assert numbers_on(client.get("/console/reports").get_data(as_text=True)) == [n[1], n[4], n[0]]


def test_a_hand_made_or_foreign_cursor_gives_the_first_page(app):
    rt = app.extensions["webleads"]
    numbers = add_reports(rt, [{} for _ in range(3)])
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    for cursor in ("1005", "2026-12-07T09:00:00+00:00|1005", "7|x|1005", "0|2026-12-07|1"):
        html = client.get(f"/console/reports?after={cursor}").get_data(as_text=True)
        assert numbers_on(html) == numbers


def test_an_agent_sets_the_priority_and_the_history_says_so(app):
    rt = app.extensions["webleads"]
    now = utcnow()
    lea = make_agent(rt, "lea@vitre.example", name="Léa Martin")
    older, number = add_reports(
        rt, [{"created_at": now - timedelta(days=5)}, {"created_at": now - timedelta(hours=1)}]
    )
    client = app.test_client()
    log_in_as(client, lea)
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert 'id="priority-form"' in page and "Priorité" in page
    answer = client.post(
        f"/console/reports/{number}/priority",
        data={"csrf_token": csrf_token(client), "priority-priority": "urgent"},
        follow_redirects=True,
    )
    html = answer.get_data(as_text=True)
    assert "Priorité enregistrée\u202f: Urgente." in html
    thread = html[html.index('id="thread"') :]
    assert re.search(r"Priorité changée</strong>.*?Léa Martin", thread, re.S)
    assert "Normale → Urgente" in thread
    with rt.db.reading() as session:
        assert session.get(Report, number).priority == "urgent"
    queue = client.get("/console/reports").get_data(as_text=True)
    assert numbers_on(queue)[:2] == [number, older]  # before the overdue one
    assert "Urgente" in queue


@pytest.mark.parametrize("value", ["", "critical", "normal"])
def test_a_priority_outside_the_list_or_unchanged_changes_nothing(app, value):
    rt = app.extensions["webleads"]
    (number,) = add_reports(rt, [{}])
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    client.post(
        f"/console/reports/{number}/priority",
        data={"csrf_token": csrf_token(client), "priority-priority": value},
    )
    with rt.db.reading() as session:
        from models.report import report_events

        assert session.get(Report, number).priority == "normal"
        assert [e.kind for e in report_events(session, number)] == []


def test_the_export_follows_the_urgent_order_past_many_rows(app):
    """The CSV reads a thousand at a time: the ranges are read on, round by round."""
    import csv
    import io

    rt = app.extensions["webleads"]
    now = utcnow()
    categories = ("nid-de-poule", "trottoir", "lampadaire")
    specs = [
        {"category": categories[i % 3], "created_at": now - timedelta(hours=(i * 7) % 97)}
        for i in range(200)
    ]
    specs[150]["priority"] = "urgent"
    numbers = add_reports(rt, specs)
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    text = client.get("/console/reports.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))  # its header in the agent's language
    exported = [int(row[0]) for row in rows[1:]]
    assert exported == urgent_order(rt, numbers)
    assert exported[0] == numbers[150]
