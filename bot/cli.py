"""The `webleads` command line: a Flask CLI group."""

from __future__ import annotations

import getpass
import logging
import sys
import threading

import click
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command
from werkzeug.serving import run_simple

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
        # Not app.run(): Flask ignores it when called from its own CLI.
        run_simple(host, port, app, threaded=True, use_reloader=False)
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


@cli.group("zone")
def zone_group() -> None:
    """The town's boundary and pilot zones (GeoJSON polygons)."""


@zone_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", type=click.Choice(["boundary", "pilot"]), required=True)
@click.option("--name", required=True, help="How the zone is named to citizens and agents.")
def zone_import(path: str, kind: str, name: str) -> None:
    """Loads a GeoJSON Polygon/MultiPolygon (Feature or FeatureCollection) as a zone."""
    from bot.geo import ZoneError
    from bot.placing import import_zone

    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            _, created = import_zone(session, path, kind, name)
    except ZoneError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    rt.catalog.invalidate()
    click.echo(f"Zone {name!r} ({kind}) {'imported' if created else 'replaced'}.")


@zone_group.command("list")
def zone_list() -> None:
    """Lists the zones and whether they are active."""
    from shapely.geometry import shape

    from models.zone import all_zones

    with current_runtime().db.reading() as session:
        zones = all_zones(session)
    if not zones:
        click.echo("No zones: every place is accepted.")
    for zone in zones:
        area = shape(zone.geometry)
        south, west, north, east = area.bounds[1], area.bounds[0], area.bounds[3], area.bounds[2]
        click.echo(f"{zone.kind:8} {'active' if zone.active else 'off':6} {zone.name}  "
                   f"({south:.4f}..{north:.4f} N, {west:.4f}..{east:.4f} E)")  # fmt: skip


@zone_group.command("activate")
@click.argument("name")
@click.option("--kind", type=click.Choice(["boundary", "pilot"]), default="pilot")
@click.option("--off", is_flag=True, help="Deactivate instead.")
def zone_activate(name: str, kind: str, off: bool) -> None:
    """Turns a zone on (or off with --off): a pilot zone off opens the whole town."""
    from models.zone import zone_by_name

    rt = current_runtime()
    with rt.db.transaction() as session:
        zone = zone_by_name(session, name, kind)
        if zone is None:
            raise click.ClickException(f"No {kind} zone named {name!r}.")
        zone.active = not off
        session.add(zone)
    rt.catalog.invalidate()
    click.echo(f"Zone {name!r} is now {'off' if off else 'active'}.")


@cli.group("geo")
def geo_group() -> None:
    """Geocoding: check an address, place the reports kept as text."""


@geo_group.command("search")
@click.argument("address")
def geo_search(address: str) -> None:
    """Shows what the geocoder finds for an address in the town."""
    from bot.geo import GeocoderUnavailable

    rt = current_runtime()
    if not rt.geocoder.enabled:
        raise click.ClickException("GEOCODER is none: addresses are kept as typed.")
    with rt.db.reading() as session:
        town = rt.catalog.get(session).town
    try:
        found = rt.geocoder.search(address, town)
    except GeocoderUnavailable as exc:
        raise click.ClickException(f"The geocoder does not answer: {exc}") from exc
    if found.elsewhere:
        click.echo(f"Not in the town: that address is in {found.elsewhere}.")
    for place in found.places:
        click.echo(f"{place.score:.2f}  {place.label}  ({place.lat:.5f}, {place.lon:.5f})")
    if not found.places and not found.elsewhere:
        click.echo("Nothing found in the town.")


@geo_group.command("retry")
def geo_retry() -> None:
    """Places on the map the reports whose address was kept as text."""
    from bot.placing import place_unlocated

    placed, left = place_unlocated(current_runtime())
    click.echo(f"{placed} report(s) placed on the map; {left} left for an agent to place.")


@cli.command("remind")
def remind_command() -> None:
    """Tells the followers of reports silent past their SLA that they are still handled."""
    from bot.feedback import remind_silent_reports

    rt = current_runtime()
    count = remind_silent_reports(rt)
    rt.wake_worker()
    click.echo(f"{count} report(s) past their SLA: followers told they are still handled.")


def main() -> None:
    cli(prog_name="webleads")


if __name__ == "__main__":
    main()
