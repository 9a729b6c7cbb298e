"""The Telegram channel's settings."""

from __future__ import annotations

from services.config import Setting, Settings


def _secret_with_token(value: str, settings: Settings) -> str | None:
    if settings.TELEGRAM_BOT_TOKEN and not value:
        return (
            "TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_BOT_TOKEN is set "
            "(any random string of letters, digits, _ and -)"
        )
    return None


SETTINGS = (
    Setting("TELEGRAM_BOT_TOKEN", secret=True, doc="Telegram: the token from @BotFather"),
    Setting(
        "TELEGRAM_WEBHOOK_SECRET",
        secret=True,
        doc="Telegram: required with the token, sent back in every webhook call",
        check=_secret_with_token,
    ),
    Setting(
        "TELEGRAM_API_BASE_URL",
        "https://api.telegram.org",
        doc="Telegram: the Bot API root; tests point it at a local stand-in",
    ),
    Setting("TELEGRAM_BOT_USERNAME", doc="Telegram: the bot's username, for t.me links"),
)


def enabled(settings: Settings) -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)
