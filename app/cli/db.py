"""`webleads init-db`: the database's schema."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from models import migrate
from services.runtime import current_runtime


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Migrates the database to the latest schema."""
    rt = current_runtime()
    migrate.upgrade(rt.db.engine)
    click.echo(f"Database ready at revision {migrate.current_revision(rt.db.engine)}.")
