"""DOC"""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from models.agent import agent_by_email
from models.commune import CommuneRoute, communes
from models.report import Report
from models.settings import get_setting
from models.zone import all_zones, zone_by_name
from services.audit import Actor
from services.catalog import INTERCOMMUNALITY
from services.geo import ZoneError
from services.runtime import current_runtime


@click.group("zone", cls=AppGroup)
def zone_group() -> None:
    """The town's boundary and pilot zones (GeoJSON polygons)."""


@zone_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", type=click.Choice(["boundary", "pilot"]), required=True)
@click.option("--name", required=True, help="How the zone is named to citizens and agents.")
def zone_import(path: str, kind: str, name: str) -> None:
    """Loads a GeoJSON Polygon/MultiPolygon (Feature or FeatureCollection) as a zone."""
    from services.admin import import_zone

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
    from shapely.geometry import shape  # the zones' geometry: this command alone

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
    from services.admin import set_zone_active

    rt = current_runtime()
    with rt.db.transaction() as session:
        zone = zone_by_name(session, name, kind)
        if zone is None:
            raise click.ClickException(f"No {kind} zone named {name!r}.")
        set_zone_active(session, Actor.command_line(), zone, not off)
    rt.catalog.invalidate()
    click.echo(f"Zone {name!r} is now {'off' if off else 'active'}.")


@click.group("commune", cls=AppGroup)
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
    from services.communes import CommuneError, add_commune

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


# Registered on `webleads` by app/cli/__init__.py.
COMMANDS = (
    zone_group,
    commune_group,
)
