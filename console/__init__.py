"""The agents' console: queue, report pages, dashboard, undelivered messages, simulator,
and the admin pages (settings, the pilot, the launch kit, Open311 API keys, the audit log).

`init_app(app)` is the single entry point (app/factory.py calls it): it registers the
blueprint and hooks in what the console needs, for the console's URLs only:
Flask-Login sessions, Flask-WTF CSRF checks on every POST, Flask-Babel (French by
default, English too; the console's own catalog is under console/translations) and
security headers.

Texts: `_()` in Python and templates. After changing them (the catalog keeps its header,
whose Plural-Forms French needs, and stays sorted without source locations):
    pybabel extract -F console/babel.cfg -k _ -k _l --no-location --sort-output -w 100 \
        -o instance/console.pot .
    pybabel update -i instance/console.pot -d console/translations -w 100 \
        --no-fuzzy-matching --ignore-obsolete
    pybabel compile -d console/translations
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = ("fr", "en")
# The largest key of a table (PostgreSQL's integer, SQLite takes more).
MAX_ROW_ID = 2**31 - 1
csrf = CSRFProtect()


class RowId(IntegerConverter):
    """`<int:...>` in a URL: a row's id. A larger number is a 404, never a database error."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Registers the console and its extensions on the app."""
    from console import (  # noqa: F401  (the modules register their routes on bp)
        admin,
        apikeys,
        auditlog,
        auth,
        bodies,
        counter,
        dashboard,
        nlu,
        oncall,
        open311_forwards,
        outbox,
        phone,
        queue,
        report,
        rollout,
        security,
        simulator,
    )

    # CSRF is checked by the console's own before_request: the webhooks' POSTs are
    # signed by their providers and must not need a token.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's life
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Paris")
    csrf.init_app(app)
    Babel(app, locale_selector=_locale)
    auth.login_manager.init_app(app)
    # Before the blueprint: its rules take the converter when they are added.
    app.url_map.converters["int"] = RowId
    app.register_blueprint(bp)
    security.init_app(app)


def _locale() -> str:
    """The agent's chosen language, else the town's default."""
    chosen = session.get("console_lang") if request else None
    if chosen in LANGUAGES:
        return chosen
    from services.runtime import current_runtime

    return current_runtime().settings.DEFAULT_LANGUAGE


@bp.context_processor
def _template_helpers() -> dict:
    from flask_babel import get_locale

    from services.runtime import current_runtime

    rt = current_runtime()

    def town_name() -> str:
        with rt.db.reading() as db:
            return rt.catalog.get(db).area_name

    def map_tiles():
        from services.maps import map_tiles as tiles

        return tiles(rt.settings)

    def map_center() -> list[float]:
        """The middle of the town's boundary, else of France: where maps open."""
        from shapely.geometry import shape

        from models.zone import BOUNDARY, active_zones

        with rt.db.reading() as db:
            zones = [z for z in active_zones(db) if z.kind == BOUNDARY]
        if not zones:
            return [46.6, 2.4, 5]
        point = shape(zones[0].geometry).centroid
        return [point.y, point.x, 13]

    from console.present import report_answers, urgency_reason

    return {
        "report_answers": report_answers,
        "urgency_reason": urgency_reason,
        "map_center": map_center,
        "current_lang": lambda: str(get_locale() or "fr")[:2],
        "town_name": town_name,
        "map_tiles": map_tiles,
    }
