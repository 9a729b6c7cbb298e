"""Telegram channel: the webhook, long polling for development, and setup commands.

Receive: `POST /webhooks/telegram` (or getUpdates when no webhook is set) -> parsed
into an Inbound (webhooks.telegram_inbound) -> the engine. Send: `TelegramSender`
(webhooks.telegram_outbound), used by the outbox worker. All calls to the Bot API go
through one long-lived client per process (webhooks.telegram_client).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hmac
import logging
import threading
import warnings
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from flask import Blueprint, Flask, request
from flask.cli import with_appcontext
from telegram import Bot, BotCommand
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, TelegramError

from bot.runtime import Runtime, current_runtime
from bot.texts import N_, translate
from webhooks.telegram_client import TelegramClient, client_for, describe
from webhooks.telegram_inbound import ALLOWED_UPDATES, handle_update, parse_update
from webhooks.telegram_outbound import TelegramSender
from webhooks.telegram_shape import NotAnUpdate

__all__ = ["TelegramSender", "bp", "poll_forever", "telegram_cli"]

log = logging.getLogger(__name__)

T = TypeVar("T")

PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# getUpdates long-poll length; setting the stop event still ends polling within 0.1 s.
POLL_SECONDS = 25
RETRY_SECONDS = 5
# An update the engine keeps failing on is retried this many times, then skipped.
MAX_UPDATE_TRIES = 5
# The command menu (setMyCommands): French command, English command, what it does.
COMMAND_MENU = [
    ("start", "start", N_("Report a problem or share an idea")),
    ("aide", "help", N_("What I understand")),
    ("annuler", "cancel", N_("Cancel the report in progress")),
    ("mesdemandes", "myreports", N_("Your reports and their status")),
    ("suivi", "status", N_("Status of one report, e.g. /{command} 1042")),
    ("langue", "language", N_("Français or English")),
    ("supprimer", "delete", N_("Erase my data")),
]

# Long polling asks getUpdates for raw JSON (Poller._get_updates) on purpose; PTB warns
# that Bot.get_updates exists, which parses the whole batch at once.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'")

bp = Blueprint("telegram", __name__)


# --- webhook ---------------------------------------------------------------------------


@bp.post(PATH)
def webhook():
    """Receives one Update: checks the secret, parses, hands it to the engine."""
    rt = current_runtime()
    settings = rt.settings
    if not settings.telegram_enabled:
        return "Telegram is not configured here.", 404
    if not secret_matches(request.headers.get(SECRET_HEADER), settings.TELEGRAM_WEBHOOK_SECRET):
        return "", 403
    try:
        update = parse_update(request.get_json(force=True, silent=True))
    except NotAnUpdate:
        return "Not a Telegram update.", 400
    if update is not None:  # None: acknowledged all the same, or Telegram retries it
        handle_update(rt, update)
    return "", 200


def secret_matches(given: str | None, expected: str) -> bool:
    """Compares the secret header in constant time."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


# --- long polling ----------------------------------------------------------------------


def poll_forever(app: Flask, stop: threading.Event) -> None:
    """Fetches updates with getUpdates until `stop` is set, unless a webhook is set."""
    rt = app.extensions["webleads"]
    if rt.settings.telegram_enabled:
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


# --- command line ----------------------------------------------------------------------


@click.group("telegram")
def telegram_cli() -> None:
    """Telegram: webhook setup and bot information."""


@telegram_cli.command("set-webhook")
@click.option("--drop-pending", is_flag=True, help="Forget the updates Telegram still holds.")
@with_appcontext
def set_webhook(drop_pending: bool) -> None:
    """Points Telegram at PUBLIC_BASE_URL/webhooks/telegram and sets the command menu."""
    settings = current_runtime().settings
    client = _client()
    url = webhook_url(settings)
    if not url.startswith("https://"):
        raise click.ClickException(
            f"Telegram only calls https URLs, and PUBLIC_BASE_URL gives {url}. "
            "Set PUBLIC_BASE_URL to the public https address, or use polling "
            "(`webleads run` polls when no webhook is set)."
        )
    _call(
        client,
        lambda bot: bot.set_webhook(
            url,
            secret_token=settings.TELEGRAM_WEBHOOK_SECRET,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=drop_pending,
        ),
    )
    click.echo(f"Webhook set: {url} (updates: {', '.join(ALLOWED_UPDATES)}).")
    for language, commands in command_menus().items():
        _call(
            client,
            lambda bot, commands=commands, language=language: bot.set_my_commands(
                commands, language_code=language
            ),
        )
    click.echo("Command menu set in French (default) and English.")


@telegram_cli.command("delete-webhook")
@with_appcontext
def delete_webhook() -> None:
    """Removes the webhook, so that `webleads run` polls for updates instead."""
    _call(_client(), lambda bot: bot.delete_webhook())
    click.echo("Webhook deleted: `webleads run` now polls Telegram for updates.")


@telegram_cli.command("info")
@with_appcontext
def info() -> None:
    """Shows the bot (getMe) and its webhook (getWebhookInfo)."""
    settings = current_runtime().settings
    client = _client()
    me = _call(client, lambda bot: bot.get_me())
    hook = _call(client, lambda bot: bot.get_webhook_info())
    click.echo(f"Bot: @{me.username} ({me.first_name}), id {me.id}")
    click.echo(f"API: {client.api_root}")
    if not hook.url:
        click.echo("Webhook: none (`webleads run` polls for updates)")
    else:
        click.echo(f"Webhook: {hook.url}")
        if hook.url != webhook_url(settings):
            click.echo(f"  (this app expects {webhook_url(settings)}: run set-webhook)")
        click.echo(f"  allowed updates: {', '.join(hook.allowed_updates or ['all but a few'])}")
    click.echo(f"Pending updates: {hook.pending_update_count}")
    if hook.last_error_message:
        when = hook.last_error_date.isoformat(" ", "seconds") if hook.last_error_date else "?"
        click.echo(f"Last delivery error: {hook.last_error_message} ({when})")


def webhook_url(settings) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + PATH


def command_menus() -> dict[str | None, list[BotCommand]]:
    """The command menus: French for everyone (no language), English for English clients."""
    return {
        None: [BotCommand(fr, translate("fr", about, command=fr)) for fr, _, about in COMMAND_MENU],
        "en": [BotCommand(en, translate("en", about, command=en)) for _, en, about in COMMAND_MENU],
    }


def _client() -> TelegramClient:
    settings = current_runtime().settings
    if not settings.telegram_enabled:
        raise click.ClickException(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather, then put its token "
            "in .env (see docs/telegram.md)."
        )
    return client_for(settings)


def _call(client: TelegramClient, fn: Callable[[Bot], Awaitable[T]]) -> T:
    """Runs one Bot API call for the CLI; errors become a readable message."""
    try:
        return client.call(fn, timeout=30)
    except InvalidToken as exc:
        raise click.ClickException(
            f"Telegram refused the token ({exc.message}): check TELEGRAM_BOT_TOKEN."
        ) from exc
    except BadRequest as exc:  # before NetworkError: BadRequest is one
        raise click.ClickException(f"Telegram said: {exc.message}") from exc
    except (NetworkError, TimeoutError) as exc:
        raise click.ClickException(
            f"Cannot reach the Telegram Bot API at {client.api_root} ({describe(exc)}). "
            "Check the network and TELEGRAM_API_BASE_URL."
        ) from exc
    except TelegramError as exc:
        raise click.ClickException(f"Telegram said: {exc.message}") from exc
