"""`webleads telegram ...`: webhook setup and bot information."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import click
from flask.cli import with_appcontext

from services.runtime import current_runtime
from services.texts import N_, translate
from webhooks.telegram.client import TelegramClient, client_for, describe
from webhooks.telegram.inbound import ALLOWED_UPDATES
from webhooks.telegram.routes import PATH
from webhooks.telegram.settings import enabled

if TYPE_CHECKING:  # python-telegram-bot: imported when a command runs, not to list them
    from telegram import Bot, BotCommand

T = TypeVar("T")

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
    from telegram import BotCommand

    return {
        None: [BotCommand(fr, translate("fr", about, command=fr)) for fr, _, about in COMMAND_MENU],
        "en": [BotCommand(en, translate("en", about, command=en)) for _, en, about in COMMAND_MENU],
    }


def _client() -> TelegramClient:
    settings = current_runtime().settings
    if not enabled(settings):
        raise click.ClickException(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather, then put its token "
            "in .env (see docs/telegram.md)."
        )
    return client_for(settings)


def _call(client: TelegramClient, fn: Callable[[Bot], Awaitable[T]]) -> T:
    """Runs one Bot API call for the CLI; errors become a readable message."""
    from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError

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
