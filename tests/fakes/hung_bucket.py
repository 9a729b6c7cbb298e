"""A bucket that hangs: a TCP port on loopback that accepts connections and never answers.

    with HungBucket() as bucket:       # S3_ENDPOINT_URL=bucket.endpoint_url
        ...                            # every request waits for ever
        bucket.heal(seaweed.endpoint_url)  # new connections reach the real bucket
        bucket.hang()                  # cuts them, and hangs again

Healed, it forwards bytes unchanged, so a request signed for its address is still good
(the bucket checks the signature over the Host the client sent). And a clock the test
moves by hand, for the breaker that guards such a bucket.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from urllib.parse import urlsplit


class HungBucket:
    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.target: tuple[str, int] | None = None
        self.connections = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def endpoint_url(self) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def heal(self, endpoint_url: str) -> None:
        """New connections go to this (real) bucket."""
        parts = urlsplit(endpoint_url)
        self.target = (parts.hostname, parts.port)

    def hang(self) -> None:
        """Cuts every connection and holds new ones unanswered."""
        self.target = None
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._open.clear()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with self._lock:
                self._open.append(conn)
            if self.target is not None:
                upstream = socket.create_connection(self.target)
                with self._lock:
                    self._open.append(upstream)
                threading.Thread(target=self._pipe, args=(conn, upstream), daemon=True).start()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        other = {client: upstream, upstream: client}
        with contextlib.suppress(OSError, ValueError):
            while not self._stopped.is_set():
                readable, _, _ = select.select(list(other), [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        client.close()  # one side is done: so is the other
                        upstream.close()
                        return
                    other[sock].sendall(data)

    def __enter__(self) -> HungBucket:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopped.set()
        self.hang()
        self._thread.join(timeout=5)
        self.listener.close()


class ManualClock:
    """A monotonic clock that moves only when told (Breaker(clock=...))."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
