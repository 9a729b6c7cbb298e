"""Threads that run beside the web server in `webleads run`, and the worker loop."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime

from flask import Flask

from bot.jobs import JobRunner
from bot.outbox import OutboxWorker, channel_senders, relay_wake_ups
from services import channels
from services.runtime import Runtime

log = logging.getLogger(__name__)


PLACING_EVERY_SECONDS = 300.0
REMINDERS_EVERY_SECONDS = 600.0
PURGE_EVERY_SECONDS = 86400.0
DIGESTS_EVERY_SECONDS = 60.0
# Reports pushed to other bodies by Open311, their tokens and their statuses pulled back.
OPEN311_EVERY_SECONDS = 60.0
# An unanswered page of an urgent report wakes the next on-call agent (services/oncall.py).
ESCALATIONS_EVERY_SECONDS = 30.0
# The reader is retrained at night (town time) when agents have seen new reports; checked
# twice an hour so the hour is never missed, the second check finds nothing new.
RETRAIN_EVERY_SECONDS = 1800.0
RETRAIN_HOUR = 3


def run_worker(rt: Runtime, stop: threading.Event) -> None:
    senders = channel_senders(rt)
    if not senders:
        log.info("no channel configured: the worker has nothing to send")
    periodic = threading.Thread(target=run_periodic, args=(rt, stop), daemon=True)
    periodic.start()
    # One listener for wake-ups from other processes, for both loops below.
    threading.Thread(target=relay_wake_ups, args=(rt, stop), name="wake-ups", daemon=True).start()
    jobs = JobRunner(rt)
    for channel in channels.enabled_channels(rt.settings):
        if channel.worker_loop is not None:
            args = (rt, stop)
            threading.Thread(target=channel.worker_loop, args=args, name=channel.name,
                             daemon=True).start()  # fmt: skip
    threading.Thread(target=jobs.run_forever, args=(stop,), name="jobs", daemon=True).start()
    OutboxWorker(rt, senders).run_forever(stop)


def run_periodic(rt: Runtime, stop: threading.Event, tick: float = 15.0) -> None:
    """Places addresses, reminds (residents and late bodies), pushes and pulls Open311
    forwards, pages the next on-call agent (every few seconds to minutes); purges old
    personal data (daily)."""
    from services.bodies import remind_late_bodies
    from services.crew_digest import run_digests
    from services.feedback import remind_silent_reports
    from services.oncall import run_escalations
    from services.open311_client import run_forwards
    from services.placing import place_unlocated
    from services.privacy import purge

    warm_reader(rt)
    tasks = {
        place_unlocated: PLACING_EVERY_SECONDS,
        remind_silent_reports: REMINDERS_EVERY_SECONDS,
        remind_late_bodies: REMINDERS_EVERY_SECONDS,  # once per body silent past its time
        purge: PURGE_EVERY_SECONDS,
        run_digests: DIGESTS_EVERY_SECONDS,  # each service's morning digest, at its time
        run_escalations: ESCALATIONS_EVERY_SECONDS,
        retrain_reader: RETRAIN_EVERY_SECONDS,
        run_forwards: OPEN311_EVERY_SECONDS,
    }
    due = {task: time.monotonic() + every for task, every in tasks.items()}
    while not stop.wait(tick):
        for task, every in tasks.items():
            if time.monotonic() >= due[task]:
                due[task] = time.monotonic() + every
                try:
                    task(rt)
                except Exception:
                    log.exception("%s failed; will retry", task.__name__)


def warm_reader(rt: Runtime) -> None:
    """Trains or loads the free-text reader now, not at the first resident's message."""
    from services.nlu import reader

    try:
        reader.warm(rt.db, rt.catalog)
    except Exception:
        log.exception("warming the free-text reader failed; the first message will")


def retrain_reader(rt: Runtime, now: datetime | None = None) -> int | None:
    """At night, when agents have seen reports the last version did not learn from (their
    category kept or corrected), trains and stores a new version, not in use: an admin
    compares its scores and activates it (console, or `webleads nlu activate`)."""
    from models.nlu import all_models, seen_reports_text
    from services.nlu import training
    from services.town_clock import TOWN_ZONE

    now = now or datetime.now(UTC)
    if now.astimezone(TOWN_ZONE).hour != RETRAIN_HOUR:
        return None
    with rt.db.transaction() as session:
        examples = len(seen_reports_text(session))
        versions = all_models(session)
        learnt = 0
        if versions:
            about = json.loads(versions[-1].about or "{}")
            learnt = about.get("town", 0) + about.get("held_out", 0)
        if examples <= learnt:
            return None
        trained = training.train(session, rt.catalog.get(session))
    log.info("free-text reader: version %s trained from %s reports", trained.version, examples)
    return trained.version


def start_all(app: Flask, stop: threading.Event) -> list[threading.Thread]:
    """Starts the outbox worker and each channel's own loop (Telegram's long polling)."""
    rt = app.extensions["webleads"]
    threads = [threading.Thread(target=run_worker, args=(rt, stop), name="outbox", daemon=True)]
    threads += [
        threading.Thread(target=c.background, args=(app, stop), name=c.name, daemon=True)
        for c in channels.enabled_channels(rt.settings)
        if c.background is not None
    ]
    for thread in threads:
        thread.start()
    return threads
