"""The `webleads` command line: a Flask CLI group.

Every command starts in well under a second: this module imports click and Flask's CLI
only, each command imports what it uses, and the app is built only when a command runs
(`--help` builds none). bench/cli_startup.py measures it.
"""

from __future__ import annotations

import getpass
import logging
import pkgutil
import re
import sys
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command

# The commands that serve or list pages; every other one gets the app without them.
WEB_COMMANDS = {"run", "routes", "shell"}


def _create_app(*_args) -> object:
    from bot.app import create_app

    ctx = click.get_current_context(silent=True)
    command = ctx.info_name if ctx is not None else None
    return create_app(web=command in WEB_COMMANDS or command is None)


def current_runtime():
    from services.runtime import current_runtime

    return current_runtime()


class WebleadsGroup(FlaskGroup):
    """Flask's group without its start-up costs: no app is built to list the commands (the
    app adds none), no plugin entry points are scanned, and a channel's own group
    (`webhooks/<channel>/cli.py`) is imported only when it is the command run."""

    _listing = False

    def _load_plugin_commands(self) -> None:
        self._loaded_plugin_commands = True

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_channel_command_names()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name not in _channel_command_names():
            return None
        if self._listing:  # `webleads --help`: a stand-in, not the channel's imports
            return click.Group(name, help=f"The {name} channel's commands.")
        return _channel_command(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


GROUP_NAME_RE = re.compile(r'@click\.group\(\s*"([a-z0-9-]+)"')


def _channel_command_names() -> list[str]:
    """The channels that bring commands of their own, found without importing them."""
    from importlib.util import find_spec

    folders = find_spec("webhooks").submodule_search_locations or []
    names = []
    for module in pkgutil.iter_modules(folders):
        for folder in folders:
            path = Path(folder, module.name, "cli.py")
            if module.ispkg and path.exists():
                # The group's own name (the email package's is `mail`), read, not imported.
                named = GROUP_NAME_RE.search(path.read_text(encoding="utf-8"))
                names.append(named.group(1) if named else module.name)
                break
    return names


def _channel_command(name: str) -> click.Command | None:
    from services import channels

    _register_channels()
    for channel in channels.all_channels():
        if channel.cli is not None and channel.cli.name == name:
            return channel.cli
    return None


def _register_channels() -> None:
    import webhooks  # noqa: F401  (each channel registers itself: services/channels.py)


@click.group(cls=WebleadsGroup, create_app=_create_app, add_default_commands=False)
@click.option("--verbose", is_flag=True, help="Show the log's notices (the geocoder in use...).")
def cli(verbose: bool) -> None:
    """webleads-tracker: the town's reporting bot and its console."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


cli.add_command(shell_command)
cli.add_command(routes_command)


@cli.command("init-db")
def init_db() -> None:
    """Migrates the database to the latest schema."""
    from models import migrate

    rt = current_runtime()
    migrate.upgrade(rt.db.engine)
    click.echo(f"Database ready at revision {migrate.current_revision(rt.db.engine)}.")


@cli.command("seed-demo")
def seed_demo_command() -> None:
    """Sets up the demo town, Vitré (idempotent)."""
    from bot.seed import (
        ADMIN_EMAIL,
        CREW_CHAT,
        next_report_number,
        seed_crew,
        seed_demo,
        seed_demo_reports,
        seed_questions,
        seed_templates,
    )

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
    from services.agents import AgentError, save_agent
    from services.audit import Actor

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            created = save_agent(
                session, Actor.command_line(), email, password, role, list(services), name
            )
    except AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Agent {email.strip().lower()} {'created' if created else 'updated'} ({role}).")


@cli.group("agent")
def agent_group() -> None:
    """Field crews: link an agent's chat app to their account."""


@agent_group.command("link-code")
@click.argument("email")
def agent_link_code(email: str) -> None:
    """Prints a one-time code (10 minutes) that links a chat to that agent."""
    from models.agent import agent_by_email
    from services import crew_links

    rt = current_runtime()
    with rt.db.transaction() as session:
        agent = agent_by_email(session, email)
        if agent is None or not agent.active:
            raise click.ClickException(f"No active agent {email.strip().lower()}.")
        code = crew_links.issue_code(session, agent.id, rt.settings.SECRET_KEY)
    click.echo(f"Send to the bot within 10 minutes: /agent {code}  (WhatsApp: AGENT {code})")
    for label, url in crew_links.deep_links(rt.settings, code):
        click.echo(f"{label}: {url}")


@agent_group.command("head")
@click.argument("email")
@click.argument("service")
@click.option("--off", is_flag=True, help="No longer a head of that service.")
def agent_head(email: str, service: str, off: bool) -> None:
    """Makes an agent a head of a service: they get its morning digest in their chat."""
    from models.agent import agent_by_email
    from models.catalog import service_by_code
    from services import crew_digest

    rt = current_runtime()
    with rt.db.transaction() as session:
        agent, found = agent_by_email(session, email), service_by_code(session, service)
        if agent is None or found is None:
            raise click.ClickException("Unknown agent or service.")
        crew_digest.set_head(session, agent.id, found.id, head=not off)
    click.echo(f"{agent.email} {'no longer gets' if off else 'gets'} the {service} digest.")


@agent_group.command("digest-time")
@click.argument("service")
@click.argument("at")
def agent_digest_time(service: str, at: str) -> None:
    """Sets when a service's morning digest goes out (HH:MM, Europe/Paris; 08:00 by default)."""
    from models.catalog import service_by_code
    from services import crew_digest

    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            found = service_by_code(session, service)
            if found is None:
                raise click.ClickException(f"Unknown service {service}.")
            crew_digest.set_digest_time(session, found.id, at)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"The {service} digest goes out at {at}.")


@cli.group("oncall")
def oncall_group() -> None:
    """On call (astreinte): who is paged about urgent reports out of a service's hours."""


@oncall_group.command("set")
@click.argument("service")
@click.argument("email")
@click.option(
    "--from",
    "start",
    required=True,
    help="2026-12-24 18:00 (once), 'sat 18:00' (every week) or 18:00 (every day).",
)
@click.option("--to", "end", required=True, help="Written as --from is (town time).")
@click.option("--order", default=1, show_default=True, help="1 is paged first, then 2...")
def oncall_set(service: str, email: str, start: str, end: str, order: int) -> None:
    """Puts an agent on a service's rota; past the rota, the service's heads are paged."""
    from models.agent import agent_by_email
    from models.catalog import service_by_code
    from services import oncall
    from services.audit import Actor

    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            agent, found = agent_by_email(session, email), service_by_code(session, service)
            if agent is None or found is None:
                raise click.ClickException("Unknown agent or service.")
            shift = oncall.add_shift(session, Actor.command_line(), found, agent, start, end,
                                     order)  # fmt: skip
            said = oncall.describe(shift)
    except oncall.RotaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{agent.email} is on call for {service} ({said}, order {order}).")


@oncall_group.command("list")
def oncall_list() -> None:
    """Prints each service's rota, its hours and page delay, and who is on call now."""
    from models.agent import Agent
    from models.catalog import all_services
    from models.db import utcnow
    from models.oncall import all_shifts, setting_of
    from services import oncall

    rt = current_runtime()
    with rt.db.reading() as session:
        shifts, now = all_shifts(session), utcnow()
        for service in all_services(session):
            hours = setting_of(session, service.id)
            chain = oncall.chain(session, service.id, now)
            names = [session.get(Agent, a).email for a in chain] or ["nobody"]
            click.echo(f"{service.code}: hours {hours.opens}-{hours.closes} weekdays, pages "
                       f"wait {hours.ack_minutes} min; paged now: {', '.join(names)}")  # fmt: skip
            for shift in (s for s in shifts if s.service_id == service.id):
                who = session.get(Agent, shift.agent_id).email
                click.echo(f"  {shift.rank}. {who}  {oncall.describe(shift)}")


@cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def run_command(host: str, port: int) -> None:
    """Runs the web server, the outbox worker and (if set) Telegram polling, in one process."""
    from werkzeug.serving import run_simple

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
@click.option("--verbose", is_flag=True, help="Show log lines here instead of in the log file.")
@click.option(
    "--photo",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A picture to send: type /photo when the bot asks for one (or /photo PATH).",
)
def chat_command(name: str | None, lang: str | None, verbose: bool, photo: str | None) -> None:
    """Talks to the bot in this terminal, as a citizen on the dev channel."""
    from bot.chat import TerminalChat, log_to_file

    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    else:
        log_to_file(CHAT_LOG)
    name = name or getpass.getuser()
    TerminalChat(current_runtime(), name, lang, photo).run(sys.stdin, sys.stdout)


# Where `webleads chat` writes its log lines, so the terminal shows the conversation only.
CHAT_LOG = "instance/chat.log"


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
    from models.agent import agent_by_email
    from models.messaging import messages_for_report
    from services import reports

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


def _moderate(ref: str, change, said: str) -> None:
    from services import reports

    rt = current_runtime()
    try:
        number = reports.parse_ref(ref)
        with rt.db.transaction() as session:
            change(session, number, agent_id=None)
    except reports.ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"#{number}: {said}")


@report_group.command("publish")
@click.argument("ref")
def report_publish(ref: str) -> None:
    """Puts report REF on the public site with its citizen's words (as the console does)."""
    from services import moderation

    _moderate(ref, moderation.publish, "public, with the citizen's words.")


@report_group.command("hide")
@click.argument("ref")
def report_hide(ref: str) -> None:
    """Takes report REF off the public site (its page answers 404, Open311 too)."""
    from services import moderation

    _moderate(ref, moderation.hide, "hidden from the public site.")


@cli.group("zone")
def zone_group() -> None:
    """The town's boundary and pilot zones (GeoJSON polygons)."""


@zone_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", type=click.Choice(["boundary", "pilot"]), required=True)
@click.option("--name", required=True, help="How the zone is named to citizens and agents.")
def zone_import(path: str, kind: str, name: str) -> None:
    """Loads a GeoJSON Polygon/MultiPolygon (Feature or FeatureCollection) as a zone."""
    from services.admin import import_zone
    from services.audit import Actor
    from services.geo import ZoneError

    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            _, created = import_zone(session, Actor.command_line(), path, kind, name)
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
    from services.admin import set_zone_active
    from services.audit import Actor

    rt = current_runtime()
    with rt.db.transaction() as session:
        zone = zone_by_name(session, name, kind)
        if zone is None:
            raise click.ClickException(f"No {kind} zone named {name!r}.")
        set_zone_active(session, Actor.command_line(), zone, not off)
    rt.catalog.invalidate()
    click.echo(f"Zone {name!r} is now {'off' if off else 'active'}.")


@cli.group("commune")
def commune_group() -> None:
    """Several communes in one deployment (an intercommunalité)."""


@commune_group.command("add")
@click.argument("insee")
@click.option("--name", required=True, help="The commune's name, as citizens read it.")
@click.option(
    "--boundary",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Its boundary: a GeoJSON Polygon/MultiPolygon (Feature or collection).",
)
def commune_add(insee: str, name: str, boundary: str) -> None:
    """Adds a commune (or replaces its boundary): reports inside it belong to it."""
    from services.audit import Actor
    from services.communes import CommuneError, add_commune
    from services.geo import ZoneError

    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            added = add_commune(session, Actor.command_line(), insee, name, boundary)
            town = added.town and (added.town.name, added.town.insee)
    except (CommuneError, ZoneError) as exc:
        raise click.ClickException(str(exc)) from exc
    rt.catalog.invalidate()
    if town:
        click.echo(f"The town so far, {town[0]} ({town[1]}), is now a commune too, with "
                   f"{added.town_reports} of its reports.")  # fmt: skip
    click.echo(f"Commune {name} ({insee.upper()}) added.")


@commune_group.command("intercommunality")
@click.argument("name", required=False)
def commune_intercommunality(name: str | None) -> None:
    """Names the intercommunalité (the bot's welcome, its refusals, the launch kit); without
    NAME, says the name in use; "" forgets it (the communes' names are listed instead)."""
    from services.audit import Actor
    from services.communes import CommuneError, name_intercommunality

    rt = current_runtime()
    if name is not None:
        try:
            with rt.db.transaction() as session:
                name_intercommunality(session, Actor.command_line(), name)
        except CommuneError as exc:
            raise click.ClickException(str(exc)) from exc
        rt.catalog.invalidate()
    with rt.db.reading() as session:
        snapshot = rt.catalog.get(session)
    if not snapshot.several_communes:
        click.echo(f"One town ({snapshot.town_name or 'unnamed'}): the name is used once a "
                   "second commune is added.")  # fmt: skip
    else:
        click.echo(f"Citizens read: {snapshot.area_name}.")


@commune_group.command("list")
def commune_list() -> None:
    """Lists the communes, with their reports and their own services."""
    from sqlalchemy import func, select

    from models.commune import CommuneRoute, communes
    from models.report import Report
    from models.settings import get_setting
    from services.catalog import INTERCOMMUNALITY

    with current_runtime().db.reading() as session:
        rows = communes(session)
        named = get_setting(session, INTERCOMMUNALITY)
        counts = dict(session.execute(
            select(Report.commune, func.count()).group_by(Report.commune)
        ).all())  # fmt: skip
        routes = dict(session.execute(
            select(CommuneRoute.commune, func.count()).group_by(CommuneRoute.commune)
        ).all())  # fmt: skip
    if not rows:
        click.echo("One town: no communes set up (webleads commune add INSEE ...).")
    for zone in rows:
        click.echo(f"{zone.insee}  {zone.name:30} {counts.get(zone.insee, 0):6} report(s)  "
                   f"{routes.get(zone.insee, 0)} category(ies) on its own services")  # fmt: skip
    if len(rows) > 1:
        click.echo(f"Intercommunalité: {named}" if named else "Intercommunalité not named: the "
                   "bot lists the communes (webleads commune intercommunality NAME).")  # fmt: skip


@commune_group.command("route")
@click.argument("insee")
@click.argument("category")
@click.argument("service", required=False)
def commune_route(insee: str, category: str, service: str | None) -> None:
    """Sends CATEGORY in this commune to its own SERVICE (no SERVICE: the shared one)."""
    from services.audit import Actor
    from services.communes import CommuneError, route

    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            route(session, Actor.command_line(), insee, category, service)
    except CommuneError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{category} in {insee}: {service or 'the shared service'}.")


@commune_group.command("attach")
@click.argument("email")
@click.argument("insee", nargs=-1)
def commune_attach(email: str, insee: tuple[str, ...]) -> None:
    """Lets an agent see only these communes' reports (none given: every commune)."""
    from models.agent import agent_by_email
    from services.audit import Actor
    from services.communes import CommuneError, attach_agent

    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            agent = agent_by_email(session, email)
            if agent is None:
                raise CommuneError(f"No agent {email!r}.")
            attach_agent(session, Actor.command_line(), agent.id, [c.upper() for c in insee])
    except CommuneError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{email}: {', '.join(insee) if insee else 'every commune'}.")


@cli.group("body")
def body_group() -> None:
    """Other bodies (the département's roads, the electricity network...) and the rules
    that send them reports."""


@body_group.command("add")
@click.argument("code")
@click.option("--name", required=True, help="The body's name, as residents read it.")
@click.option("--email", help="Where the reports are e-mailed.")
@click.option("--open311", "endpoint", help="The body's Open311 endpoint (instead of e-mail).")
@click.option("--key", help="The Open311 endpoint's API key.")
@click.option("--hours", type=click.IntRange(min=1), help="Response time before a reminder.")
def body_add(code: str, name: str, email: str | None, endpoint: str | None, key: str | None,
             hours: int | None) -> None:  # fmt: skip
    """Adds a body reached by e-mail or Open311 (or changes the one with this CODE)."""
    from services.audit import Actor
    from services.bodies import BodyError, save_body

    try:
        with current_runtime().db.transaction() as session:
            body, created = save_body(session, Actor.command_line(), code, name, email=email,
                                      endpoint=endpoint, api_key=key, hours=hours)  # fmt: skip
            said = f"Body {body.code} ({body.name}) {'added' if created else 'changed'}."
    except BodyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(said)


@body_group.command("route")
@click.argument("category")
@click.argument("code")
@click.option("--zone", help="Only within this zone (a commune or pilot zone's name).")
@click.option("--also", is_flag=True, help="The category's service keeps it too.")
def body_route(category: str, code: str, zone: str | None, also: bool) -> None:
    """Sends CATEGORY's reports (within a zone) to the body CODE."""
    from services.audit import Actor
    from services.bodies import BodyError, add_route

    try:
        with current_runtime().db.transaction() as session:
            add_route(session, Actor.command_line(), category, code, zone_name=zone, also=also)
    except BodyError as exc:
        raise click.ClickException(str(exc)) from exc
    where = f" in {zone}" if zone else ""
    click.echo(f"{category}{where}: to {code}{' and its service' if also else ''}.")


@body_group.command("list")
def body_list() -> None:
    """Lists the bodies, how they are reached and their rules."""
    from services.bodies import body_listing

    with current_runtime().db.reading() as session:
        lines = body_listing(session)
    click.echo("\n".join(lines) if lines else "No bodies: every report stays with the town.")


@cli.group("geo")
def geo_group() -> None:
    """Geocoding: check an address, place the reports kept as text."""


@geo_group.command("search")
@click.argument("address")
def geo_search(address: str) -> None:
    """Shows what the geocoder finds for an address in the town."""
    from services.geo import GeocoderUnavailable

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


@geo_group.command("import-ban")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def geo_import_ban(path: str) -> None:
    """Imports the BAN's address CSV (.csv or .csv.gz) for GEOCODER=local."""
    from services.ban_import import BanFileError, import_ban

    done = []

    def imported(commune) -> None:
        done.append(commune)
        click.echo(f"{commune.citycode} {commune.city}: {commune.addresses} addresses, "
                   f"{commune.streets} streets")  # fmt: skip

    try:
        result = import_ban(current_runtime().db, path, on_commune=imported)
    except BanFileError as exc:
        kept = f"the {len(done)} commune(s) above are imported" if done else "nothing imported"
        raise click.ClickException(f"{exc} ({kept}).") from exc
    skipped = ""
    if result.skipped:
        skipped = f"; {result.skipped} line(s) skipped (no position or street name)"
    click.echo(f"{result.addresses} addresses in {len(result.communes)} commune(s){skipped}.")


@geo_group.command("retry")
def geo_retry() -> None:
    """Places on the map the reports whose address was kept as text."""
    from services.placing import place_unlocated

    placed, left = place_unlocated(current_runtime())
    click.echo(f"{placed} report(s) placed on the map; {left} left for an agent to place.")


@cli.group("media")
def media_group() -> None:
    """Where the photos are kept (MEDIA_STORAGE)."""


@media_group.command("migrate")
@click.option(
    "--to",
    "target",
    type=click.Choice(["s3", "local"]),
    required=True,
    help="s3: from MEDIA_DIR into the bucket; local: from the bucket into MEDIA_DIR.",
)
@click.option("--delete-source", is_flag=True, help="Remove each photo once the copy is whole.")
def media_migrate(target: str, delete_source: bool) -> None:
    """Copies every photo between MEDIA_DIR and the S3 bucket (run again to resume)."""
    from services.storage import LocalStore, StoreError, migrate, store_from

    settings = current_runtime().settings
    try:
        bucket = store_from(settings, MEDIA_STORAGE="s3")
    except StoreError as exc:
        raise click.ClickException(f"The bucket is not set up: {exc}") from exc
    local = LocalStore(settings.MEDIA_DIR)
    source, destination = (local, bucket) if target == "s3" else (bucket, local)
    try:
        done = migrate(source, destination, delete_source=delete_source)
    except StoreError as exc:
        raise click.ClickException(f"Stopped (run it again to resume): {exc}") from exc
    click.echo(
        f"{done.copied} photo(s) copied, {done.skipped} already there, "
        f"{done.deleted} removed from the source. Now set MEDIA_STORAGE={target}."
    )


@cli.command("remind")
def remind_command() -> None:
    """Tells the followers of reports silent past their SLA that they are still handled."""
    from services.feedback import remind_silent_reports

    rt = current_runtime()
    count = remind_silent_reports(rt)
    rt.wake_worker()
    click.echo(f"{count} report(s) past their SLA: followers told they are still handled.")


# --- pilot, Open311 keys, privacy, launch kit, audit ---------------------------------------


@cli.group("pilot", invoke_without_command=True)
@click.pass_context
def pilot_group(ctx: click.Context) -> None:
    """The pilot: open the service to a zone, some services or a group first."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(pilot_status)


def _pilot_change(change) -> None:
    """Runs a change to the pilot in a transaction, as the command line's user.

    `change(session, actor)` writes its audit row; a PilotError becomes a CLI error.
    """
    from services.audit import Actor
    from services.pilot import PilotError

    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            result = change(session, Actor.command_line())
    except PilotError as exc:
        raise click.ClickException(str(exc)) from exc
    rt.catalog.invalidate()
    return result


@pilot_group.command("status")
def pilot_status() -> None:
    """Says what the pilot restricts now."""
    from services.pilot import describe

    rt = current_runtime()
    rt.catalog.invalidate()
    with rt.db.reading() as session:
        rules = rt.catalog.get(session).pilot
    click.echo("\n".join(describe(rules)))


@pilot_group.command("on")
def pilot_on() -> None:
    """Turns the pilot on: its zones, services and groups apply again."""
    from services.pilot import switch

    _pilot_change(lambda session, actor: switch(session, actor, True))
    click.echo("The pilot is on (other processes follow within 30 seconds).")
    pilot_status.callback()


@pilot_group.command("off")
def pilot_off() -> None:
    """Turns the pilot off: the service opens to everyone, its rules kept for later."""
    from services.pilot import switch

    _pilot_change(lambda session, actor: switch(session, actor, False))
    click.echo(
        "The pilot is off: the service is open to everyone "
        "(other processes follow within 30 seconds)."
    )


@pilot_group.command("services")
@click.argument("codes", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Offer every service again.")
def pilot_services(codes: tuple[str, ...], everything: bool) -> None:
    """Offers only these services' categories while the pilot is on (voirie eclairage)."""
    from services.pilot import set_services

    if not codes and not everything:
        with current_runtime().db.reading() as session:
            offered = current_runtime().catalog.get(session).pilot.services
        click.echo(f"Services offered: {', '.join(sorted(offered)) or 'all'}.")
        return
    chosen = _pilot_change(
        lambda session, actor: set_services(session, actor, [] if everything else list(codes))
    )
    click.echo(f"Services offered during the pilot: {', '.join(chosen) or 'all'}.")


@pilot_group.command("opens-on")
@click.argument("text", required=False)
def pilot_opens_on(text: str | None) -> None:
    """Tells citizens when the service opens to everyone ("1er juin"); no TEXT clears it."""
    from services.pilot import set_opening

    _pilot_change(lambda session, actor: set_opening(session, actor, text))
    click.echo(f"Opening date: {text or 'not said'}.")


@pilot_group.group("code", invoke_without_command=True)
@click.pass_context
def pilot_code(ctx: click.Context) -> None:
    """Invite codes: t.me/<bot>?start=CODE, or the code alone by SMS."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(pilot_code_list)


@pilot_code.command("add")
@click.argument("code")
@click.option("--label", default="", help="Who the code is for (a district, an association).")
def pilot_code_add(code: str, label: str) -> None:
    """Creates (or reactivates) an invite code; codes are case-insensitive."""
    from services.pilot import add_code

    invite = _pilot_change(lambda session, actor: add_code(session, actor, code, label))
    click.echo(
        f"Invite code {invite.code} is active{f' ({invite.label})' if invite.label else ''}."
    )


@pilot_code.command("off")
@click.argument("code")
def pilot_code_off(code: str) -> None:
    """Deactivates an invite code (citizens it let in stay in)."""
    from services.pilot import deactivate_code

    invite = _pilot_change(lambda session, actor: deactivate_code(session, actor, code))
    click.echo(f"Invite code {invite.code} is off.")


@pilot_code.command("list")
def pilot_code_list() -> None:
    """Lists the invite codes and how many citizens each let in."""
    from models.pilot import all_invites

    with current_runtime().db.reading() as session:
        invites = all_invites(session)
    if not invites:
        click.echo("No invite codes.")
    for invite in invites:
        click.echo(
            f"{invite.code:20} {'active' if invite.active else 'off':6} "
            f"{invite.uses:5} use(s)  {invite.label}"
        )


@pilot_group.command("allow")
@click.argument("identity")
@click.option("--label", default="", help="Whose it is (kept for the admins).")
def pilot_allow(identity: str, label: str) -> None:
    """Lets a phone number (06..., +33...) or a Telegram user id into the pilot."""
    from services.pilot import allow

    region = current_runtime().settings.DEFAULT_REGION
    entry = _pilot_change(lambda session, actor: allow(session, actor, identity, label, region))
    click.echo(f"Allowed: {entry.channel} {entry.address}.")


@pilot_group.command("disallow")
@click.argument("identity")
def pilot_disallow(identity: str) -> None:
    """Removes a phone number or Telegram user id from the allowlist."""
    from services.pilot import disallow

    region = current_runtime().settings.DEFAULT_REGION
    removed = _pilot_change(lambda session, actor: disallow(session, actor, identity, region))
    click.echo("Removed from the allowlist." if removed else "It was not on the allowlist.")


@pilot_group.command("allowlist")
def pilot_allowlist() -> None:
    """Lists the allowlisted phone numbers and Telegram users."""
    from models.pilot import all_allowed

    with current_runtime().db.reading() as session:
        entries = all_allowed(session)
    if not entries:
        click.echo("The allowlist is empty.")
    for entry in entries:
        click.echo(f"{entry.channel:9} {entry.address:20} {entry.label}")


@pilot_group.command("demand")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3660))
def pilot_demand(days: int) -> None:
    """Counts the contacts the pilot turned away, per day, channel and reason."""
    from models.pilot import admitted_counts
    from services.pilot import demand

    with current_runtime().db.reading() as session:
        rows = demand(session, days)
        admitted = admitted_counts(session)
    total = sum(r.contacts for r in rows)
    click.echo(f"Turned away over {days} day(s): {total} contact(s) (one per citizen per day).")
    for row in rows:
        click.echo(f"{row.day.isoformat()}  {row.channel:9} {row.reason:8} {row.contacts:5}")
    if admitted:
        parts = ", ".join(f"{via or '?'}: {n}" for via, n in sorted(admitted.items()))
        click.echo(f"Let in so far: {parts}.")


@cli.group("api-key")
def api_key_group() -> None:
    """API keys of the town's other tools (Open311 clients)."""


@api_key_group.command("create")
@click.argument("name")
@click.option(
    "--commune",
    "communes",
    multiple=True,
    metavar="INSEE",
    help="A commune the key reads and files in (repeat it; none: every commune).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Reads the town's full record (descriptions, typed addresses, the agents' words as "
    "sent); without it, only what the public site shows.",
)
def api_key_create(name: str, communes: tuple[str, ...], full: bool) -> None:
    """Creates a key for the tool NAME and prints it once (it is stored hashed)."""
    from models.api_key import KeyView
    from services.admin import AdminError, create_api_key
    from services.audit import Actor

    name = name.strip()
    view = KeyView.FULL if full else KeyView.PUBLIC
    try:
        with current_runtime().db.transaction() as session:
            row, key = create_api_key(
                session, Actor.command_line(), name, view=view, communes=communes
            )
            scope = _key_scope(row)
    except AdminError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"API key for {name}, {scope} (shown only now, keep it safe):")
    click.echo(key)


def _key_scope(key) -> str:
    """What a key reads, in a few words: its view and its communes."""
    view = "full record" if key.reads_full_record else "public view"
    return f"{view}, {', '.join(key.communes) if key.communes else 'every commune'}"


@api_key_group.command("list")
def api_key_list() -> None:
    """Lists the keys (names and first characters only)."""
    from models.api_key import all_keys

    with current_runtime().db.reading() as session:
        keys = all_keys(session)
    if not keys:
        click.echo("No API keys.")
    for key in keys:
        used = key.last_used_at.strftime("%Y-%m-%d") if key.last_used_at else "never"
        state = "active" if key.active else "revoked"
        click.echo(f"{key.name:24} {key.hint}...  {state:7}  last used: {used:10}  "
                   f"{_key_scope(key)}")  # fmt: skip


@api_key_group.command("revoke")
@click.argument("name")
def api_key_revoke(name: str) -> None:
    """Revokes the key named NAME at once."""
    from services.admin import revoke_api_key
    from services.audit import Actor

    with current_runtime().db.transaction() as session:
        revoked = revoke_api_key(session, Actor.command_line(), name)
    if not revoked:
        raise click.ClickException(f"No active key named {name!r}.")
    click.echo(f"Key {name} revoked.")


@cli.group("privacy")
def privacy_group() -> None:
    """Personal data: the retention purge (docs/privacy.md)."""


@privacy_group.command("purge")
def privacy_purge() -> None:
    """Forgets identities past RETENTION_DAYS and trims the message logs (idempotent)."""
    from services.privacy import purge

    rt = current_runtime()
    click.echo(f"Retention: {rt.settings.RETENTION_DAYS} day(s). {purge(rt)}")


@cli.command("launch-kit")
@click.option(
    "--out", "out_dir", default="launch-kit", show_default=True, type=click.Path(file_okay=False)
)
@click.option(
    "--code",
    default=None,
    help="The invite code for the Telegram QR code "
    "(default: the pilot's first active code, while it restricts groups).",
)
@click.option(
    "--commune",
    default=None,
    metavar="INSEE",
    help="Only this commune's kit (several communes; default: the intercommunalité's kit "
    "and one per commune, in subfolders).",
)
def launch_kit(out_dir: str, code: str | None, commune: str | None) -> None:
    """Writes the A4 poster, the A5 flyer and the agents' guide (PDF, French)."""
    from pathlib import Path

    from services.launchkit import LaunchKitError, kit_for, kits_for, write_kit
    from services.texts import fold

    rt = current_runtime()
    try:
        code = fold(code) if code else None
        kits = {"": kit_for(rt, code, commune)} if commune else kits_for(rt, code)
        written = {folder: write_kit(kit, Path(out_dir, folder)) for folder, kit in kits.items()}
    except LaunchKitError as exc:
        raise click.ClickException(str(exc)) from exc
    for folder, paths in written.items():
        if len(written) > 1:
            click.echo(f"{kits[folder].town}:")
        for path in paths.values():
            click.echo(f"Wrote {path}")
    kit = kits[""]
    for label, url in ((invite.label, invite.url) for invite in kit.invites):
        if url:
            click.echo(f"{label} QR code: {url}")


@cli.group("audit")
def audit_group() -> None:
    """The audit log of agents' actions."""


@audit_group.command("export")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day included (YYYY-MM-DD, UTC).",
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day excluded (YYYY-MM-DD, UTC).",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="The CSV file ('-': the terminal).",
)
def audit_export(since, until, out_file: str) -> None:
    """Exports agents' actions (when, agent, report, action, from, to, messages) as CSV."""
    import io
    from pathlib import Path

    from services.audit import export_csv

    buffer = io.StringIO()
    with current_runtime().db.reading() as session:
        count = export_csv(
            session, buffer, since.date() if since else None, until.date() if until else None
        )
    if out_file == "-":
        click.echo(buffer.getvalue(), nl=False)
        return
    Path(out_file).write_text(buffer.getvalue(), encoding="utf-8", newline="")
    click.echo(f"{count} action(s) written to {out_file}.")


# --- the free-text reader (services/nlu) --------------------------------------------------


@cli.group("nlu")
def nlu_group() -> None:
    """The free-text reader: guess, evaluate, retrain, activate."""


@nlu_group.command("guess")
@click.argument("text")
def nlu_guess(text: str) -> None:
    """Reads TEXT as a resident's message: the top categories, how sure, the place."""
    from services.nlu import reader

    rt = current_runtime()
    with rt.db.reading() as session:
        reading = reader.read(session, rt.catalog.get(session), text)
    model = f"version {reading.version}" if reading.version else "shipped examples"
    click.echo(f"Verdict: {reading.verdict} (model: {model})")
    for code, probability in reading.ranked[:3]:
        click.echo(f"  {code:<16} {probability:6.1%}")
    place = reading.place
    click.echo(f"Place: {place.query if place else 'none found'}")


@nlu_group.command("eval")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def nlu_eval(path: str) -> None:
    """Scores the reader in use on a TSV file (columns text, category, optional street)."""
    from services.nlu import evaluate, reader

    rt = current_runtime()
    rows = evaluate.read_labelled(path)
    with rt.db.reading() as session:
        catalog = rt.catalog.get(session)
        scores = evaluate.score(reader.reader(session, catalog), rows)
    _echo_scores(scores)


def _echo_scores(scores) -> None:
    figures = scores.as_dict()
    click.echo(f"Messages: {figures['messages']}")
    click.echo(f"Top-1: {figures['top1']:.1%}  Top-3: {figures['top3']:.1%}")
    if scores.named:
        click.echo(
            f"Place found: {figures['place_found']:.1%}  right: {figures['place_right']:.1%}"
            f" (of {scores.named} naming one)"
        )
    click.echo(
        f"Non-reports taken for reports: {scores.non_reports_taken}/{scores.non_reports}  "
        f"Emergencies answered: {figures['emergencies_answered']}  "
        f"False alarms: {scores.false_alarms}"
    )
    from services.nlu import evaluate

    click.echo("Confusion (expected: right/all, read instead):")
    for line in evaluate.confusion_lines(scores):
        click.echo(f"  {line}")


@nlu_group.command("train")
def nlu_train() -> None:
    """Retrains from the shipped examples and the town's reports; stores a new version."""
    from services.nlu import training

    rt = current_runtime()
    with rt.db.transaction() as session:
        trained = training.train(session, rt.catalog.get(session))
    click.echo(
        f"Version {trained.version} stored (not active): {trained.shipped} shipped examples, "
        f"{trained.town} of the town's reports, {trained.held_out} held out to score."
    )
    active = f"version {trained.active_version}" if trained.active_version else "shipped examples"
    if trained.held_out:
        for name, scores in ((f"new (version {trained.version})", trained.scores),
                             (f"active ({active})", trained.active_scores)):  # fmt: skip
            click.echo(f"  {name}: top-1 {scores['top1']:.1%}, top-3 {scores['top3']:.1%}")
    else:
        click.echo("  No held-out reports to score on yet.")
    click.echo(f"Activate it with `webleads nlu activate {trained.version}`.")


@nlu_group.command("activate")
@click.argument("version", type=int)
def nlu_activate(version: int) -> None:
    """Makes VERSION the reader in use (audited)."""
    from services.audit import Actor
    from services.nlu import training

    rt = current_runtime()
    with rt.db.transaction() as session:
        done = training.activate(session, Actor.command_line(), version)
    if not done:
        raise click.ClickException(f"There is no version {version}.")
    click.echo(f"Version {version} is now the reader in use.")


@nlu_group.command("list")
def nlu_list() -> None:
    """Lists the stored versions with their scores."""
    import json

    from models.nlu import all_models

    with current_runtime().db.reading() as session:
        for row in all_models(session):
            about = json.loads(row.about)
            scores = about.get("scores") or {}
            click.echo(
                f"{'*' if row.active else ' '} {row.version:>3}  {row.created_at:%Y-%m-%d %H:%M}"
                f"  town reports {about.get('town', 0):>4}"
                f"  top-1 {scores.get('top1', 0):.1%}  top-3 {scores.get('top3', 0):.1%}"
            )


@nlu_group.command("export")
@click.argument("out_file", metavar="FILE.tsv")
def nlu_export(out_file: str) -> None:
    """Writes the town's examples (text, category, language, source) to FILE.tsv ("-": the
    screen), for another town to import."""
    from services.nlu import examples

    rt = current_runtime()
    with rt.db.reading() as session:
        found = examples.town_examples(
            session, rt.catalog.get(session), rt.settings.DEFAULT_LANGUAGE
        )
    if out_file == "-":
        click.echo(examples.to_tsv(found), nl=False)
        return
    try:
        Path(out_file).write_text(examples.to_tsv(found), encoding="utf-8", newline="")
    except OSError as exc:
        raise click.ClickException(f"Cannot write {out_file}: {exc.strerror}.") from exc
    click.echo(f"{len(found)} example(s) written to {out_file}.")


@nlu_group.command("import")
@click.argument("in_file", metavar="FILE.tsv")
def nlu_import(in_file: str) -> None:
    """Adds the examples of FILE.tsv (as `nlu export` writes it) to the town's: a row with
    a category the town does not have is listed and skipped, a known example skipped."""
    from services.audit import Action, Actor, Thing, record
    from services.nlu import examples

    try:
        data = Path(in_file).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"Cannot read {in_file}: {exc.strerror}.") from exc
    rt = current_runtime()
    try:
        with rt.db.transaction() as session:
            done = examples.import_tsv(
                session, rt.catalog.get(session), data, rt.settings.DEFAULT_LANGUAGE
            )
            if done.added:
                record(session, Actor.command_line(), Thing.READER, "examples", Action.CREATED,
                       {"examples": [None, done.added]})  # fmt: skip
    except examples.ExamplesError as exc:
        raise click.ClickException(f"{in_file}: {exc}") from exc
    click.echo(
        f"{done.added} example(s) imported, {done.duplicates} already known, "
        f"{len(done.bad)} row(s) skipped."
    )
    for bad in done.bad:
        click.echo(f"  line {bad.line}: {bad.reason % {'value': bad.value}}: {bad.text}")
    if done.added:
        click.echo("Train a new version to use them: `webleads nlu train`.")


def main() -> None:
    cli(prog_name="webleads")


if __name__ == "__main__":
    main()
