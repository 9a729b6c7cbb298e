"""`webleads privacy`: personal data, the retention purge."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from services.privacy import purge
from services.runtime import current_runtime


@click.group("privacy", cls=AppGroup)
def privacy_group() -> None:
    """Personal data: the retention purge (docs/privacy.md)."""


@privacy_group.command("purge")
def privacy_purge() -> None:
    """Forgets identities past RETENTION_DAYS and trims the message logs (idempotent)."""
    rt = current_runtime()
    click.echo(f"Retention: {rt.settings.RETENTION_DAYS} day(s). {purge(rt)}")
