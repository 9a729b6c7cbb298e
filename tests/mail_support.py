"""A real SMTP server (aiosmtpd) on a loopback port, keeping what it receives.

The product sends to it exactly as it would to the town's server; tests read the
messages back as parsed e-mails.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage


def _import_aiosmtpd():
    """aiosmtpd imports `public` from atpublic, a name our public site's package holds.

    It is loaded under that name only while aiosmtpd imports, then the name is given back.
    """
    import importlib.util
    import sys
    import sysconfig
    from pathlib import Path

    before = set(sys.modules)
    ours = sys.modules.pop("public", None)
    folder = Path(sysconfig.get_paths()["purelib"]) / "public"
    spec = importlib.util.spec_from_file_location(
        "public", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    atpublic = importlib.util.module_from_spec(spec)
    sys.modules["public"] = atpublic
    try:
        spec.loader.exec_module(atpublic)
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import Envelope
    finally:
        for name in set(sys.modules) - before:
            if name == "public" or name.startswith("public."):
                del sys.modules[name]
        if ours is not None:
            sys.modules["public"] = ours
    return Controller, Envelope


Controller, Envelope = _import_aiosmtpd()


class _Keeper:
    def __init__(self) -> None:
        self.received: list[tuple[Envelope, EmailMessage]] = []
        self.lock = threading.Lock()
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append((envelope, message))
        return "250 Message accepted for delivery"


class SmtpSink:
    """`start()`, then `url` for SMTP_URL; `messages()` what arrived; `clear()` between tests."""

    def __init__(self) -> None:
        self._keeper = _Keeper()
        with socket.socket() as probe:  # a free loopback port (aiosmtpd needs it known)
            probe.bind(("127.0.0.1", 0))
            free_port = probe.getsockname()[1]
        self._controller = Controller(self._keeper, hostname="127.0.0.1", port=free_port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def refuse(self, address: str) -> None:
        """Answers 550 for that recipient from now on (a mailbox that does not exist)."""
        self._keeper.refuse.add(address.lower())

    def clear(self) -> None:
        with self._keeper.lock:
            self._keeper.received.clear()
            self._keeper.refuse.clear()

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        with self._keeper.lock:
            found = list(self._keeper.received)
        return [
            m
            for envelope, m in found
            if to is None or to.lower() in map(str.lower, envelope.rcpt_tos)
        ]

    def wait_for(self, count: int, *, to: str | None = None, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(to)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(
            f"expected {count} e-mails to {to or 'anyone'}, got {self.messages(to)}"
        )
