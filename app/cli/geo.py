"""`webleads geo`: geocoding, an address checked, the BAN imported, the reports kept as
text placed."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from services.ban_import import BanFileError, import_ban
from services.geo import GeocoderUnavailable
from services.placing import place_unlocated
from services.runtime import current_runtime


@click.group("geo", cls=AppGroup)
def geo_group() -> None:
    """Geocoding: check an address, place the reports kept as text."""


@geo_group.command("search")
@click.argument("address")
def geo_search(address: str) -> None:
    """Shows what the geocoder finds for an address in the town."""
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
    placed, left = place_unlocated(current_runtime())
    click.echo(f"{placed} report(s) placed on the map; {left} left for an agent to place.")
