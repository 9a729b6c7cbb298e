"""What the engine, the worker and the channels share in one process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import current_app

from models.db import Database
from services.catalog import CatalogCache
from services.config import Settings
from services.wakeup import ping, socket_path


@dataclass
class Runtime:
    settings: Settings
    db: Database
    catalog: CatalogCache = field(default_factory=CatalogCache)
    geocoder: object = None  # services.geo.Geocoder
    # Set when new outbox messages are committed, so a worker in this process wakes now.
    outbox_ready: threading.Event = field(default_factory=threading.Event)
    # Set when jobs (bot/jobs.py) may be waiting, so the job runner looks now.
    jobs_ready: threading.Event = field(default_factory=threading.Event)
    senders: dict = field(default_factory=dict)  # channel -> sender

    def wake_worker(self) -> None:
        """Wakes the worker (messages, jobs): in this process, and in another on SQLite."""
        self.outbox_ready.set()
        self.jobs_ready.set()
        ping(socket_path(self.db.url))


def current_runtime() -> Runtime:
    return current_app.extensions["webleads"]
