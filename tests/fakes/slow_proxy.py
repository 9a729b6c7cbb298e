"""A forwarding HTTP proxy on loopback that answers some paths late.

Put in front of a real addok (or a provider stand-in), it makes a geocoder that answers
after 1.5 s or a media server that takes 2 s, without changing what they answer.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class SlowProxy:
    """`delays` maps a path regex to seconds; the first match is waited before forwarding."""

    def __init__(self, target: str, delays: dict[str, float]) -> None:
        self.target = target.rstrip("/")
        self.delays = [(re.compile(pattern), seconds) for pattern, seconds in delays.items()]
        self.requests: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                proxy._forward(self)

            do_POST = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> SlowProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append(handler.path)
        for pattern, seconds in self.delays:
            if pattern.search(handler.path):
                time.sleep(seconds)
                break
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_HEADERS}
        request = urllib.request.Request(
            self.target + handler.path, data=body, headers=headers, method=handler.command
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, data, answer_headers = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as error:
            status, data, answer_headers = error.code, error.read(), error.headers
        head = [f"HTTP/1.1 {status} {handler.responses.get(status, ('',))[0]}\r\n"]
        for key, value in answer_headers.items():
            if key.lower() not in HOP_HEADERS:
                head.append(f"{key}: {value}\r\n")
        head.append(f"Content-Length: {len(data)}\r\n\r\n")
        # One write per answer: a split one would wait on the client's delayed ACK.
        handler.wfile.write("".join(head).encode("latin-1") + data)
