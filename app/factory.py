"""The application factory."""

from __future__ import annotations

import gc
import threading

from flask import Flask, Request, Response, current_app, jsonify
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from werkzeug.middleware.proxy_fix import ProxyFix

import webhooks  # noqa: F401  (registers every channel: services/channels.py)
from app import access_log
from app.background import warm_reader
from models.db import Database
from services import channels
from services.catalog import CatalogCache
from services.config import load_settings
from services.runtime import Runtime, current_runtime

# Webhooks never need more: a Telegram update or a Twilio form is a few kilobytes
# (photos are fetched by URL). Larger bodies are refused before they are read.
MAX_BODY_BYTES = 1 * 1024 * 1024

# Every response carries these; a blueprint with stricter needs sets its own first (the
# console: console/security.py; the link page: webhooks/link.py's _secured).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    # The link page asks for the citizen's position ("use my position"): ours alone may.
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(self)",
}
# A page may load our own files; anything else (JSON, XML, feeds) loads nothing at all.
PAGE_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"


def create_app(test_config: dict | None = None, *, web: bool = True) -> Flask:
    """Builds the app: settings, database, channels, console.

    `web=False` leaves out the pages (console, public site, API, webhooks' routes): a
    command line that serves no request starts without importing them.
    """
    test_config = dict(test_config or {})
    settings = load_settings(test_config, dotenv=not test_config.get("TESTING"))
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(
        SECRET_KEY=settings.SECRET_KEY,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.PUBLIC_BASE_URL.startswith("https://"),
    )
    app.config.update({k: v for k, v in test_config.items() if k.isupper()})
    app.session_interface = ProvidersCarryNoSession()
    db = Database(settings.DATABASE_URL)
    app.extensions["webleads"] = Runtime(
        settings=settings,
        db=db,
        catalog=CatalogCache(),
        geocoder=LazyGeocoder(settings, db),
    )
    if not web:
        return app
    _register_blueprints(app)
    _secure(app, settings.PUBLIC_BASE_URL.startswith("https://"))
    if settings.PROXY_FIX_HOPS:
        # Behind nginx, the client's address, scheme and host come from X-Forwarded-*
        # (the login's throttle counts per client). Only that many hops are believed: a
        # client cannot pass for another by sending the headers itself.
        hops = settings.PROXY_FIX_HOPS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    access_log.install(app.logger)
    if not app.config.get("TESTING"):  # the reader's first guess costs 2-3 s: pay it now
        threading.Thread(target=_warm_reader, args=(app,), name="warm-reader", daemon=True).start()
        # What start-up built lives as long as the server: the collector's full passes no
        # longer walk it, a pause every few hundred requests (the webhook's p99). Not in
        # tests, which build and drop an app per test.
        gc.freeze()
    return app


def _warm_reader(app: Flask) -> None:
    warm_reader(app.extensions["webleads"])


class ProvidersCarryNoSession(SecureCookieSessionInterface):
    """Flask's cookie session, but none for the providers' webhooks (`/webhooks/...`): they
    never send a cookie, and opening and saving an empty session was a twentieth of a
    Telegram update's CPU."""

    def open_session(self, app: Flask, request: Request):
        if request.path.startswith("/webhooks/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


class LazyGeocoder:
    """The geocoder GEOCODER names, built when first used: a command that never looks up
    an address neither imports the geocoders nor asks the database which one applies (nor
    prints the notice that an unset GEOCODER searches the imported addresses)."""

    def __init__(self, settings, db) -> None:
        self._settings, self._db = settings, db
        self._geocoder = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        with self._lock:
            if self._geocoder is None:
                from services.geocoders import make_geocoder

                self._geocoder = make_geocoder(self._settings, self._db)
        return getattr(self._geocoder, name)


def _secure(app: Flask, https: bool) -> None:
    """Adds the security headers to every response, HSTS when the public URL is https.

    A header the view set itself is kept. The missing ones are added in one `extend`:
    `setdefault` scans the headers once for each name, which cost every webhook answer
    as much as its own parsing."""
    # From the setting, not request.is_secure: behind the proxy, the app speaks HTTP.
    hsts = [("Strict-Transport-Security", HSTS)] if https else []
    common = [*SECURITY_HEADERS.items(), *hsts]
    by_kind = {
        page: [(name.lower(), name, value) for name, value in
               [*common, ("Content-Security-Policy", PAGE_POLICY if page else DATA_POLICY)]]
        for page in (True, False)
    }  # fmt: skip

    @app.after_request
    def security_headers(response: Response) -> Response:
        present = {name.lower() for name, _ in response.headers}
        response.headers.extend(
            (name, value)
            for key, name, value in by_kind[response.mimetype == "text/html"]
            if key not in present
        )
        return response


def _register_blueprints(app: Flask) -> None:
    import console
    import public
    from api import open311

    for channel in channels.all_channels():
        for blueprint in channel.blueprints:
            app.register_blueprint(blueprint)
    app.register_blueprint(open311.bp)
    console.init_app(app)
    public.init_app(app)

    @app.errorhandler(DBAPIError)
    def database_unavailable(exc):
        # The transaction was rolled back: nothing is half-written. 503 tells Telegram and
        # Twilio to deliver the message again later, which then succeeds.
        current_app.logger.warning("database error, answered 503: %s", exc)
        return jsonify(status="error", error="database unavailable"), 503, {"Retry-After": "5"}

    @app.get("/healthz")
    def healthz():
        try:
            with current_runtime().db.reading() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:  # the point is to say so, not to crash
            return jsonify(status="error", database=type(exc).__name__), 503
        return jsonify(status="ok")
