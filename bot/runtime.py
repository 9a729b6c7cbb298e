"""What the engine, the worker and the channels share in one process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import current_app

from bot.catalog import CatalogCache
from bot.config import Settings
from bot.wakeup import ping, socket_path
from models.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database
    catalog: CatalogCache = field(default_factory=CatalogCache)
    geocoder: object = None  # bot.geo.Geocoder
    # Set when new outbox messages are committed, so a worker in this process wakes now.
    outbox_ready: threading.Event = field(default_factory=threading.Event)
    senders: dict = field(default_factory=dict)  # channel -> sender

    def wake_worker(self) -> None:
        """Wakes the outbox worker: in this process, and in another one on SQLite."""
        self.outbox_ready.set()
        ping(socket_path(self.db.url))


def current_runtime() -> Runtime:
    return current_app.extensions["webleads"]
