"""`webleads run` and `webleads worker`: the web server with its background threads, the
worker alone."""

from __future__ import annotations

import logging
import threading

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from app import background
from services.runtime import current_runtime


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run_command(host: str, port: int) -> None:
    """Runs the web server, the outbox worker and (if set) Telegram polling, in one process."""
    app = current_app._get_current_object()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    background.start_all(app, stop)
    click.echo(f"Console: http://{host}:{port}/console/  (health: /healthz)")
    try:
        # Not app.run(): Flask ignores it when called from its own CLI.
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        stop.set()


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Runs the outbox worker alone (production: one or more next to the web server)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    try:
        background.run_worker(current_runtime(), stop)
    except KeyboardInterrupt:
        stop.set()
