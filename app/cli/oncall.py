"""`webleads oncall`: who is paged about urgent reports out of a service's hours."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from models.agent import Agent, agent_by_email
from models.catalog import all_services, service_by_code
from models.db import utcnow
from models.oncall import all_shifts, setting_of
from services import oncall
from services.audit import Actor
from services.runtime import current_runtime


@click.group("oncall", cls=AppGroup)
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
