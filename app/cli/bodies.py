"""`webleads body`: the other bodies (the département's roads, the electricity network...)
and the rules that send them reports."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from services.audit import Actor
from services.bodies import BodyError, add_route, body_listing, save_body
from services.runtime import current_runtime


@click.group("body", cls=AppGroup)
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
    with current_runtime().db.reading() as session:
        lines = body_listing(session)
    click.echo("\n".join(lines) if lines else "No bodies: every report stays with the town.")
