"""Wakes a worker in another process when messages are queued, on SQLite.

PostgreSQL has LISTEN/NOTIFY. SQLite lives on one machine, so a Unix datagram socket next
to the database file does the same: the web process sends one empty datagram after each
commit that queued messages (a few microseconds, never blocking), the worker waits on it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
from pathlib import Path

from sqlalchemy.engine import make_url


@functools.cache
def socket_path(database_url: str) -> Path | None:
    """The wake-up socket of a SQLite database (None for other databases or :memory:)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).resolve()
    candidate = path.with_name(path.name + ".wake")
    # AF_UNIX paths are limited to ~107 bytes: fall back to a short name in /tmp.
    if len(str(candidate)) > 100:
        import hashlib

        digest = hashlib.sha1(str(path).encode()).hexdigest()[:16]
        candidate = Path("/tmp") / f"webleads-{digest}.wake"
    return candidate


_sender: socket.socket | None = None


def ping(path: Path | None) -> None:
    """Tells the worker (if one listens) that there is something to send."""
    global _sender
    if path is None:
        return
    if _sender is None:  # one socket per process: sendto() is safe from any thread
        _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        _sender.setblocking(False)
    with contextlib.suppress(OSError):  # no worker listening, or its queue is full
        _sender.sendto(b"", str(path))


class Listener:
    """The worker's end: a bound datagram socket to wait on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.sock.bind(str(path))
        except OSError:
            # A file left by a worker that died; if another worker is alive and bound,
            # it keeps working by polling, which is what SQLite allows anyway (one worker).
            with contextlib.suppress(OSError):
                os.unlink(path)
            self.sock.bind(str(path))
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while True:
                self.sock.recv(16)

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
