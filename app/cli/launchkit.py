"""`webleads launch-kit`: the printed kit (poster, flyer, agents' guide) that opens the
service."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from services.launchkit import LaunchKitError, kit_for, kits_for, write_kit
from services.runtime import current_runtime
from services.texts import fold


@click.command("launch-kit")
@click.option(
    "--out", "out_dir", default="launch-kit", show_default=True, type=click.Path(file_okay=False)
)
@click.option(
    "--code",
    default=None,
    help="The invite code for the Telegram QR code "
    "(default: the pilot's first active code, while it restricts groups).",
)
@click.option(
    "--commune",
    default=None,
    metavar="INSEE",
    help="Only this commune's kit (several communes; default: the intercommunalité's kit "
    "and one per commune, in subfolders).",
)
@with_appcontext
def launch_kit(out_dir: str, code: str | None, commune: str | None) -> None:
    """Writes the A4 poster, the A5 flyer and the agents' guide (PDF, French)."""
    rt = current_runtime()
    try:
        code = fold(code) if code else None
        kits = {"": kit_for(rt, code, commune)} if commune else kits_for(rt, code)
        written = {folder: write_kit(kit, Path(out_dir, folder)) for folder, kit in kits.items()}
    except LaunchKitError as exc:
        raise click.ClickException(str(exc)) from exc
    for folder, paths in written.items():
        if len(written) > 1:
            click.echo(f"{kits[folder].town}:")
        for path in paths.values():
            click.echo(f"Wrote {path}")
    kit = kits[""]
    for label, url in ((invite.label, invite.url) for invite in kit.invites):
        if url:
            click.echo(f"{label} QR code: {url}")
