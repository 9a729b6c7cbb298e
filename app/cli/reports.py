"""`webleads report` and `webleads remind`: a report's status and publication, the
followers' reminders."""

from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext

from models.agent import agent_by_email
from models.messaging import messages_for_report
from services import moderation, reports
from services.feedback import remind_silent_reports
from services.runtime import current_runtime


@click.group("report", cls=AppGroup)
def report_group() -> None:
    """Reports: change their status from the command line."""


@report_group.command("set-status")
@click.argument("ref")
@click.argument("status")
@click.option("--message", default=None, help="Public words for the citizen.")
@click.option("--note", default=None, help="Internal note, never sent.")
@click.option("--agent", "agent_email", default=None, help="The agent making the change.")
@click.option("--duplicate-of", default=None, help="With STATUS duplicate: the report it repeats.")
def set_status(
    ref: str,
    status: str,
    message: str | None,
    note: str | None,
    agent_email: str | None,
    duplicate_of: str | None,
) -> None:
    """Moves report REF (1042 or #1042) to STATUS and tells its followers."""
    rt = current_runtime()
    try:
        number = reports.parse_ref(ref)
        target = reports.parse_ref(duplicate_of) if duplicate_of else None
        with rt.db.transaction() as session:
            agent_id = None
            if agent_email:
                agent = agent_by_email(session, agent_email)
                if agent is None:
                    raise reports.ReportError(f"No agent {agent_email}.")
                agent_id = agent.id
            event = reports.change_status(
                session,
                number,
                status.strip().lower(),
                message=message,
                note=note,
                agent_id=agent_id,
                duplicate_of=target,
            )
            queued = [m for m in messages_for_report(session, number) if m.event_id == event.id]
    except reports.ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    rt.wake_worker()
    click.echo(
        f"#{number}: {event.from_status} -> {event.to_status}; "
        f"{len(queued)} message(s) queued for the followers."
    )


def _moderate(ref: str, change, said: str) -> None:
    rt = current_runtime()
    try:
        number = reports.parse_ref(ref)
        with rt.db.transaction() as session:
            change(session, number, agent_id=None)
    except reports.ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"#{number}: {said}")


@report_group.command("publish")
@click.argument("ref")
def report_publish(ref: str) -> None:
    """Puts report REF on the public site with its citizen's words (as the console does)."""
    _moderate(ref, moderation.publish, "public, with the citizen's words.")


@report_group.command("hide")
@click.argument("ref")
def report_hide(ref: str) -> None:
    """Takes report REF off the public site (its page answers 404, Open311 too)."""
    _moderate(ref, moderation.hide, "hidden from the public site.")


@click.command("remind")
@with_appcontext
def remind_command() -> None:
    """Tells the followers of reports silent past their SLA that they are still handled."""
    rt = current_runtime()
    count = remind_silent_reports(rt)
    rt.wake_worker()
    click.echo(f"{count} report(s) past their SLA: followers told they are still handled.")
