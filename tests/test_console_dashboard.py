"""The team dashboard's figures, computed by each database; and the simulator's endpoints."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from console.dashboard import percentile
from models.db import utcnow
from models.report import get_report
from tests.helpers import add_reports, admin_id, csrf_token, log_in_as, make_agent


def test_percentile_interpolates():
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile(list(range(1, 11)), 0.9) == 9.1


def test_dashboard_counts_times_backlog_and_reopened(app):
    rt = app.extensions["webleads"]
    now = utcnow()
    ago = lambda hours: now - timedelta(hours=hours)  # noqa: E731
    add_reports(
        rt,
        [
            # acknowledged after 2 h, resolved after 6 h
            {
                "created_at": ago(10),
                "acknowledged_at": ago(8),
                "resolved_at": ago(4),
                "status": "resolved",
            },
            # acknowledged after 4 h, still in progress, reopened once
            {
                "created_at": ago(30),
                "acknowledged_at": ago(26),
                "status": "in_progress",
                "reopened_count": 1,
            },
            # five days old, never touched: overdue (pothole SLA 72 h)
            {"created_at": ago(120)},
            # closed without being resolved
            {
                "created_at": ago(50),
                "closed_at": ago(49),
                "status": "closed",
                "category": "graffiti",
            },
            # long ago: outside the 30 days, but still in the backlog
            {"created_at": ago(24 * 60), "category": "lampadaire"},
        ],
    )
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    html = client.get("/console/dashboard?days=30").get_data(as_text=True)
    charts = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', html, re.S).group(1))
    assert sum(charts["daily"]["in"]) == 4
    assert sum(charts["daily"]["closed"]) == 2
    assert sum(sum(s) for s in charts["weekly"]["in"]) == 4
    backlog = dict(zip(charts["backlog"]["labels"], charts["backlog"]["open"], strict=True))
    overdue = dict(zip(charts["backlog"]["labels"], charts["backlog"]["overdue"], strict=True))
    assert backlog == {"Voirie": 2, "Éclairage public": 1, "Propreté": 0}
    assert overdue == {"Voirie": 1, "Éclairage public": 1, "Propreté": 0}
    roads = re.search(r'<tr class="service-row"><th scope="row">Voirie</th>(.*?)</tr>', html, re.S)
    cells = [
        c.replace("\u00a0", " ")
        for c in re.findall(r'<td class="num[^"]*">([^<]*)</td>', roads.group(1))
    ]
    # in, dealt with, open, overdue, ack median, ack p90, resolve median, p90, reopened
    assert cells[:4] == ["3", "1", "2", "1"]
    assert cells[4] == "3 heures"  # median of 2 h and 4 h
    assert cells[6] == "6 heures"
    assert cells[8] == "33 %"


def test_dashboard_of_an_agent_covers_their_services_only(app):
    rt = app.extensions["webleads"]
    add_reports(rt, [{}, {"category": "lampadaire"}])
    client = app.test_client()
    log_in_as(client, make_agent(rt, "lea@vitre.example"))
    html = client.get("/console/dashboard").get_data(as_text=True)
    charts = json.loads(re.search(r'id="dashboard-data">(.*?)</script>', html, re.S).group(1))
    assert charts["backlog"]["labels"] == ["Voirie"]


def test_simulator_talks_to_the_bot_and_files_a_report(sqlite_app):
    rt = sqlite_app.extensions["webleads"]
    client = sqlite_app.test_client()
    agent = make_agent(rt, "lea@vitre.example", name="Léa")
    log_in_as(client, agent)
    headers = {"X-CSRFToken": csrf_token(client)}

    def say(**body):
        response = client.post("/console/simulator/say", json=body, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["replies"]

    menu = say(text="bonjour")
    assert menu[0]["text"].startswith("Bonjour Léa")
    assert {"value": "cat:graffiti", "label": "Tag ou graffiti"} in menu[-1]["choices"]
    say(choice="cat:graffiti")
    say(text="Tag sur le mur de l'école")
    say(choice="skip")
    say(location=[48.1246, -1.2082])
    done = say(choice="yes")[-1]["text"]
    number = int(re.search(r"#(\d+)", done).group(1))
    with rt.db.reading() as session:
        report = get_report(session, number)
    assert report.channel == "dev" and report.description == "Tag sur le mur de l'école"
    assert client.post("/console/simulator/poll", headers=headers).get_json() == {"replies": []}
    assert client.post("/console/simulator/say", json={}, headers=headers).status_code == 400
