"""`webleads audit`: the audit log of agents' actions, exported."""

from __future__ import annotations

import io
from pathlib import Path

import click
from flask.cli import AppGroup

from services.audit import export_csv
from services.runtime import current_runtime


@click.group("audit", cls=AppGroup)
def audit_group() -> None:
    """The audit log of agents' actions."""


@audit_group.command("export")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day included (YYYY-MM-DD, UTC).",
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day excluded (YYYY-MM-DD, UTC).",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="The CSV file ('-': the terminal).",
)
def audit_export(since, until, out_file: str) -> None:
    """Exports agents' actions (when, agent, report, action, from, to, messages) as CSV."""
    buffer = io.StringIO()
    with current_runtime().db.reading() as session:
        count = export_csv(
            session, buffer, since.date() if since else None, until.date() if until else None
        )
    if out_file == "-":
        click.echo(buffer.getvalue(), nl=False)
        return
    Path(out_file).write_text(buffer.getvalue(), encoding="utf-8", newline="")
    click.echo(f"{count} action(s) written to {out_file}.")
