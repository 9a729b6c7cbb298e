"""`webleads commune`: several communes in one deployment (an intercommunalité)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from models.agent import agent_by_email
from models.commune import CommuneRoute, communes
from models.report import Report
from models.settings import get_setting
from services.audit import Actor
from services.catalog import INTERCOMMUNALITY
from services.communes import CommuneError, add_commune, attach_agent, name_intercommunality, route
from services.geo import ZoneError
from services.runtime import current_runtime


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
