"""A real IMAP server (Debian's dovecot) on a free loopback port, for the test session.

Its own configuration in a temporary folder: one passwd-file user, maildir, plaintext
login on loopback, no TLS. Dovecot drops root's rights for its processes; as root the
whole server runs as the `dovecot` account (as PostgreSQL runs as `postgres`), otherwise
as the user running the tests. Messages are delivered with IMAP APPEND, as a mail
server's delivery agent would put them in the mailbox.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "town", "s3cret"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  user = {user}
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service auth {{
  user = {user}
}}
service auth-worker {{
  user = {user}
}}
service anvil {{
  chroot =
}}
"""


def dovecot_available() -> bool:
    return Path(DOVECOT).exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Dovecot:
    """`start()`, then `url(folder)` for MAIL_IMAP_URL, `deliver(bytes)`, `seen()`."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="webleads-imap-"))
        account = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        self.account = account
        self.pidfile = self.root / "run" / "master.pid"

    def start(self) -> Dovecot:
        for folder in ("run", "state", "mail"):
            (self.root / folder).mkdir()
        group = _group_name(self.account.pw_gid)
        (self.root / "dovecot.conf").write_text(
            CONFIG.format(root=self.root, user=self.account.pw_name, group=group, port=self.port)
        )
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        for path in [self.root, *self.root.rglob("*")]:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)
        command = [DOVECOT, "-c", str(self.root / "dovecot.conf")]
        if os.geteuid() == 0:
            command = ["runuser", "-u", self.account.pw_name, "--", *command]
        # The master forks into the background: its output goes to the log, not to pipes
        # this process would wait on.
        subprocess.run(
            command,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen: {self.log()}")

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, 15)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # raises once the master is gone
                time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def url(self, folder: str = "INBOX") -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{folder}"

    def client(self, folder: str = "INBOX") -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        client.select_folder(folder)
        return client

    def make_folder(self, name: str) -> str:
        """A fresh mailbox folder for one test (the session's server is shared)."""
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        client.create_folder(name)
        client.logout()
        return name

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """Puts a message in the mailbox, unseen, as the mail server delivers it."""
        client = self.client(folder)
        client.append(folder, raw)
        client.logout()

    def unseen(self, folder: str = "INBOX") -> list[int]:
        client = self.client(folder)
        try:
            return client.search(["UNSEEN"])
        finally:
            client.logout()


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name
