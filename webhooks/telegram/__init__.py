"""The Telegram channel: webhook (routes.py), Update parsing (inbound.py, shape.py), the
sender (sender.py), the Bot API client (client.py), long polling (polling.py) and
`webleads telegram ...` (cli.py). Its `Channel` spec is registered below."""

from __future__ import annotations

import functools
import json
import re
import urllib.request

from services.channels import Channel, Invite, InviteUnavailable, Limits, keep_last, register
from services.config import Settings
from webhooks.telegram.cli import telegram_cli
from webhooks.telegram.inbound import CHANNEL, fetch_picture
from webhooks.telegram.routes import bp
from webhooks.telegram.settings import SETTINGS, enabled

# A Telegram user id, as an admin types it in the pilot's allowlist.
TELEGRAM_ID_RE = re.compile(r"^[1-9][0-9]{4,15}$")


# The sender, the client and the polling loop import python-telegram-bot and httpx: only
# when a message is sent, a picture fetched or the chat polled, never to run a command.
def _sender(rt):
    from webhooks.telegram.sender import TelegramSender

    return TelegramSender(rt.settings, rt.db)


def _fetcher(rt):
    from webhooks.telegram.client import client_for

    client = client_for(rt.settings)
    return lambda media: fetch_picture(rt, client, media)


def _poll_forever(app, stop) -> None:
    from webhooks.telegram.polling import poll_forever

    poll_forever(app, stop)


def _identity(text: str, region: str) -> str | None:
    return text if TELEGRAM_ID_RE.match(text) else None


def _invite(settings: Settings, code: str | None) -> Invite | None:
    """t.me/<bot>, with the pilot's code as the deep link's start parameter."""
    if not (enabled(settings) or settings.TELEGRAM_BOT_USERNAME):
        return None
    url = f"https://t.me/{bot_username(settings)}" + (f"?start={code}" if code else "")
    return Invite("Telegram", "Scannez, puis appuyez sur Démarrer.", url)


def bot_username(settings: Settings) -> str:
    """The bot's @username: TELEGRAM_BOT_USERNAME, or asked from Telegram (getMe) once."""
    if settings.TELEGRAM_BOT_USERNAME:
        return settings.TELEGRAM_BOT_USERNAME.lstrip("@")
    return _asked_username(settings.TELEGRAM_API_BASE_URL, settings.TELEGRAM_BOT_TOKEN)


@functools.lru_cache(maxsize=8)
def _asked_username(api_base_url: str, token: str) -> str:
    """getMe, remembered per token: a bot's username does not change under its token."""
    url = f"{api_base_url.rstrip('/')}/bot{token}/getMe"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            answer = json.load(response)
    except (OSError, ValueError) as exc:
        raise InviteUnavailable(f"Telegram did not say the bot's name (getMe): {exc}") from exc
    if not answer.get("ok"):
        raise InviteUnavailable(f"Telegram refused getMe: {answer.get('description')}")
    return answer["result"]["username"]


CHANNEL_SPEC = register(
    Channel(
        name=CHANNEL,
        labels={"en": "Telegram"},
        can_show_buttons=True,
        can_share_location=True,
        can_receive_photos=True,
        can_show_photos=True,
        has_command_menu=True,
        enabled=enabled,
        settings=SETTINGS,
        blueprints=(bp,),
        sender=_sender,
        fetcher=_fetcher,
        # 30 messages/s per bot; about one per second to one chat, small bursts allowed.
        limits=lambda settings: Limits(29.8, per_recipient=1.0, recipient_burst=3),
        background=_poll_forever,
        cli=telegram_cli,
        mask=lambda address: keep_last(address, 3),
        identity=_identity,
        invite=_invite,
    )
)
