"""`webleads create-agent`: the console's agents."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from services.agents import AgentError, save_agent
from services.audit import Actor
from services.runtime import current_runtime


@click.command("create-agent")
@click.argument("email")
@click.option("--password", help="Prompted for (hidden) when left out.")
@click.option("--role", type=click.Choice(["admin", "agent"]), default="agent", show_default=True)
@click.option("--service", "services", multiple=True, help="Service code; repeat for several.")
@click.option("--name", default="", help="Display name.")
@with_appcontext
def create_agent(
    email: str, password: str | None, role: str, services: tuple[str, ...], name: str
) -> None:
    """Creates an agent, or updates the password, role and services of an existing one."""
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
