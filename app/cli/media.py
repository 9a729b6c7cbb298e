"""`webleads media`: where the photos are kept."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from services.runtime import current_runtime
from services.storage import LocalStore, StoreError, migrate, store_from


@click.group("media", cls=AppGroup)
def media_group() -> None:
    """Where the photos are kept (MEDIA_STORAGE)."""


@media_group.command("migrate")
@click.option(
    "--to",
    "target",
    type=click.Choice(["s3", "local"]),
    required=True,
    help="s3: from MEDIA_DIR into the bucket; local: from the bucket into MEDIA_DIR.",
)
@click.option("--delete-source", is_flag=True, help="Remove each photo once the copy is whole.")
def media_migrate(target: str, delete_source: bool) -> None:
    """Copies every photo between MEDIA_DIR and the S3 bucket (run again to resume)."""
    settings = current_runtime().settings
    try:
        bucket = store_from(settings, MEDIA_STORAGE="s3")
    except StoreError as exc:
        raise click.ClickException(f"The bucket is not set up: {exc}") from exc
    local = LocalStore(settings.MEDIA_DIR)
    source, destination = (local, bucket) if target == "s3" else (bucket, local)
    try:
        done = migrate(source, destination, delete_source=delete_source)
    except StoreError as exc:
        raise click.ClickException(f"Stopped (run it again to resume): {exc}") from exc
    click.echo(
        f"{done.copied} photo(s) copied, {done.skipped} already there, "
        f"{done.deleted} removed from the source. Now set MEDIA_STORAGE={target}."
    )
