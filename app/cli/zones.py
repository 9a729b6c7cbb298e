"""`webleads zone`: the town's boundary and pilot zones."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from shapely.geometry import shape

from models.zone import all_zones, zone_by_name
from services.admin import import_zone, set_zone_active
from services.audit import Actor
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
    rt = current_runtime()
    with rt.db.transaction() as session:
        zone = zone_by_name(session, name, kind)
        if zone is None:
            raise click.ClickException(f"No {kind} zone named {name!r}.")
        set_zone_active(session, Actor.command_line(), zone, not off)
    rt.catalog.invalidate()
    click.echo(f"Zone {name!r} is now {'off' if off else 'active'}.")
