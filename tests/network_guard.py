"""Fails any network call made while a database transaction is open in the same thread.

A transaction held across an HTTP call keeps SQLite's one write lock (every other
citizen waits) and a PostgreSQL connection busy for as long as the other service takes.
The guard counts open transactions per thread (SQLAlchemy's begin/commit/rollback
events, on every engine) and checks every outgoing connection: Python sockets (requests,
urllib3, geopy, twilio) and the Telegram client's calls, which run on its own event loop
thread on behalf of the caller.
"""

from __future__ import annotations

import socket
import threading
import traceback

from sqlalchemy import event
from sqlalchemy.engine import Engine

_state = threading.local()
violations: list[str] = []


def _depth() -> int:
    return getattr(_state, "depth", 0)


def _begin(_conn) -> None:
    _state.depth = _depth() + 1


def _end(_conn) -> None:
    _state.depth = max(_depth() - 1, 0)


def check(what: str) -> None:
    """Records a violation when the current thread holds a transaction."""
    if _depth() > 0:
        stack = "".join(traceback.format_stack(limit=12)[:-2])
        violations.append(f"{what} while a database transaction is open:\n{stack}")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        check(f"socket connect to {address}")
    return _real_connect(self, address)


def _connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        check(f"socket connect to {address}")
    return _real_connect_ex(self, address)


def install() -> None:
    """Starts watching (once per test session)."""
    if getattr(install, "done", False):
        return
    event.listen(Engine, "begin", _begin)
    event.listen(Engine, "commit", _end)
    event.listen(Engine, "rollback", _end)
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]

    from webhooks.telegram.client import TelegramClient

    real_submit = TelegramClient.submit

    def submit(self, fn):
        check("a Telegram Bot API call")
        return real_submit(self, fn)

    TelegramClient.submit = submit  # type: ignore[method-assign]
    install.done = True  # type: ignore[attr-defined]


def take() -> list[str]:
    """Returns and forgets the violations seen so far."""
    found = violations[:]
    violations.clear()
    return found
