"""The demo a newcomer tries first: `seed-demo`, then the README's first try, literally."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from sqlmodel import select

from app.cli import cli
from models.console import ResponseTemplate
from models.report import Report, media_of_report
from services import simulated
from services.media import media_path
from tests.conftest import _make_app

README = Path(__file__).resolve().parent.parent / "README.md"


def invoke(app, *args, input=None):
    result = app.test_cli_runner().invoke(cli, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def demo(database_url, tmp_path):
    """A town as `make run` leaves it: seed-demo run, GEOCODER left unset (development)."""
    app = _make_app(database_url, tmp_path, GEOCODER="")
    invoke(app, "seed-demo")
    yield app
    app.extensions["webleads"].db.dispose()


def first_try() -> tuple[str, list[str], str]:
    """The README's first try: its chat command, the agent's command, the number it names."""
    section = README.read_text(encoding="utf-8").split("### Try the bot in a terminal")[1]
    section = section.split("\n## ")[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    commands = [shlex.split(line, comments=True) for b in blocks for line in b.splitlines()]
    chat = next(c for c in commands if c[1:2] == ["chat"])
    agent = next(c for c in commands if c[1:3] == ["report", "set-status"])
    number = re.search(r"you get\s+`#(\d+)`", section, re.I).group(1)
    return chat, agent, number


def test_the_readme_first_try_reaches_the_citizen(demo) -> None:
    """Run as written on a fresh demo, the README's commands tell the citizen it named."""
    chat, agent, number = first_try()
    assert chat[0] == agent[0] == ".venv/bin/webleads"
    marie = chat[chat.index("--as") + 1]
    # the category, the words, the hole's depth, no photo, the place, yes, send
    said = "Bonjour\n1\nUn gros trou dans la chaussée\nnon\npasser\n12 rue de la Poterie\n"
    said += "oui\noui\n"

    filed = invoke(demo, *chat[1:], input=said)
    assert f"Votre signalement #{number} est enregistré" in filed
    done = invoke(demo, *agent[1:])
    assert "1 message(s) queued" in done
    assert f"#{number}: new -> in_progress" in done  # not a demo report reopened
    told = "\n".join(simulated.drain(demo.extensions["webleads"], marie))
    assert f"votre signalement #{number}" in told and "Une équipe passe demain." in told


def test_seed_demo_says_the_next_number(demo) -> None:
    again = invoke(demo, "seed-demo")
    _, _, number = first_try()
    assert f"The next report filed will be #{number}." in again
    assert "demo reports filed" not in again  # idempotent: nothing filed twice


def test_the_demo_has_photos_templates_and_a_published_report(demo) -> None:
    rt = demo.extensions["webleads"]
    with rt.db.reading() as session:
        reports = session.exec(select(Report).order_by(Report.id)).all()
        photos = {r.id: media_of_report(session, r.id) for r in reports}
        templates = session.exec(select(ResponseTemplate)).all()
    with_photos = [number for number, media in photos.items() if media]
    assert len(reports) == 10 and len(with_photos) >= 3
    for media in photos[with_photos[0]]:  # stored like a citizen's photo: a real JPEG
        assert media_path(rt.settings.MEDIA_DIR, media.path).read_bytes()[:3] == b"\xff\xd8\xff"
    assert any("{name}" in t.body for t in templates)
    assert any(t.status == "acknowledged" for t in templates)
    # Filled in the console's picker for the citizen at hand.
    client = demo.test_client()
    page = client.get("/reports/1001")
    assert page.status_code == 200
    assert "Gros nid-de-poule devant la boulangerie" in page.get_data(as_text=True)
    again = invoke(demo, "seed-demo")
    with rt.db.reading() as session:
        assert len(session.exec(select(ResponseTemplate)).all()) == len(templates)
    assert "response templates" not in again


def test_the_demo_crew_works_from_the_terminal(demo) -> None:
    """`webleads chat --as Claire` is the crew's phone: her task, then done from the street."""
    out = invoke(demo, "chat", "--as", "Claire", input="/taches\n")
    assert "You are Claire, a field crew's phone" in out
    number = re.search(r"#(\d+) Trou profond", out).group(1)
    out = invoke(demo, "chat", "--as", "Claire", input=f"fait {number} sans photo\n")
    assert f"#{number}" in out and "résolu" in out
    rt = demo.extensions["webleads"]
    with rt.db.reading() as session:
        assert session.get(Report, int(number)).status == "resolved"


def test_the_demo_crew_closes_with_a_photo_from_the_terminal(demo, tmp_path) -> None:
    from tests.helpers import jpeg_with_gps

    picture = tmp_path / "apres.jpg"
    picture.write_bytes(jpeg_with_gps())
    out = invoke(demo, "chat", "--as", "Claire", input="/taches\n")
    number = re.search(r"#(\d+) Trou profond", out).group(1)
    said = f"fait {number}\n/photo\n"
    out = invoke(demo, "chat", "--as", "Claire", "--photo", str(picture), input=said)
    assert f"#{number} résolu\u202f; la photo est envoyée" in out
    rt = demo.extensions["webleads"]
    with rt.db.reading() as session:
        assert session.get(Report, int(number)).status == "resolved"
        # The after-photo, beside the citizen's demo picture (800 px wide).
        assert [m.width for m in media_of_report(session, int(number))] == [800, 640]
