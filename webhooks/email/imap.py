"""The worker's loop over the town's mailbox (MAIL_IMAP_URL): unseen messages are read,
handed to the engine, and only then flagged \\Seen; IMAP IDLE waits for the next one where
the server offers it, else the mailbox is polled.

A restart loses nothing (a message is \\Seen only once stored) and repeats nothing (the
engine dedupes on the Message-ID). Several workers may watch one mailbox: the same dedupe
lets only one of them handle a message.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from imapclient import SEEN, IMAPClient
from imapclient.exceptions import IMAPClientError

from services.runtime import Runtime
from webhooks.email.receive import TRY_LATER, receive

log = logging.getLogger(__name__)

POLL_SECONDS = 60.0  # without IDLE
IDLE_RENEW_SECONDS = 600.0  # servers drop an IDLE after about 30 minutes (RFC 2177)
IDLE_CHECK_SECONDS = 1.0  # how soon a stop is noticed while idling
RETRY_SECONDS = 15.0
TIMEOUT_SECONDS = 30.0


class MailboxConfigError(ValueError):
    """MAIL_IMAP_URL cannot be used; the message says why."""


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    ssl: bool
    starttls: bool
    user: str
    password: str
    folder: str

    @classmethod
    def from_url(cls, url: str) -> Mailbox:
        """imaps://user:pass@host/INBOX, imap+starttls://…, imap://… (loopback tests)."""
        parts = urlsplit(url)
        kind = {"imaps": "ssl", "imap+starttls": "starttls", "imap": "plain"}.get(parts.scheme)
        if kind is None or not parts.hostname or not parts.username:
            raise MailboxConfigError(
                "MAIL_IMAP_URL must look like imaps://user:password@host/INBOX"
            )
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if kind == "ssl" else 143),
            ssl=kind == "ssl",
            starttls=kind == "starttls",
            user=unquote(parts.username),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.strip("/")) or "INBOX",
        )

    def connect(self) -> IMAPClient:
        context = ssl.create_default_context()
        client = IMAPClient(
            self.host, port=self.port, ssl=self.ssl, ssl_context=context, timeout=TIMEOUT_SECONDS
        )
        if self.starttls:
            client.starttls(context)
        client.login(self.user, self.password)
        return client


def watch_mailbox(rt: Runtime, stop: threading.Event) -> None:
    """Reads the mailbox until `stop` is set; a lost connection is opened again."""
    if not rt.settings.MAIL_IMAP_URL:
        return
    try:
        mailbox = Mailbox.from_url(rt.settings.MAIL_IMAP_URL)
    except MailboxConfigError as exc:
        log.error("e-mail: %s", exc)
        return
    while not stop.is_set():
        try:
            client = mailbox.connect()
        except (IMAPClientError, OSError) as exc:
            log.warning("e-mail: cannot open the mailbox %s: %s", mailbox.host, exc)
            stop.wait(RETRY_SECONDS)
            continue
        try:
            _watch(rt, client, mailbox.folder, stop)
        except (IMAPClientError, OSError) as exc:
            log.warning("e-mail: the mailbox connection was lost: %s", exc)
            stop.wait(RETRY_SECONDS)
        finally:
            with contextlib.suppress(IMAPClientError, OSError):
                client.logout()


def _watch(rt: Runtime, client: IMAPClient, folder: str, stop: threading.Event) -> None:
    client.select_folder(folder)
    idle = client.has_capability("IDLE")
    while not stop.is_set():
        if not fetch_unseen(rt, client):
            stop.wait(RETRY_SECONDS)  # the database is away: the messages stay unseen
            continue
        if idle:
            _idle(client, stop)
        else:
            stop.wait(POLL_SECONDS)


def fetch_unseen(rt: Runtime, client: IMAPClient) -> bool:
    """Handles every unseen message, oldest first; False when the database is away."""
    for uid in sorted(client.search(["UNSEEN"])):
        fetched = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
        if not fetched or b"BODY[]" not in fetched:
            continue  # expunged meanwhile
        try:
            outcome = receive(rt, fetched[b"BODY[]"])
        except TRY_LATER:
            log.warning("e-mail: database or photo store away; message %s left unseen", uid)
            return False
        except Exception:
            # A message that cannot be read would be read again at every round.
            log.exception("e-mail: message %s could not be handled; marked seen", uid)
            outcome = "failed"
        client.add_flags([uid], [SEEN])
        log.info("e-mail: message %s: %s", uid, outcome)
    return True


def _idle(client: IMAPClient, stop: threading.Event) -> None:
    """Waits for the server to say something arrived (or to renew the IDLE)."""
    client.idle()
    try:
        renew_at = time.monotonic() + IDLE_RENEW_SECONDS
        while not stop.is_set() and time.monotonic() < renew_at:
            if client.idle_check(timeout=IDLE_CHECK_SECONDS):
                return
    finally:
        client.idle_done()
