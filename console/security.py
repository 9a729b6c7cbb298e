"""Guards on every console URL: login, CSRF on POST, security headers."""

from __future__ import annotations

from flask import Flask, request
from flask_login import current_user

from console import bp, csrf
from console.auth import login_manager
from services.page_policy import content_security_policy
from services.runtime import current_runtime

# What may be reached without a session: the login form and the stylesheets it needs.
PUBLIC_ENDPOINTS = {"console.login", "console.language", "console.static"}
# Uploads larger than the app's limit, set before the CSRF check reads the form.
UPLOAD_LIMITS: dict[str, int] = {}


@bp.before_request
def require_login():
    """Sends strangers to the login page (pages) or answers 401 (actions, data)."""
    if request.endpoint not in PUBLIC_ENDPOINTS and not current_user.is_authenticated:
        return login_manager.unauthorized()
    if request.method == "POST":
        if request.endpoint in UPLOAD_LIMITS:
            request.max_content_length = UPLOAD_LIMITS[request.endpoint]
        csrf.protect()
    return None


def _headers(response):
    """The console's own, stricter than every response's (app.factory adds the rest, and HSTS)."""
    if not request.path.startswith(bp.url_prefix or "/console"):
        return response
    response.headers["Content-Security-Policy"] = content_security_policy(
        current_runtime().settings
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint != "console.static":
        # Pages show citizens' data: never kept by a shared cache or the back button.
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_headers)


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
def error_page(error):
    """Says what went wrong in the console's own layout (JSON for the simulator's calls)."""
    from flask import jsonify, render_template
    from flask_babel import gettext as _

    code = getattr(error, "code", 400) or 400
    if request.is_json or request.path.startswith(f"{bp.url_prefix}/simulator/"):
        return jsonify(error=getattr(error, "description", "")), code
    titles = {
        400: (_("Request refused"), _("The form had expired or was incomplete. Please try again.")),
        403: (_("Not allowed"), _("This page is for administrators.")),
        404: (_("Not found"), _("This page does not exist, or you may not see it.")),
    }
    title, text = titles.get(code, titles[400])
    return render_template("console/error.html", code=code, title=title, text=text), code
