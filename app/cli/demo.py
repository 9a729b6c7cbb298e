"""`webleads seed-demo` and `webleads chat`: the demo town, and a citizen's conversation
with the bot in a terminal."""

from __future__ import annotations

import getpass
import logging
import sys

import click
from flask.cli import with_appcontext

from app.chat import TerminalChat, log_to_file
from app.seed import (
    ADMIN_EMAIL,
    CREW_CHAT,
    next_report_number,
    seed_crew,
    seed_demo,
    seed_demo_reports,
    seed_questions,
    seed_templates,
)
from services.runtime import current_runtime

# Where `webleads chat` writes its log lines, so the terminal shows the conversation only.
CHAT_LOG = "instance/chat.log"


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Sets up the demo town, Vitré (idempotent)."""
    rt = current_runtime()
    with rt.db.transaction() as session:
        password = seed_demo(session)
        seed_questions(session)
        filed = seed_demo_reports(session, rt.settings)
        templates = seed_templates(session)
        crew = seed_crew(session, rt.settings.SECRET_KEY)
        next_number = next_report_number(session)
    rt.catalog.invalidate()
    rt.wake_worker()
    click.echo("Demo town Vitré is ready (services, categories, boundary, admin agent).")
    if filed:
        click.echo(
            f"{filed} demo reports filed (#{next_number - filed} to #{next_number - 1}), in "
            "every status, some with photos, the first one published on the public site."
        )
    if templates:
        click.echo(f"{templates} response templates for the console.")
    if crew:
        click.echo(
            f"Field crew: `webleads chat --as {CREW_CHAT}` is the phone of a Voirie agent "
            "(/taches lists her assignment)."
        )
    click.echo(f"The next report filed will be #{next_number}.")
    if password:
        click.echo(f"Admin login: {ADMIN_EMAIL} / password: {password}  (shown only now)")
    else:
        click.echo(
            f"Admin {ADMIN_EMAIL} exists; reset its password with "
            f"`webleads create-agent {ADMIN_EMAIL} --role admin`."
        )


@click.command("chat")
@click.option("--as", "name", default=None, help="Your name as a citizen (default: your login).")
@click.option("--lang", type=click.Choice(["fr", "en"]), default=None)
@click.option("--verbose", is_flag=True, help="Show log lines here instead of in the log file.")
@click.option(
    "--photo",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A picture to send: type /photo when the bot asks for one (or /photo PATH).",
)
@with_appcontext
def chat_command(name: str | None, lang: str | None, verbose: bool, photo: str | None) -> None:
    """Talks to the bot in this terminal, as a citizen on the dev channel."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    else:
        log_to_file(CHAT_LOG)
    name = name or getpass.getuser()
    TerminalChat(current_runtime(), name, lang, photo).run(sys.stdin, sys.stdout)
