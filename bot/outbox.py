"""The outbox worker: sends queued messages through each channel's sender, with retries."""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta
from typing import Protocol

from bot.runtime import Runtime
from models.citizen import update_citizen
from models.db import utcnow
from models.messaging import (
    FAILED,
    Outbox,
    cancel_queued_for,
    claim_due,
    mark_dead,
    mark_retry,
    mark_sent,
)

log = logging.getLogger(__name__)

BASE_DELAY = 5.0  # seconds before the first retry
MAX_DELAY = 3600.0
LEASE = timedelta(minutes=2)


class TemporaryFailure(Exception):
    """The provider may accept the message later (network, 5xx, 429)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The provider will never deliver to this citizen (blocked, unsubscribed, invalid)."""

    def __init__(self, reason: str, citizen_flag: str | None = None) -> None:
        super().__init__(reason)
        # "unreachable" or "opted_out": what it says about the citizen, if anything.
        self.citizen_flag = citizen_flag


class Sender(Protocol):
    channel: str

    def send(self, message: Outbox) -> str | None:
        """Sends one message; returns the provider's message id."""


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait before the next try: exponential with jitter, or as told."""
    if retry_after is not None:
        return float(retry_after)
    delay = min(BASE_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)
    return delay * random.uniform(0.5, 1.5)


class OutboxWorker:
    def __init__(self, rt: Runtime, senders: dict[str, Sender], *, batch: int = 50) -> None:
        self.rt = rt
        self.senders = senders
        self.batch = batch
        self.max_attempts = rt.settings.OUTBOX_MAX_ATTEMPTS

    def run_once(self) -> int:
        """Sends one batch of due messages; returns how many were tried."""
        if not self.senders:
            return 0
        with self.rt.db.transaction() as session:
            messages = claim_due(
                session, channels=list(self.senders), limit=self.batch, lease=LEASE
            )
        held: set[int] = set()  # citizens whose earlier message failed: keep their order
        for message in messages:
            if message.citizen_id in held:
                self._record(lambda s, m=message: mark_retry(s, m.id, utcnow(), "waiting"))
                continue
            if not self._deliver(message):
                held.add(message.citizen_id)
        return len(messages)

    def _deliver(self, message: Outbox) -> bool:
        sender = self.senders[message.channel]
        try:
            provider_id = sender.send(message)
        except TemporaryFailure as exc:
            self._retry_or_bury(message, str(exc), exc.retry_after)
            return False
        except PermanentFailure as exc:
            self._give_up(message, exc)
            return False
        except Exception as exc:  # a bug in a sender must not stop the others
            log.exception("sending outbox message %s failed", message.id)
            self._retry_or_bury(message, f"{type(exc).__name__}: {exc}", None)
            return False
        self._record(lambda s: mark_sent(s, message.id, provider_id))
        return True

    def _retry_or_bury(self, message: Outbox, reason: str, retry_after: float | None) -> None:
        if message.attempts >= self.max_attempts:
            log.warning(
                "outbox message %s is dead after %s tries: %s", message.id, message.attempts, reason
            )
            self._record(lambda s: mark_dead(s, message.id, reason))
            return
        when = utcnow() + timedelta(seconds=backoff(message.attempts, retry_after))
        self._record(lambda s: mark_retry(s, message.id, when, reason))

    def _give_up(self, message: Outbox, exc: PermanentFailure) -> None:
        def record(session):
            mark_dead(session, message.id, str(exc), status=FAILED)
            if exc.citizen_flag:
                update_citizen(session, message.citizen_id, **{exc.citizen_flag: True})
                cancel_queued_for(session, message.citizen_id, str(exc))

        self._record(record)

    def _record(self, change) -> None:
        with self.rt.db.transaction() as session:
            change(session)

    def run_forever(self, stop: threading.Event, idle_wait: float = 2.0) -> None:
        """Sends until `stop` is set; wakes at once when the engine queues a message."""
        while not stop.is_set():
            try:
                tried = self.run_once()
            except Exception:
                log.exception("outbox batch failed; retrying shortly")
                tried = 0
                stop.wait(idle_wait)
            if tried == 0:
                self.rt.outbox_ready.wait(timeout=idle_wait)
                self.rt.outbox_ready.clear()
