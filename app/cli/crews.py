"""`webleads agent`: field crews, an agent's chat linked to their account, the heads of
service and their morning digest."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from models.agent import agent_by_email
from models.catalog import service_by_code
from services import crew_digest, crew_links
from services.runtime import current_runtime


@click.group("agent", cls=AppGroup)
def agent_group() -> None:
    """Field crews: link an agent's chat app to their account."""


@agent_group.command("link-code")
@click.argument("email")
def agent_link_code(email: str) -> None:
    """Prints a one-time code (10 minutes) that links a chat to that agent."""
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
