"""`webleads mail ...`: the e-mail channel's commands (`mail receive`, an MTA's pipe)."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from services.runtime import current_runtime
from webhooks.email.receive import TRY_LATER, receive

# sysexits.h: the MTA keeps the message and delivers it again later.
EX_TEMPFAIL = 75
MAX_MESSAGE_BYTES = 50 * 1024 * 1024


@click.group("mail")
def mail_cli() -> None:
    """E-mail: what residents write to the town's address."""


@mail_cli.command("receive")
@with_appcontext
def receive_command() -> None:
    """Reads one e-mail on standard input (an MTA's alias pipe) and answers it."""
    raw = sys.stdin.buffer.read(MAX_MESSAGE_BYTES + 1)
    if len(raw) > MAX_MESSAGE_BYTES:
        click.echo("message too large", err=True)
        sys.exit(1)  # the MTA bounces it to its sender
    try:
        outcome = receive(current_runtime(), raw)
    except TRY_LATER as exc:
        click.echo(f"unavailable, try again later: {exc}", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(outcome)
