"""`webleads api-key`: the keys of the town's other tools (Open311 clients)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from models.api_key import KeyView, all_keys
from services.admin import AdminError, create_api_key, revoke_api_key
from services.audit import Actor
from services.runtime import current_runtime


@click.group("api-key", cls=AppGroup)
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
    with current_runtime().db.transaction() as session:
        revoked = revoke_api_key(session, Actor.command_line(), name)
    if not revoked:
        raise click.ClickException(f"No active key named {name!r}.")
    click.echo(f"Key {name} revoked.")
