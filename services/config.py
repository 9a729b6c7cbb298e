"""Settings of the public contract, read from the environment (and `.env`)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import load_dotenv

LANGUAGES = ("fr", "en")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Every variable of the public contract (listed in .env.example), with its default."""

    DATABASE_URL: str = "sqlite:///instance/webleads.db"
    SECRET_KEY: str = ""
    PUBLIC_BASE_URL: str = "http://localhost:5000"
    DEFAULT_LANGUAGE: str = "fr"
    TELEGRAM_BOT_TOKEN: str = ""
    TELEGRAM_WEBHOOK_SECRET: str = ""
    TELEGRAM_API_BASE_URL: str = "https://api.telegram.org"
    TWILIO_ACCOUNT_SID: str = ""
    TWILIO_AUTH_TOKEN: str = ""
    TWILIO_FROM_NUMBER: str = ""
    TWILIO_MESSAGING_SERVICE_SID: str = ""
    TWILIO_API_BASE_URL: str = "https://api.twilio.com"
    # WhatsApp through Twilio (same account): the sender, or a Messaging Service holding it.
    TWILIO_WHATSAPP_FROM: str = ""
    TWILIO_WHATSAPP_MESSAGING_SERVICE_SID: str = ""
    # Content SIDs (HX...) of the approved utility template sent outside the 24-hour
    # window: {{1}} = the report's reference, {{2}} = its new status.
    WHATSAPP_TEMPLATE_FR: str = ""
    WHATSAPP_TEMPLATE_EN: str = ""
    # Empty: ban, except in development once addresses are imported
    # (services.geocoders.make_geocoder).
    GEOCODER: str = ""
    GEOCODER_URL: str = ""
    MEDIA_DIR: str = "instance/media"
    # Photos on local disk (MEDIA_DIR), or in an S3-compatible bucket for several web nodes.
    MEDIA_STORAGE: str = "local"
    S3_ENDPOINT_URL: str = ""
    S3_BUCKET: str = ""
    S3_ACCESS_KEY_ID: str = ""
    S3_SECRET_ACCESS_KEY: str = ""
    S3_REGION: str = ""
    # Beyond the contract: tuning knobs with safe defaults.
    ENV: str = "development"
    NEARBY_METRES: int = 50
    OUTBOX_MAX_ATTEMPTS: int = 8
    # How long a worker holds a claimed message; a dead worker's messages are retried after.
    OUTBOX_LEASE_SECONDS: int = 120
    DEFAULT_REGION: str = "FR"
    # Map tiles of every map ({s}, {z}, {x}, {y} placeholders); "none" = maps without tiles
    # (services/maps.py). The attribution shown under them; empty: OpenStreetMap's for its
    # own servers.
    MAP_TILES_URL: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    MAP_TILES_ATTRIBUTION: str = ""
    # Older names, each overriding MAP_TILES_URL for one area when set: the console and the
    # public site, and the SMS citizens' link page (/r/...).
    CONSOLE_TILE_URL: str = ""
    # Twilio messages per second from one worker (a French long code takes about 1).
    SMS_RATE_PER_SECOND: int = 1
    # WhatsApp messages per second from one worker (the sandbox: 1 every 3 s, i.e. 0.33).
    WHATSAPP_RATE_PER_SECOND: float = 10.0
    LINK_TILE_URL: str = ""
    # Days after a citizen's last report ended (and their last message) before their phone
    # number or chat identity is forgotten (`webleads privacy purge`, daily in the worker).
    RETENTION_DAYS: int = 365
    # The bot's @username without the @, for t.me links in the launch kit (else getMe).
    TELEGRAM_BOT_USERNAME: str = ""
    # Reverse proxies in front of the app that set X-Forwarded-For/-Proto/-Host (nginx: 1).
    # 0 trusts none: the client's address is the connection's (ProxyFix, app.factory).
    PROXY_FIX_HOPS: int = 0
    # E-mail: the server every e-mail leaves through (smtp://user:pass@host:port, smtps://…
    # or smtp+starttls://…), the sender residents and other bodies see, and the mailbox the
    # worker reads (imaps://user:pass@host/INBOX). Unset: no e-mail is sent or read.
    SMTP_URL: str = ""
    MAIL_FROM: str = ""
    MAIL_IMAP_URL: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.ENV == "production"

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.TELEGRAM_BOT_TOKEN)

    @property
    def sms_enabled(self) -> bool:
        return bool(self.TWILIO_ACCOUNT_SID and self.TWILIO_AUTH_TOKEN)

    @property
    def mail_enabled(self) -> bool:
        return bool(self.SMTP_URL and self.MAIL_FROM)

    @property
    def whatsapp_enabled(self) -> bool:
        sender = self.TWILIO_WHATSAPP_FROM or self.TWILIO_WHATSAPP_MESSAGING_SERVICE_SID
        return bool(self.sms_enabled and sender)

    def whatsapp_template(self, language: str) -> str:
        """The approved template's Content SID for a language ("" when none is set)."""
        return {"fr": self.WHATSAPP_TEMPLATE_FR, "en": self.WHATSAPP_TEMPLATE_EN}.get(language, "")


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def load_settings(overrides: dict | None = None, *, dotenv: bool = True) -> Settings:
    """Builds the settings from `.env`, the environment, then `overrides`."""
    if dotenv:
        load_dotenv(Path.cwd() / ".env", override=False)
    values: dict = {}
    for f in fields(Settings):
        if f.name == "extra":
            continue
        raw = os.environ.get(f.name)
        if raw is not None and raw != "":
            values[f.name] = _typed(f.type, f.name, raw)
    values.update(
        {k: v for k, v in (overrides or {}).items() if k in Settings.__dataclass_fields__}
    )
    settings = Settings(**values)
    return _checked(settings)


def _typed(kind: str, name: str, raw: str):
    if kind == "int":
        return int(raw)
    if kind == "float":
        try:
            return float(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} must be a number, e.g. 0.33") from exc
    return raw.strip()


def _checked(settings: Settings) -> Settings:
    if settings.DEFAULT_LANGUAGE not in LANGUAGES:
        raise ConfigError(f"DEFAULT_LANGUAGE must be one of {LANGUAGES}")
    if settings.GEOCODER not in {"", "ban", "nominatim", "local", "none"}:
        raise ConfigError("GEOCODER must be ban, nominatim, local or none")
    if not settings.GEOCODER and settings.is_production:
        object.__setattr__(settings, "GEOCODER", "ban")  # the documented default
    if settings.MEDIA_STORAGE not in {"local", "s3"}:
        raise ConfigError("MEDIA_STORAGE must be local or s3")
    if settings.MEDIA_STORAGE == "s3" and not (
        settings.S3_BUCKET and settings.S3_ACCESS_KEY_ID and settings.S3_SECRET_ACCESS_KEY
    ):
        raise ConfigError(
            "MEDIA_STORAGE=s3 needs S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY "
            "(and S3_ENDPOINT_URL for a store that is not Amazon's)"
        )
    if settings.WHATSAPP_RATE_PER_SECOND <= 0:
        raise ConfigError("WHATSAPP_RATE_PER_SECOND must be above 0 (the sandbox: 0.33)")
    if settings.PROXY_FIX_HOPS < 0:
        raise ConfigError("PROXY_FIX_HOPS is the number of proxies in front of the app: 0 or more")
    if settings.telegram_enabled and not settings.TELEGRAM_WEBHOOK_SECRET:
        raise ConfigError(
            "TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_BOT_TOKEN is set "
            "(any random string of letters, digits, _ and -)"
        )
    if not settings.SECRET_KEY:
        if settings.is_production:
            raise ConfigError("SECRET_KEY is required in production")
        # Development: one key kept under instance/, so `webleads run` and `webleads chat`
        # (two processes) agree on signed links and sessions survive a restart.
        object.__setattr__(settings, "SECRET_KEY", _dev_secret_key())
    return settings


def _dev_secret_key() -> str:
    path = Path("instance") / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.write_text(key)
        path.chmod(0o600)
        return key
