"""Telegram channel (being built: see issue 4)."""

from __future__ import annotations

import click
from flask import Blueprint

bp = Blueprint("telegram", __name__)


@click.group("telegram")
def telegram_cli() -> None:
    """Telegram: webhook setup and bot information."""
