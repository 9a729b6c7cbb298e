"""The Telegram webhook: `POST /webhooks/telegram` checks the secret header, parses the
Update (webhooks/telegram/inbound.py) and hands it to the engine."""

from __future__ import annotations

import hmac

from flask import Blueprint, request

from bot import engine
from services.runtime import current_runtime
from webhooks.telegram.inbound import CHANNEL, handle_update, parse_update
from webhooks.telegram.settings import enabled
from webhooks.telegram.shape import NotAnUpdate

PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

bp = Blueprint("telegram", __name__)


@bp.post(PATH)
def webhook():
    """Receives one Update: checks the secret, parses, hands it to the engine."""
    rt = current_runtime()
    settings = rt.settings
    if not enabled(settings):
        return "Telegram is not configured here.", 404
    if not secret_matches(request.headers.get(SECRET_HEADER), settings.TELEGRAM_WEBHOOK_SECRET):
        return "", 403
    try:
        update = parse_update(request.get_json(force=True, silent=True))
    except NotAnUpdate:
        return "Not a Telegram update.", 400
    if update is not None:  # None: acknowledged all the same, or Telegram retries it
        with engine.acknowledged(rt, CHANNEL, str(update.update_id)):
            handle_update(rt, update)
    return "", 200


def secret_matches(given: str | None, expected: str) -> bool:
    """Compares the secret header in constant time."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
