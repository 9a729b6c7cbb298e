"""A real SMTP server (aiosmtpd) on a loopback port, keeping what it receives.

The product sends to it exactly as it would to the town's server; tests read the
messages back as parsed e-mails. The server runs in its own process under the system's
Python (tests/fakes/smtp_server.py, Debian's python3-aiosmtpd), because aiosmtpd's
dependency installs a module named `public`, which is this product's public site.
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socket
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

SERVER = Path(__file__).parent / "fakes" / "smtp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def system_aiosmtpd() -> bool:
    """Whether the system's Python has aiosmtpd (Debian's python3-aiosmtpd)."""
    found = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import aiosmtpd"], capture_output=True, check=False
    )
    return found.returncode == 0


class SmtpSink:
    """`start()`, then `url` for SMTP_URL; `messages()` what arrived; `clear()` between tests."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="smtp-"))
        with socket.socket() as probe:  # a free loopback port
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._process: subprocess.Popen | None = None

    def start(self) -> SmtpSink:
        self._process = subprocess.Popen(
            [SYSTEM_PYTHON, "-I", str(SERVER), str(self.port), str(self.folder)],
            cwd=self.folder,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._process.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP server did not start (is python3-aiosmtpd installed?)")
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def refuse(self, address: str) -> None:
        """Answers 550 for that recipient from now on (a mailbox that does not exist)."""
        with (self.folder / "refused").open("a", encoding="utf-8") as listed:
            listed.write(address.lower() + "\n")

    def clear(self) -> None:
        for path in self.folder.iterdir():
            path.unlink()

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        found = []
        for path in sorted(self.folder.glob("*.json")):
            kept = json.loads(path.read_text(encoding="utf-8"))
            if to is None or to.lower() in (r.lower() for r in kept["rcpt"]):
                raw = kept["data"].encode("latin-1")
                found.append(email.message_from_bytes(raw, policy=email.policy.default))
        return found

    def wait_for(self, count: int, *, to: str | None = None, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(to)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        got = self.messages(to)
        raise AssertionError(f"expected {count} e-mails to {to or 'anyone'}, got {got}")
