"""Long polling (getUpdates) for development, when no webhook is set: `webleads run`
starts it beside the web server; updates go through the same handling as the webhook."""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import warnings
from collections.abc import Awaitable, Callable
from typing import TypeVar

from flask import Flask
from telegram import Bot
from telegram.error import Conflict, TelegramError

from services.runtime import Runtime
from webhooks.telegram.client import TelegramClient, client_for, describe
from webhooks.telegram.inbound import ALLOWED_UPDATES, handle_update, parse_update
from webhooks.telegram.settings import enabled

log = logging.getLogger(__name__)

T = TypeVar("T")

# getUpdates long-poll length; setting the stop event still ends polling within 0.1 s.
POLL_SECONDS = 25
RETRY_SECONDS = 5
# An update the engine keeps failing on is retried this many times, then skipped.
MAX_UPDATE_TRIES = 5

# Long polling asks getUpdates for raw JSON (Poller._get_updates) on purpose; PTB warns
# that Bot.get_updates exists, which parses the whole batch at once.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'")


def poll_forever(app: Flask, stop: threading.Event) -> None:
    """Fetches updates with getUpdates until `stop` is set, unless a webhook is set."""
    rt = app.extensions["webleads"]
    if enabled(rt.settings):
        Poller(rt, client_for(rt.settings), stop).run()


class Poller:
    """getUpdates -> the same handling as the webhook; the offset confirms what is done."""

    def __init__(self, rt: Runtime, client: TelegramClient, stop: threading.Event) -> None:
        self.rt = rt
        self.client = client
        self.stop = stop
        self.offset: int | None = None
        self.failures: dict[int, int] = {}

    def run(self) -> None:
        """Polls while no webhook is set; a conflict sends it back to checking."""
        while not self.stop.is_set() and self.webhook_absent():
            self.poll()
        self.confirm()

    def webhook_absent(self) -> bool:
        """Waits for getWebhookInfo; False when a webhook is set (or on stop)."""
        while not self.stop.is_set():
            try:
                info = self.wait(lambda bot: bot.get_webhook_info())
            except TelegramError as exc:
                log.warning("telegram: getWebhookInfo failed: %s", describe(exc))
                self.stop.wait(RETRY_SECONDS)
                continue
            if info is None:
                return False
            if info.url:
                log.info(
                    "telegram: a webhook is set (%s), so no polling; "
                    "`webleads telegram delete-webhook` switches to polling",
                    info.url,
                )
                return False
            log.info("telegram: no webhook set: polling for updates")
            return True
        return False

    def poll(self) -> None:
        """Handles batches of updates until stopped or in conflict."""
        while not self.stop.is_set():
            try:
                updates = self.wait(self._get_updates)
            except Conflict as exc:  # a webhook was set, or another process polls
                log.warning("telegram: %s", exc.message)
                self.stop.wait(RETRY_SECONDS)
                return
            except TelegramError as exc:
                log.warning("telegram: getUpdates failed: %s", describe(exc))
                self.stop.wait(RETRY_SECONDS)
                continue
            for update in updates or ():
                if self.stop.is_set() or not self.handle(update):
                    break

    async def _get_updates(self, bot: Bot) -> list:
        """getUpdates as raw JSON: each update is then checked and parsed on its own, as
        the webhook does, so one that PTB cannot parse never holds up the others."""
        params = {"timeout": POLL_SECONDS, "allowed_updates": ALLOWED_UPDATES}
        if self.offset is not None:
            params["offset"] = self.offset
        return await bot.do_api_request(
            "getUpdates", api_kwargs=params, read_timeout=POLL_SECONDS + 10
        )

    def handle(self, data: dict) -> bool:
        """Handles one update; False to fetch it again (the engine failed on it)."""
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            log.warning("telegram: getUpdates returned something that is no update: %.200r", data)
            return True
        try:
            update = parse_update(data)  # None (logged) for a kind or shape not handled
            if update is not None:
                handle_update(self.rt, update)
        except Exception:
            tries = self.failures[update_id] = self.failures.get(update_id, 0) + 1
            if tries < MAX_UPDATE_TRIES:
                log.exception("telegram: update %s failed (try %s)", update_id, tries)
                self.stop.wait(min(2**tries, 30))
                return False
            log.exception("telegram: update %s failed %s times: skipped", update_id, tries)
        self.failures.pop(update_id, None)
        self.offset = update_id + 1
        return True

    def wait(self, fn: Callable[[Bot], Awaitable[T]]) -> T | None:
        """Runs one call; gives it up (None) as soon as `stop` is set."""
        future = self.client.submit(fn)
        while not future.done():
            concurrent.futures.wait([future], timeout=0.1)
            if self.stop.is_set() and not future.done():
                future.cancel()
                return None
        return future.result()

    def confirm(self) -> None:
        """Tells Telegram what was handled, so a restart does not fetch it again."""
        if self.offset is None:
            return
        # Best effort: the engine dedupes whatever comes again.
        with contextlib.suppress(TelegramError, TimeoutError):
            self.client.call(
                lambda bot: bot.get_updates(offset=self.offset, timeout=0, limit=1), timeout=2
            )
