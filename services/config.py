"""Settings of the public contract, read from the environment (and `.env`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

LANGUAGES = ("fr", "en")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """The core variables of the public contract (listed in .env.example), with their
    defaults; each channel declares its own (`Setting`, on its spec)."""

    DATABASE_URL: str = "sqlite:///instance/webleads.db"
    SECRET_KEY: str = ""
    PUBLIC_BASE_URL: str = "http://localhost:5000"
    DEFAULT_LANGUAGE: str = "fr"
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
    # public site, and the citizens' link page (/r/...).
    CONSOLE_TILE_URL: str = ""
    LINK_TILE_URL: str = ""
    # Days after a citizen's last report ended (and their last message) before their phone
    # number or chat identity is forgotten (`webleads privacy purge`, daily in the worker).
    RETENTION_DAYS: int = 365
    # Reverse proxies in front of the app that set X-Forwarded-For/-Proto/-Host (nginx: 1).
    # 0 trusts none: the client's address is the connection's (ProxyFix, app.factory).
    PROXY_FIX_HOPS: int = 0
    # E-mail: the server every e-mail leaves through (smtp://user:pass@host:port, smtps://…
    # or smtp+starttls://…) and the sender residents and other bodies see. Unset: no
    # e-mail is sent.
    SMTP_URL: str = ""
    MAIL_FROM: str = ""
    # The values of the settings packages declare (`Setting`, `declare`), by name; read as
    # attributes like the fields above.
    declared: dict = field(default_factory=dict, repr=False)
    # What `load_settings` was given beyond the core, for a package declared after it.
    overrides: dict = field(default_factory=dict, repr=False)

    @property
    def is_production(self) -> bool:
        return self.ENV == "production"

    @property
    def mail_enabled(self) -> bool:
        return bool(self.SMTP_URL and self.MAIL_FROM)

    def __post_init__(self) -> None:
        # Kept as attributes too: reading one costs what reading a field does.
        for name, value in self.declared.items():
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        """A declared setting's value: read at load, or now for a package declared since
        (from the environment and the overrides the settings were loaded with)."""
        if name.startswith("_") or name in ("declared", "overrides"):
            raise AttributeError(name)
        values = self.declared
        if name in values:
            return values[name]
        setting = _DECLARED.get(name)
        if setting is None:
            raise AttributeError(f"no setting named {name}")
        values[name] = value = setting.value(self.overrides)
        object.__setattr__(self, name, value)
        return value

    def replaced(self, **changes) -> Settings:
        """A copy with some values changed, core or declared."""
        core = {k: v for k, v in changes.items() if k in _CORE}
        declared = {k: v for k, v in changes.items() if k not in _CORE}
        return replace(self, **core, declared={**self.declared, **declared})


@dataclass(frozen=True)
class Setting:
    """One variable of the public contract that a package declares (a channel lists its
    own on its spec): read from the environment by `load_settings` like the core's, listed
    in .env.example (tests/test_settings_documented.py checks it)."""

    name: str
    default: str | int | float = ""
    doc: str = ""  # one line, as .env.example explains it
    secret: bool = False  # a password or token: never shown
    # Checked at start: (its value, all settings) -> what is wrong, or None.
    check: Callable[[Any, Settings], str | None] | None = None

    def value(self, overrides: dict):
        """Its value: an override as given, else the environment's string typed as the
        default is, else the default."""
        if self.name in overrides:
            return overrides[self.name]
        raw = os.environ.get(self.name)
        if raw is None or raw == "":
            return self.default
        return _typed(type(self.default).__name__, self.name, raw)


_DECLARED: dict[str, Setting] = {}


def declare(settings: Iterable[Setting]) -> None:
    """Adds a package's settings to the contract (a channel's, when it registers)."""
    for setting in settings:
        known = _DECLARED.get(setting.name)
        if known is not None and known != setting:
            raise ValueError(f"{setting.name} is declared twice, differently")
        _DECLARED[setting.name] = setting


def declared_settings() -> list[Setting]:
    return list(_DECLARED.values())


_CORE = tuple(f.name for f in fields(Settings) if f.name not in ("declared", "overrides"))


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def load_settings(overrides: dict | None = None, *, dotenv: bool = True) -> Settings:
    """Builds the settings from `.env`, the environment, then `overrides`."""
    if dotenv:
        load_dotenv(Path.cwd() / ".env", override=False)
    values: dict = {}
    for name in _CORE:
        raw = os.environ.get(name)
        if raw is not None and raw != "":
            values[name] = _typed(Settings.__dataclass_fields__[name].type, name, raw)
    overrides = overrides or {}
    values.update({k: v for k, v in overrides.items() if k in _CORE})
    rest = {k: v for k, v in overrides.items() if k not in _CORE}
    declared = {s.name: s.value(rest) for s in _DECLARED.values()}
    settings = Settings(**values, declared=declared, overrides=rest)
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
    if settings.PROXY_FIX_HOPS < 0:
        raise ConfigError("PROXY_FIX_HOPS is the number of proxies in front of the app: 0 or more")
    for setting in _DECLARED.values():
        problem = setting.check and setting.check(getattr(settings, setting.name), settings)
        if problem:
            raise ConfigError(problem)
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
