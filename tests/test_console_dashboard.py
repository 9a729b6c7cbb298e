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


def phone_picture() -> bytes:
    """A phone's JPEG: a few MB (more than the 1 MB the app takes elsewhere), GPS in EXIF."""
    import io
    import random

    from PIL import Image

    noise = random.Random(1).randbytes(1600 * 1200 * 3)
    image = Image.frombytes("RGB", (1600, 1200), noise)
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 7.0, 28.0), 3: "W", 4: (1.0, 12.0, 30.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95, exif=exif)
    assert out.tell() > 1024 * 1024
    return out.getvalue()


def test_simulator_sends_a_photo_as_a_phone_would(app):
    """The file input: the picture goes through the channels' intake (no EXIF), at the
    photo step; something that is not a picture is refused in the bot's words."""
    import io

    from PIL import Image

    from models.report import media_of_report
    from services.media import media_path

    rt = app.extensions["webleads"]
    client = app.test_client()
    log_in_as(client, make_agent(rt, "lea@vitre.example", name="Léa"))
    headers = {"X-CSRFToken": csrf_token(client)}
    page = client.get("/console/simulator").get_data(as_text=True)
    assert 'type="file"' in page and "Envoyer une photo" in page

    def say(**body):
        return client.post("/console/simulator/say", json=body, headers=headers).get_json()

    def send(data: bytes, name: str):
        form = {"photo": (io.BytesIO(data), name), "lang": "fr"}
        response = client.post("/console/simulator/photo", data=form, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return "\n".join(r["text"] for r in response.get_json()["replies"])

    say(text="bonjour")
    say(choice="cat:nid-de-poule")
    say(text="Un trou")
    assert "Je ne peux utiliser que des images" in send(b"not a picture", "notes.txt")
    assert "Où est-ce" in send(phone_picture(), "trou.jpg")
    say(location=[48.1246, -1.2082])
    done = say(choice="yes")["replies"][-1]["text"]
    number = int(re.search(r"#(\d+)", done).group(1))
    with rt.db.reading() as session:
        (photo,) = media_of_report(session, number)
    assert not Image.open(media_path(rt.settings.MEDIA_DIR, photo.path)).getexif()
