"""`webleads pilot`: the pilot's zones, services, codes and allowlist."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from models.pilot import admitted_counts, all_allowed, all_invites
from services.audit import Actor
from services.pilot import (
    PilotError,
    add_code,
    allow,
    deactivate_code,
    demand,
    describe,
    disallow,
    set_opening,
    set_services,
    switch,
)
from services.runtime import current_runtime


@click.group("pilot", cls=AppGroup, invoke_without_command=True)
@click.pass_context
def pilot_group(ctx: click.Context) -> None:
    """The pilot: open the service to a zone, some services or a group first."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(pilot_status)


def _pilot_change(change) -> None:
    """Runs a change to the pilot in a transaction, as the command line's user.

    `change(session, actor)` writes its audit row; a PilotError becomes a CLI error.
    """
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
    rt = current_runtime()
    rt.catalog.invalidate()
    with rt.db.reading() as session:
        rules = rt.catalog.get(session).pilot
    click.echo("\n".join(describe(rules)))


@pilot_group.command("on")
def pilot_on() -> None:
    """Turns the pilot on: its zones, services and groups apply again."""
    _pilot_change(lambda session, actor: switch(session, actor, True))
    click.echo("The pilot is on (other processes follow within 30 seconds).")
    pilot_status.callback()


@pilot_group.command("off")
def pilot_off() -> None:
    """Turns the pilot off: the service opens to everyone, its rules kept for later."""
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
    invite = _pilot_change(lambda session, actor: add_code(session, actor, code, label))
    click.echo(
        f"Invite code {invite.code} is active{f' ({invite.label})' if invite.label else ''}."
    )


@pilot_code.command("off")
@click.argument("code")
def pilot_code_off(code: str) -> None:
    """Deactivates an invite code (citizens it let in stay in)."""
    invite = _pilot_change(lambda session, actor: deactivate_code(session, actor, code))
    click.echo(f"Invite code {invite.code} is off.")


@pilot_code.command("list")
def pilot_code_list() -> None:
    """Lists the invite codes and how many citizens each let in."""
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
    region = current_runtime().settings.DEFAULT_REGION
    entry = _pilot_change(lambda session, actor: allow(session, actor, identity, label, region))
    click.echo(f"Allowed: {entry.channel} {entry.address}.")


@pilot_group.command("disallow")
@click.argument("identity")
def pilot_disallow(identity: str) -> None:
    """Removes a phone number or Telegram user id from the allowlist."""
    region = current_runtime().settings.DEFAULT_REGION
    removed = _pilot_change(lambda session, actor: disallow(session, actor, identity, region))
    click.echo("Removed from the allowlist." if removed else "It was not on the allowlist.")


@pilot_group.command("allowlist")
def pilot_allowlist() -> None:
    """Lists the allowlisted phone numbers and Telegram users."""
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
