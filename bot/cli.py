"""The `webleads` command line: a Flask CLI group."""

from __future__ import annotations

import getpass
import logging
import sys
import threading

import click
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command

from bot.app import create_app
from bot.runtime import current_runtime
from models import migrate


def _create_app(*_args) -> object:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def cli() -> None:
    """webleads-tracker: the town's reporting bot and its console."""


cli.add_command(shell_command)
cli.add_command(routes_command)


def _add_channel_commands() -> None:
    from webhooks.telegram import telegram_cli

    cli.add_command(telegram_cli)


_add_channel_commands()


@cli.command("init-db")
def init_db() -> None:
    """Migrates the database to the latest schema."""
    rt = current_runtime()
    migrate.upgrade(rt.db.engine)
    click.echo(f"Database ready at revision {migrate.current_revision(rt.db.engine)}.")


@cli.command("seed-demo")
def seed_demo_command() -> None:
    """Sets up the demo town, Vitré (idempotent)."""
    from bot.seed import ADMIN_EMAIL, seed_demo

    rt = current_runtime()
    with rt.db.transaction() as session:
        password = seed_demo(session)
    rt.catalog.invalidate()
    click.echo("Demo town Vitré is ready (services, categories, admin agent).")
    if password:
        click.echo(f"Admin login: {ADMIN_EMAIL} / password: {password}  (shown only now)")
    else:
        click.echo(
            f"Admin {ADMIN_EMAIL} exists; reset its password with "
            f"`webleads create-agent {ADMIN_EMAIL} --role admin`."
        )


@cli.command("create-agent")
@click.argument("email")
@click.option("--password", help="Prompted for (hidden) when left out.")
@click.option("--role", type=click.Choice(["admin", "agent"]), default="agent", show_default=True)
@click.option("--service", "services", multiple=True, help="Service code; repeat for several.")
@click.option("--name", default="", help="Display name.")
def create_agent(
    email: str, password: str | None, role: str, services: tuple[str, ...], name: str
) -> None:
    """Creates an agent, or updates the password, role and services of an existing one."""
    from bot.agents import AgentError, save_agent

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            created = save_agent(session, email, password, role, list(services), name)
    except AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Agent {email.strip().lower()} {'created' if created else 'updated'} ({role}).")


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def run_command(host: str, port: int) -> None:
    """Runs the web server, the outbox worker and (if set) Telegram polling, in one process."""
    from bot import background

    app = current_app._get_current_object()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    background.start_all(app, stop)
    click.echo(f"Console: http://{host}:{port}/console/  (health: /healthz)")
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        stop.set()


@cli.command("worker")
def worker_command() -> None:
    """Runs the outbox worker alone (production: one or more next to the web server)."""
    from bot import background

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    try:
        background.run_worker(current_runtime(), stop)
    except KeyboardInterrupt:
        stop.set()


@cli.command("chat")
@click.option("--as", "name", default=None, help="Your name as a citizen (default: your login).")
@click.option("--lang", type=click.Choice(["fr", "en"]), default=None)
def chat_command(name: str | None, lang: str | None) -> None:
    """Talks to the bot in this terminal, as a citizen on the dev channel."""
    from bot.chat import TerminalChat

    name = name or getpass.getuser()
    TerminalChat(current_runtime(), name, lang).run(sys.stdin, sys.stdout)


@cli.group("report")
def report_group() -> None:
    """Reports: change their status from the command line."""


@report_group.command("set-status")
@click.argument("ref")
@click.argument("status")
@click.option("--message", default=None, help="Public words for the citizen.")
@click.option("--note", default=None, help="Internal note, never sent.")
@click.option("--agent", "agent_email", default=None, help="The agent making the change.")
@click.option("--duplicate-of", default=None, help="With STATUS duplicate: the report it repeats.")
def set_status(
    ref: str,
    status: str,
    message: str | None,
    note: str | None,
    agent_email: str | None,
    duplicate_of: str | None,
) -> None:
    """Moves report REF (1042 or #1042) to STATUS and tells its followers."""
    from bot import reports
    from models.agent import agent_by_email
    from models.messaging import messages_for_report

    rt = current_runtime()
    try:
        number = reports.parse_ref(ref)
        target = reports.parse_ref(duplicate_of) if duplicate_of else None
        with rt.db.transaction() as session:
            agent_id = None
            if agent_email:
                agent = agent_by_email(session, agent_email)
                if agent is None:
                    raise reports.ReportError(f"No agent {agent_email}.")
                agent_id = agent.id
            event = reports.change_status(
                session,
                number,
                status.strip().lower(),
                message=message,
                note=note,
                agent_id=agent_id,
                duplicate_of=target,
            )
            queued = [m for m in messages_for_report(session, number) if m.event_id == event.id]
    except reports.ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    rt.wake_worker()
    click.echo(
        f"#{number}: {event.from_status} -> {event.to_status}; "
        f"{len(queued)} message(s) queued for the followers."
    )


def main() -> None:
    cli(prog_name="webleads")


if __name__ == "__main__":
    main()
