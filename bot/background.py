"""Threads that run beside the web server in `webleads run`, and the worker loop."""

from __future__ import annotations

import logging
import threading

from flask import Flask

from bot.outbox import OutboxWorker
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def channel_senders(rt: Runtime) -> dict:
    """Builds a sender for every channel this town has configured."""
    senders: dict = {}
    if rt.settings.telegram_enabled:
        from webhooks.telegram import TelegramSender

        senders["telegram"] = TelegramSender(rt.settings, rt.db)
    if rt.settings.sms_enabled:
        from webhooks.sms import SmsSender

        senders["sms"] = SmsSender(rt)
    return senders


PLACING_EVERY_SECONDS = 300.0


def run_worker(rt: Runtime, stop: threading.Event) -> None:
    senders = channel_senders(rt)
    if not senders:
        log.info("no channel configured (Telegram, SMS): the worker has nothing to send")
    placing = threading.Thread(target=place_periodically, args=(rt, stop), daemon=True)
    placing.start()
    OutboxWorker(rt, senders).run_forever(stop)


def place_periodically(rt: Runtime, stop: threading.Event) -> None:
    """Retries, every few minutes, the addresses the geocoder could not place."""
    from bot.placing import place_unlocated

    while not stop.wait(PLACING_EVERY_SECONDS):
        try:
            placed, _ = place_unlocated(rt)
            if placed:
                log.info("placed %s report(s) on the map", placed)
        except Exception:
            log.exception("placing reports failed; will retry")


def start_all(app: Flask, stop: threading.Event) -> list[threading.Thread]:
    """Starts the outbox worker and, when Telegram has no webhook, long polling."""
    rt = app.extensions["webleads"]
    threads = [threading.Thread(target=run_worker, args=(rt, stop), name="outbox", daemon=True)]
    if rt.settings.telegram_enabled:
        from webhooks.telegram import poll_forever

        threads.append(
            threading.Thread(target=poll_forever, args=(app, stop), name="telegram", daemon=True)
        )
    for thread in threads:
        thread.start()
    return threads
