"""One python-telegram-bot `Bot` per process, called from sync code through one event loop.

Building a `Bot` costs about 40 ms and `asyncio.run()` per call about 50 ms; a Bot kept
on one long-lived loop in a background thread costs about 1.5 ms a call. The webhook,
the outbox sender, long polling and the CLI all go through `client_for(settings)`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dtm
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # python-telegram-bot and httpx: imported by the first client built
    from telegram import Bot

# python-telegram-bot 22 gives time periods (RetryAfter.retry_after, durations) as
# timedelta with this set, as int with a deprecation warning without it. PTB reads it
# at each access; `seconds()` below accepts both.
os.environ.setdefault("PTB_TIMEDELTA", "1")

log = logging.getLogger(__name__)
# httpx logs every request's URL at INFO, and Bot API URLs contain the bot token.
logging.getLogger("httpx").setLevel(logging.WARNING)

T = TypeVar("T")

# Telegram lets bots download files up to 20 MB (getFile refuses bigger ones).
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
# Longest a sync caller waits for one call (a 20 MB download included).
CALL_TIMEOUT = 60.0
# Senders, webhook threads and downloads share the Bot: room for them all at once.
CONNECTION_POOL = 16

_clients: dict[tuple[str, str, int], TelegramClient] = {}
_clients_lock = threading.Lock()


class FileTooBig(Exception):
    """The file is over the 20 MB a bot may download."""


class TelegramClient:
    """A Bot on its own event loop thread; `call` runs one coroutine and waits for it."""

    def __init__(self, token: str, api_root: str) -> None:
        from telegram import Bot
        from telegram.request import HTTPXRequest

        root = api_root.rstrip("/")
        self.api_root = root
        self.bot = Bot(
            token,
            base_url=f"{root}/bot",
            base_file_url=f"{root}/file/bot",
            request=HTTPXRequest(connection_pool_size=CONNECTION_POOL),
            get_updates_request=HTTPXRequest(connection_pool_size=1),
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="telegram-loop", daemon=True
        )
        self._thread.start()

    def submit(self, fn: Callable[[Bot], Awaitable[T]]) -> concurrent.futures.Future[T]:
        """Starts `fn(bot)` on the loop; the future can be waited on or cancelled."""
        return asyncio.run_coroutine_threadsafe(_run(fn, self.bot), self._loop)

    def call(self, fn: Callable[[Bot], Awaitable[T]], timeout: float = CALL_TIMEOUT) -> T:
        """Runs `fn(bot)` and returns its result; Telegram's errors are raised as they are."""
        future = self.submit(fn)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def fire(self, fn: Callable[[Bot], Awaitable[object]], what: str) -> None:
        """Starts `fn(bot)` without waiting: for calls whose failure changes nothing."""
        future = self.submit(fn)

        def report(done: concurrent.futures.Future) -> None:
            if not done.cancelled() and done.exception() is not None:
                log.info("telegram %s failed: %s", what, done.exception())

        future.add_done_callback(report)

    def download(self, file_id: str, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """Fetches a file a citizen sent (getFile, then the file URL)."""

        async def fetch(bot: Bot) -> bytes:
            file = await bot.get_file(file_id)
            if file.file_size and file.file_size > max_bytes:
                raise FileTooBig(file_id)
            return bytes(await file.download_as_bytearray())

        data = self.call(fetch)
        if len(data) > max_bytes:
            raise FileTooBig(file_id)
        return data


async def _run(fn: Callable[[Bot], Awaitable[T]], bot: Bot) -> T:
    return await fn(bot)


def client_for(settings) -> TelegramClient:
    """The process's client for this bot token and API root (made on first use)."""
    # The pid is in the key: a forked worker (gunicorn --preload) must not reuse a loop
    # thread that only exists in its parent.
    key = (settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_BASE_URL, os.getpid())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = TelegramClient(*key[:2])
        return client


def seconds(period: dtm.timedelta | float | int | None) -> float | None:
    """A Bot API time period in seconds, whether PTB gave a timedelta or a number."""
    if period is None:
        return None
    if isinstance(period, dtm.timedelta):
        return period.total_seconds()
    return float(period)


def describe(exc: BaseException) -> str:
    """Telegram's words for an error, for logs and outbox rows."""
    from telegram.error import TelegramError

    if isinstance(exc, TelegramError):
        return f"{type(exc).__name__}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
