"""The `webleads` command line, in-process and as a newcomer runs it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

from app.cli import COMMAND_MODULES, cli
from models import migrate
from models.agent import agent_by_email
from models.db import Database


def invoke(app, *args, input=None):
    return app.test_cli_runner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_init_db_migrates_an_empty_database(tmp_path) -> None:
    from app.factory import create_app

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "x"})
    result = invoke(app, "init-db")
    assert result.exit_code == 0 and "Database ready at revision" in result.output
    assert migrate.current_revision(Database(url).engine) is not None


def test_seed_demo_is_idempotent_and_prints_the_password_once(tmp_path) -> None:
    from app.factory import create_app

    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "SECRET_KEY": "x"}
    )
    invoke(app, "init-db")
    first = invoke(app, "seed-demo")
    second = invoke(app, "seed-demo")
    assert "password:" in first.output
    assert "password:" not in second.output and "exists" in second.output


def test_create_agent_then_update(app) -> None:
    result = invoke(
        app,
        "create-agent",
        "Lea@Vitre.example",
        "--password",
        "correct horse 1",
        "--role",
        "agent",
        "--service",
        "voirie",
    )
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    again = invoke(app, "create-agent", "lea@vitre.example", "--password", "another horse 2")
    assert "updated" in again.output
    with app.extensions["webleads"].db.reading() as session:
        assert agent_by_email(session, "lea@vitre.example").role == "agent"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["not-an-email", "--password", "long enough pw"], "not an email"),
        (["a@b.fr", "--password", "short"], "at least 10"),
        (["a@b.fr", "--password", "long enough pw", "--service", "nope"], "no service"),
    ],
)
def test_create_agent_refuses_bad_input(app, args, error) -> None:
    result = app.test_cli_runner().invoke(cli, ["create-agent", *args])
    assert result.exit_code != 0 and error in result.output


def test_create_agent_prompts_for_the_password(app) -> None:
    result = invoke(
        app, "create-agent", "x@vitre.example", input="a long password\na long password\n"
    )
    assert result.exit_code == 0 and "created" in result.output


def test_chat_and_set_status(app) -> None:
    chat = invoke(
        app,
        "chat",
        "--as",
        "Marie",
        input="bonjour\n1\nUn trou devant la poste\npasser\n3 rue de Paris\noui\n",
    )
    assert "Votre signalement #1001 est enregistré" in chat.output
    done = invoke(app, "report", "set-status", "#1001", "in_progress", "--message", "On arrive.")
    assert done.exit_code == 0 and "new -> in_progress; 1 message(s) queued" in done.output
    later = invoke(app, "chat", "--as", "Marie", input="")
    assert "Bonjour Marie, le traitement de votre signalement #1001" in later.output
    assert "Message du service Voirie\u202f: On arrive." in later.output


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["9999", "resolved"], "no report #9999"),
        (["1001", "new"], "cannot become new"),
        (["abc", "resolved"], "not a report number"),
        (["1001", "closed"], "needs a public message"),
    ],
)
def test_set_status_refusals_are_clear(app, args, error) -> None:
    invoke(app, "chat", "--as", "Marie", input="bonjour\n1\nUn trou\npasser\nrue de Paris\noui\n")
    result = app.test_cli_runner().invoke(cli, ["report", "set-status", *args])
    assert result.exit_code == 1
    assert error in result.output


def test_newcomer_path_with_the_installed_command(tmp_path) -> None:
    """init-db, seed-demo, chat, set-status, chat: the README's story, as processes."""
    webleads = Path(sys.executable).parent / "webleads"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "GEOCODER": "none"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    env.pop("TWILIO_ACCOUNT_SID", None)

    def run(*args, input=None):
        done = subprocess.run(
            [str(webleads), *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("init-db")
    assert re.search(r"password: \S+", run("seed-demo"))
    said = "salut\n4\nLampadaire éteint\npasser\npasser\n1 rue Pasteur\n1\n"  # no pole number
    out = run("chat", "--as", "Zoé", input=said)
    number = re.search(r"Votre signalement #(\d+) est enregistré", out).group(1)
    assert int(number) > 1001  # after the demo reports seed-demo files
    run("report", "set-status", number, "resolved", "--message", "Ampoule changée.")
    out = run("chat", "--as", "Zoé", input="")
    assert f"Bonjour Zoé, votre signalement #{number}" in out and "Ampoule changée." in out


def test_commands_say_nothing_of_a_geocoder_they_do_not_use(tmp_path) -> None:
    """GEOCODER unset in development: only a command that looks an address up says which
    geocoder it uses; `--help` and `set-status` print their own lines only."""
    webleads = Path(sys.executable).parent / "webleads"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"}
    for name in ("GEOCODER", "TELEGRAM_BOT_TOKEN", "TWILIO_ACCOUNT_SID"):
        env.pop(name, None)

    def run(*args):
        done = subprocess.run([str(webleads), *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    notice = "GEOCODER is not set"
    run("init-db")
    run("seed-demo")
    help_, status = run("--help"), run("report", "set-status", "1005", "in_progress")
    assert "seed-demo" in help_.stdout and "telegram" in help_.stdout
    assert status.stdout.startswith("#1005: acknowledged -> in_progress")
    assert notice not in help_.stderr + status.stderr
    # Nor does it load what it does not use (a second of CPU): the channels' client
    # libraries, the object store's, the sentence reader's, the zones'.
    heavy = ("sklearn", "scipy", "boto3", "telegram", "twilio.rest", "requests", "shapely")
    loaded = subprocess.run(
        [sys.executable, "-c", "import atexit, sys; from app.cli import main; atexit.register("
         f"lambda: print([m for m in {heavy!r} if m in sys.modules], file=sys.stderr)); main()",
         "report", "set-status", "1005", "acknowledged"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=True,
    )  # fmt: skip
    assert loaded.stderr.strip().splitlines()[-1] == "[]"
    searched = run("geo", "search", "12 rue de la Poterie")
    assert "12 Rue de la Poterie 35500 Vitré" in searched.stdout and notice in searched.stderr


def test_chat_shows_the_conversation_and_logs_go_to_the_log_file(tmp_path) -> None:
    """A geocoder that cannot be reached is logged, not printed between the replies."""
    with socket.socket() as s:  # a port nobody listens on: the geocoder is "down"
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    webleads = Path(sys.executable).parent / "webleads"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "GEOCODER": "ban",
           "GEOCODER_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
    for name in ("TELEGRAM_BOT_TOKEN", "TWILIO_ACCOUNT_SID"):
        env.pop(name, None)
    said = "salut\n1\nUn trou profond\nnon\npasser\n12 rue de la Poterie\n"

    def run(*args, input=None):
        return subprocess.run([str(webleads), *args], input=input, capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=60)  # fmt: skip

    assert run("init-db").returncode == 0 and run("seed-demo").returncode == 0
    quiet, verbose = (
        run("chat", "--as", "Léa", input=said),
        run("chat", "--verbose", "--as", "Noé", input=said),
    )

    assert "je garde la vôtre telle que vous l’avez écrite" in quiet.stdout
    assert "geocoder unavailable" not in quiet.stdout + quiet.stderr
    assert "geocoder unavailable" in (tmp_path / "instance" / "chat.log").read_text()
    assert "geocoder unavailable" in verbose.stderr


def test_run_serves_the_app(tmp_path) -> None:
    """`webleads run` really serves (Flask ignores app.run() inside its own CLI)."""
    import http.client
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    webleads = Path(sys.executable).parent / "webleads"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "GEOCODER": "none"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    subprocess.run(
        [str(webleads), "init-db"], env=env, cwd=tmp_path, check=True, capture_output=True
    )
    proc = subprocess.Popen(
        [str(webleads), "run", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                break
            except OSError:
                assert proc.poll() is None, "webleads run exited"
                assert time.monotonic() < deadline, "webleads run never answered"
                time.sleep(0.2)
        assert response.status == 200 and b'"ok"' in response.read()
    finally:
        proc.terminate()
        proc.wait(10)


def test_chat_sends_a_photo_through_the_channels_intake(app, tmp_path) -> None:
    """`--photo FILE`, then `/photo` at the photo step: stored like any channel's, no EXIF."""
    from PIL import Image

    from models.report import media_of_report
    from services.media import media_path
    from tests.helpers import jpeg_with_gps

    picture = tmp_path / "trou.jpg"
    picture.write_bytes(jpeg_with_gps())
    said = "bonjour\n1\nUn trou devant la poste\n/photo\n3 rue de Paris\noui\n"
    out = invoke(app, "chat", "--as", "Marie", "--photo", str(picture), input=said).output
    assert "Photo\u202f: oui" in out
    number = int(re.search(r"Votre signalement #(\d+) est enregistré", out).group(1))
    rt = app.extensions["webleads"]
    with rt.db.reading() as session:
        (photo,) = media_of_report(session, number)
    stored = Image.open(media_path(rt.settings.MEDIA_DIR, photo.path))
    assert stored.size == (640, 480) and not stored.getexif()  # GPS and maker gone


def test_chat_photo_is_refused_as_on_every_channel(app, tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"0" * (20 * 1024 * 1024))
    said = f"bonjour\n1\nUn trou\n/photo\n/photo {big}\n/photo {tmp_path / 'none.jpg'}\n"
    out = invoke(app, "chat", "--as", "Marie", "--photo", str(notes), input=said).output
    assert "Je ne peux utiliser que des images" in out
    assert "Cette image est trop lourde (limite\u202f: 20 Mo)" in out
    assert "(cannot read" in out
    assert "Photo\u202f: oui" not in out


def test_help_lists_every_command_of_every_module_and_each_name_runs_its_own() -> None:
    """`webleads --help` reads app/cli/'s modules instead of importing them: a module left
    out of COMMAND_MODULES, or a listed name that loads another command, would show."""
    folder = Path(__file__).resolve().parent.parent / "app" / "cli"
    modules = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("__"))
    assert sorted(COMMAND_MODULES) == modules
    listed = cli.list_commands(click.Context(cli))
    assert {"init-db", "seed-demo", "report", "pilot", "launch-kit", "nlu", "mail"} <= set(listed)
    for name in listed:
        command = cli.get_command(click.Context(cli), name)
        assert isinstance(command, click.Command) and command.name == name
