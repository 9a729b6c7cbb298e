"""SMS channel through Twilio (being built: see issue 5)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sms", __name__)
