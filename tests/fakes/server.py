"""The HTTP server both stand-ins (Telegram, Twilio) run on: loopback, threads, one write.

A subclass answers `handle(request)` with a `Response`; this base binds a free loopback
port (or the one given), serves in a daemon thread, tracks open keep-alive connections
so `stop` and `set_down` can cut them, and writes each answer at once: status line,
headers and body in one segment, with TCP_NODELAY. Split writes (or Nagle) meet the
client's delayed ACK and cost ~40 ms a call (bench/telegram_fake.py measures it).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One HTTP request as the stand-in sees it."""

    method: str
    path: str  # without the query string
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Response:
    """One HTTP answer; Content-Length and Date are added when it is written."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """A threaded HTTP server on loopback: start/stop, context manager, set_down."""

    name = "fake"
    server_version = "Fake/1.0"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._lock = threading.RLock()
        # Notified whenever a subclass records something (wait_until, long polls).
        self._changed = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._down = False

    def handle(self, request: Request) -> Response:
        """Answer one request (called from the server's threads)."""
        raise NotImplementedError

    def internal_error(self) -> Response:
        """The answer when `handle` raised: a bug in the stand-in, said loudly."""
        return Response(500, b"Internal Server Error", "text/plain")

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind (a free port unless `port` was given) and serve in a daemon thread."""
        with self._lock:
            if self._server is None:
                self._serve()
                self._down = False
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection."""
        with self._lock:
            self._changed.notify_all()
            self._shutdown()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, the root clients are pointed at."""
        if not self.port:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def serving(self) -> bool:
        """False once stopped or set down (a long poll then ends)."""
        return self._server is not None

    def set_down(self, down: bool = True) -> None:
        """Make the service unreachable (True) or reachable again (False).

        Down closes the listening socket and every open connection: clients get
        "connection refused" / "connection reset", as in a network outage. Up
        listens again on the same port; recorded state is kept.
        """
        with self._lock:
            if down and not self._down:
                self._changed.notify_all()
                self._shutdown()
            elif not down and self._down:
                self._serve()
            self._down = down

    def _serve(self) -> None:
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        # Keep the port: set_down(False) must come back where clients point.
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def _shutdown(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Pooled keep-alive connections would otherwise keep being served.
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._connections.clear()
        if thread is not None:
            thread.join(timeout=5)

    def _track(self, connection: socket.socket, server: _Server, open_: bool) -> None:
        with self._lock:
            if not open_:
                self._connections.discard(connection)
            elif server is self._server:
                self._connections.add(connection)
            else:
                # Accepted just before set_down()/stop(): refuse it like the rest.
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    # -- for the subclasses' wait_for ------------------------------------------------------

    def _wait_until(self, found: Callable[[], T], enough: Callable[[T], bool], timeout: float) -> T:
        """Re-evaluate `found` (under the lock) at each change until `enough`, or time out."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = found()
                remaining = deadline - time.monotonic()
                if enough(result) or remaining <= 0:
                    return result
                self._changed.wait(remaining)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # stop() shuts open connections itself; do not wait for their threads.
    block_on_close = False
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up, or set_down cutting it, is not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive with a Content-Length on every answer, like the real services.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, self.server, True)

    def finish(self) -> None:
        self.server.fake._track(self.connection, self.server, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.server.fake
        # Read the body first, whatever the answer: keep-alive needs it consumed.
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path, parts.query, self.headers, body)
        try:
            response = fake.handle(request)
        except Exception:
            traceback.print_exc()
            response = fake.internal_error()
        self._write(response, fake.server_version)

    def _write(self, response: Response, server_version: str) -> None:
        lines = [
            f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}",
            f"Server: {server_version}",
            f"Date: {formatdate(usegmt=True)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            *(f"{name}: {value}" for name, value in response.headers.items()),
            f"Connection: {'close' if self.close_connection else 'keep-alive'}",
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # One write: headers and body in one segment (see the module docstring).
        self.wfile.write(head + response.body)
