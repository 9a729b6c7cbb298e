"""The outbox worker: sends queued messages through each channel's sender.

Delivery is at-least-once. A message is claimed (leased for OUTBOX_LEASE_SECONDS), sent, then marked
sent. If the worker dies between the provider's answer and the mark, the lease expires
and the message is sent again: in that rare worst case a citizen gets the same message
twice, never zero times. (At-most-once would risk silence, which is worse for a citizen
waiting for news about their report.)

Limits are honoured before the provider has to say so: an overall rate per channel and a
rate per recipient (Telegram: about 30 messages/s, 1/s per chat with a small burst so a
conversation's two or three replies go out at once; SMS: SMS_RATE_PER_SECOND). A 429
still happens (another bot on the same token, a provider's bad day): its retry_after is
obeyed. Temporary failures back off exponentially with jitter; after the last try a
message is dead and listed in the console. Permanent failures (bot blocked, number
unsubscribed or invalid) stop at once and mark the citizen.

Fair delivery: each round claims every channel apart, no more than that channel may send
in about a second (SEND_HORIZON), and sends them taking turns across channels; a slow
channel (SMS at 1/s) or one its provider throttles never holds another one's sends. A
batch holds one message per chat at most, replies before notices (models/messaging.py),
so a chat's flood is answered at its own pace, never ahead of everyone else.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import select
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from itertools import zip_longest

from bot.ratelimit import ChannelLimiter
from models.citizen import update_citizen
from models.db import utcnow
from models.messaging import (
    FAILED,
    NOTIFY_CHANNEL,
    Outbox,
    cancel_queued_for,
    claim_due,
    defer,
    mark_dead,
    mark_held,
    mark_retry,
    mark_sent,
)
from services import channels, wakeup
from services.channels import Held, PermanentFailure, Sender, TemporaryFailure
from services.runtime import Runtime
from services.wakeup import socket_path

log = logging.getLogger(__name__)

BASE_DELAY = 5.0  # seconds before the first retry
MAX_DELAY = 3600.0
# A round claims what each channel can send in about this many seconds: the longest
# another channel waits for a turn, and far below the lease.
SEND_HORIZON = 1.0


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait before the next try: exponential with jitter, or as told."""
    if retry_after is not None:
        return float(retry_after)
    delay = min(BASE_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)
    return delay * random.uniform(0.5, 1.5)


def channel_senders(rt: Runtime) -> dict:
    """Builds a sender for every channel this town has configured."""
    return {c.name: c.sender(rt) for c in channels.enabled_channels(rt.settings) if c.sender}


def default_limiters(settings) -> dict[str, ChannelLimiter]:
    """The providers' published limits, a little under them (each channel's spec)."""
    limiters = {}
    for channel in channels.all_channels():
        if channel.limits is not None:
            limits = channel.limits(settings)
            limiters[channel.name] = ChannelLimiter(
                limits.per_second,
                per_recipient=limits.per_recipient,
                recipient_burst=limits.recipient_burst,
            )
    return limiters


class OutboxWorker:
    def __init__(self, rt: Runtime, senders: dict[str, Sender], *, batch: int = 50,
                 limiters: dict[str, ChannelLimiter] | None = None) -> None:  # fmt: skip
        self.rt = rt
        self.senders = senders
        self.batch = batch
        self.max_attempts = rt.settings.OUTBOX_MAX_ATTEMPTS
        self.limiters = default_limiters(rt.settings) if limiters is None else limiters
        self.lease = timedelta(seconds=rt.settings.OUTBOX_LEASE_SECONDS)

    def run_once(self) -> int:
        """Sends one round of due messages, every channel its share; returns how many
        were tried."""
        if not self.senders:
            return 0
        with self.rt.db.transaction() as session:
            claimed = [
                claim_due(session, channels=[name], limit=self._room(name), lease=self.lease)
                for name in self.senders
            ]
        tried = 0
        for message in _taking_turns(claimed):
            tried += 1
            limiter = self.limiters.get(message.channel)
            # Answering a button press is not a message to the chat: no per-chat pace.
            if limiter is not None and not message.payload.get("answer_callback"):
                wait = limiter.recipient_wait(message.address)
                if wait > 0:
                    when = utcnow() + timedelta(seconds=wait)
                    self._record(lambda s, m=message, w=when: defer(s, m.id, w))
                    continue
                limiter.acquire(message.address)
            self._deliver(message)
        return tried

    def _room(self, channel: str) -> int:
        """How many messages of a channel one round claims: what its rate sends in
        SEND_HORIZON, within the batch."""
        limiter = self.limiters.get(channel)
        if limiter is None:
            return self.batch
        return max(1, min(self.batch, math.ceil(limiter.overall.rate * SEND_HORIZON)))

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
        except Held as exc:
            reason = str(exc)
            self._record(lambda s: mark_held(s, message.id, reason))
            return False
        except Exception as exc:  # a bug in a sender must not stop the others
            log.exception("sending outbox message %s failed", message.id)
            self._retry_or_bury(message, f"{type(exc).__name__}: {exc}", None)
            return False
        self._record(lambda s: mark_sent(s, message.id, provider_id))
        return True

    def _retry_or_bury(self, message: Outbox, reason: str, retry_after: float | None) -> None:
        if retry_after is not None:
            # The provider's "too many, come back in N s" (a 429) is a pace, not a failure:
            # several workers, each keeping the rate alone, meet it for minutes under load
            # (bench/scaleout.py), and counting it as a try buried messages it had delayed.
            when = utcnow() + timedelta(seconds=backoff(message.attempts, retry_after))
            self._record(lambda s: defer(s, message.id, when, reason))
            return
        if message.attempts >= self.max_attempts:
            log.warning("outbox message %s is dead after %s tries: %s", message.id,
                        message.attempts, reason)  # fmt: skip
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
        """Sends until `stop` is set; wakes at once when a message is queued."""
        while not stop.is_set():
            try:
                tried = self.run_once()
            except Exception:
                log.exception("outbox batch failed; retrying shortly")
                tried = 0
                stop.wait(1.0)
            if tried == 0:
                self.rt.outbox_ready.wait(idle_wait)
                self.rt.outbox_ready.clear()


def _taking_turns(batches: Iterable[list[Outbox]]) -> Iterator[Outbox]:
    """The channels' messages one from each in turn (each channel's own order kept)."""
    for turn in zip_longest(*batches):
        yield from (message for message in turn if message is not None)


def relay_wake_ups(rt: Runtime, stop: threading.Event) -> None:
    """Hears "something was queued" from other processes and wakes this process's loops.

    PostgreSQL: LISTEN/NOTIFY (any process, any host; triggers on the outbox and job
    tables). SQLite: a datagram socket next to the database file (services/wakeup.py). One
    listener serves both the outbox worker and the job runner, each waiting on its own
    event; their waits are bounded, so a lost wake-up delays by seconds, never loses.
    """
    source = _WakeSource(rt)
    try:
        while not stop.is_set():
            if source.wait(0.5):
                rt.outbox_ready.set()
                rt.jobs_ready.set()
    finally:
        source.close()


class _WakeSource:
    """The file descriptor wake-ups arrive on, or nothing (then the loops poll)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.conn = None
        self.listener = None
        try:
            if rt.db.is_postgres:
                self.conn = self._listen()
            else:
                path = socket_path(rt.db.url)
                self.listener = wakeup.Listener(path) if path else None
        except Exception:
            log.exception("cannot listen for wake-ups; polling instead")

    def _listen(self):
        import psycopg

        url = self.rt.db.engine.url.set(drivername="postgresql")
        conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return conn

    def wait(self, timeout: float) -> bool:
        """True when a wake-up came within `timeout` seconds."""
        source = self.conn or self.listener
        if source is None:
            time.sleep(timeout)
            return False
        if not select.select([source.fileno()], [], [], timeout)[0]:
            return False
        self._drain()
        return True

    def _drain(self) -> None:
        try:
            if self.conn is not None:
                list(self.conn.notifies(timeout=0, stop_after=1000))
            elif self.listener is not None:
                self.listener.drain()
        except Exception:
            log.exception("lost the wake-up channel; polling")
            self.close()

    def close(self) -> None:
        for thing in (self.conn, self.listener):
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.close()
        self.conn = self.listener = None
