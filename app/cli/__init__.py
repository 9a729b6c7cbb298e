"""The `webleads` command line: a Flask CLI group, one module per group of commands.

This package holds the group itself (`main`) and finds its commands: each module of
COMMAND_MODULES holds one group (or a few top-level commands) and imports what its
commands use at its top; a channel brings its own group through its spec (`webleads
telegram`, `webleads mail`: webhooks/<channel>/cli.py). Every command starts in well under
a second: only the module of the command run is imported, `--help` reads the commands'
names and words from the modules' source, and the app is built only when a command runs
(`--help` builds none). bench/cli_startup.py measures it.
"""

from __future__ import annotations

import ast
import functools
import importlib
import logging
import pkgutil
import re
from importlib.util import find_spec
from pathlib import Path

import click
from flask.cli import FlaskGroup, routes_command, shell_command

from services import channels

# The commands that serve or list pages; every other one gets the app without them.
WEB_COMMANDS = {"run", "routes", "shell"}


def _create_app(*_args) -> object:
    from app.factory import create_app  # every channel's package: not for `--help`

    ctx = click.get_current_context(silent=True)
    command = ctx.info_name if ctx is not None else None
    return create_app(web=command in WEB_COMMANDS or command is None)


class WebleadsGroup(FlaskGroup):
    """Flask's group without its start-up costs: no app is built to list the commands (the
    app adds none), no plugin entry points are scanned, and a command's module (one of
    this package's, or a channel's `webhooks/<channel>/cli.py`) is imported only when it
    is the command run."""

    _listing = False

    def _load_plugin_commands(self) -> None:
        self._loaded_plugin_commands = True

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_our_commands(), *_channel_command_names()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name in _our_commands():
            module, function, help_text = _our_commands()[name]
            if self._listing:  # `webleads --help`: its words, read, not its module's imports
                return click.Command(name, help=help_text)
            return getattr(importlib.import_module(f"app.cli.{module}"), function)
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


# This package's modules, one per group of commands (or a few top-level commands).
COMMAND_MODULES = (
    "db", "demo", "serve", "users", "crews", "oncall", "reports", "zones", "communes", "geo",
    "media", "bodies", "pilot", "launchkit", "apikeys", "privacy", "audit", "nlu",
)  # fmt: skip


@functools.cache
def _our_commands() -> dict[str, tuple[str, str, str]]:
    """Each top-level command (`@click.command("name")`, `@click.group("name")`) of this
    package: its module, its function and its help, read from the source, not imported."""
    found = {}
    for module in COMMAND_MODULES:
        source = Path(__file__).with_name(f"{module}.py").read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            for decorator in getattr(node, "decorator_list", []):
                if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) in (
                    "click.command",
                    "click.group",
                ):
                    found[decorator.args[0].value] = (module, node.name, ast.get_docstring(node))
    return found


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


def main() -> None:
    cli(prog_name="webleads")


if __name__ == "__main__":
    main()
