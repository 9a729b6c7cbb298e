"""The agents' console (being built: see issue 6)."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("console", __name__, url_prefix="/console")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
