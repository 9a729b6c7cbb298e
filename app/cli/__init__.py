"""The `webleads` command line: a Flask CLI group, one module per group of commands.

This package holds the group itself (`main`, the channels' own groups found by their
spec) and registers the commands of its modules: db, demo, serve, users, crews, oncall,
reports, town, geo, media, bodies, pilot, records, nlu. Every command starts in well under
a second: the app is built only when a command runs (`--help` builds none), and what only
one command needs that is heavy (the zones' geometry, the web server, the worker's loops,
the object store, the sentence reader) is imported by that command.
bench/cli_startup.py measures it.
"""

from __future__ import annotations

import logging
import pkgutil
import re
from importlib.util import find_spec
from pathlib import Path

import click
from flask.cli import FlaskGroup, routes_command, shell_command

from app.cli import (
    bodies,
    crews,
    db,
    demo,
    geo,
    media,
    nlu,
    oncall,
    pilot,
    records,
    reports,
    serve,
    town,
    users,
)
from services import channels

# The commands that serve or list pages; every other one gets the app without them.
WEB_COMMANDS = {"run", "routes", "shell"}


def _create_app(*_args) -> object:

    from app.factory import create_app  # every channel's package: a command's own cost

    ctx = click.get_current_context(silent=True)
    command = ctx.info_name if ctx is not None else None
    return create_app(web=command in WEB_COMMANDS or command is None)


class WebleadsGroup(FlaskGroup):
    """Flask's group without its start-up costs: no app is built to list the commands (the
    app adds none), no plugin entry points are scanned, and a channel's own group
    (`webhooks/<channel>/cli.py`) is imported only when it is the command run."""

    _listing = False

    def _load_plugin_commands(self) -> None:
        self._loaded_plugin_commands = True

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_channel_command_names()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name not in _channel_command_names():
            return None
        if self._listing:  # `webleads --help`: a stand-in, not the channel's imports
            return click.Group(name, help=f"The {name} channel's commands.")
        return _channel_command(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


GROUP_NAME_RE = re.compile(r'@click\.group\(\s*"([a-z0-9-]+)"')


def _channel_command_names() -> list[str]:
    """The channels that bring commands of their own, found without importing them."""
    folders = find_spec("webhooks").submodule_search_locations or []
    names = []
    for module in pkgutil.iter_modules(folders):
        for folder in folders:
            path = Path(folder, module.name, "cli.py")
            if module.ispkg and path.exists():
                # The group's own name (the email package's is `mail`), read, not imported.
                named = GROUP_NAME_RE.search(path.read_text(encoding="utf-8"))
                names.append(named.group(1) if named else module.name)
                break
    return names


def _channel_command(name: str) -> click.Command | None:
    _register_channels()
    for channel in channels.all_channels():
        if channel.cli is not None and channel.cli.name == name:
            return channel.cli
    return None


def _register_channels() -> None:
    import webhooks  # noqa: F401  (each channel registers itself: services/channels.py)


@click.group(cls=WebleadsGroup, create_app=_create_app, add_default_commands=False)
@click.option("--verbose", is_flag=True, help="Show the log's notices (the geocoder in use...).")
def cli(verbose: bool) -> None:
    """webleads-tracker: the town's reporting bot and its console."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


cli.add_command(shell_command)
cli.add_command(routes_command)


for module in (db, demo, serve, users, crews, oncall, reports, town, geo, media, bodies, pilot,
               records, nlu):  # fmt: skip
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    cli(prog_name="webleads")


if __name__ == "__main__":
    main()
