"""Who is using the console: login (rate-limited), logout, roles, what an agent may see."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from bot.runtime import current_runtime
from bot.security import verify_password
from console import LANGUAGES, bp
from models.agent import Agent, agent_by_email, services_of_agent
from models.console import clear_failures, recent_failures, record_failure
from models.db import utcnow
from models.report import Report

# Five wrong passwords for one email from one address: wait until the oldest is 15 min old.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)

# Data for scripts and downloads: a 401 there, where a redirect would feed them a form.
DATA_SUFFIXES = (".json", ".csv")

login_manager = LoginManager()
login_manager.login_view = "console.login"
login_manager.login_message = _l("Please log in to use the console.")
login_manager.login_message_category = "info"


@dataclass(frozen=True)
class ConsoleUser:
    """The logged-in agent, loaded once per request (no ORM object kept around)."""

    id: int
    email: str
    name: str
    role: str
    service_ids: tuple[int, ...]

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def visible_services(self) -> tuple[int, ...] | None:
        """The services whose reports this user sees; None means all (admin)."""
        return None if self.is_admin else self.service_ids

    def can_see(self, report: Report) -> bool:
        return self.is_admin or report.service_id in self.service_ids


@login_manager.user_loader
def load_user(user_id: str) -> ConsoleUser | None:
    """Loads the agent of the session; a deactivated agent is logged out at once."""
    if not user_id.isdigit():
        return None
    with current_runtime().db.reading() as db:
        agent = db.get(Agent, int(user_id))
        if agent is None or not agent.active:
            return None
        return _user(agent, services_of_agent(db, agent.id))


def _user(agent: Agent, service_ids: list[int]) -> ConsoleUser:
    return ConsoleUser(agent.id, agent.email, agent.name, agent.role, tuple(sorted(service_ids)))


@login_manager.unauthorized_handler
def unauthorized():
    """Pages redirect to the login form; actions and data answer 401."""
    if request.method == "GET" and not request.path.endswith(DATA_SUFFIXES):
        flash(str(login_manager.login_message), "info")
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    abort(401)


def admin_required(view):
    """Lets only admins through (403 for agents)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=512)])


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Shows the login form and logs the agent in."""
    if current_user.is_authenticated:
        return redirect(url_for("console.queue"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        error, user = _check_credentials(email, form.password.data, _client_ip())
        if user is not None:
            session.clear()  # a fresh session: nothing from before the login survives
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash(error, "error")
        status = 429 if "minute" in error else 401
    elif request.method == "POST":
        status = 400
    return render_template("console/login.html", form=form), status


def _check_credentials(email: str, password: str, ip: str) -> tuple[str, ConsoleUser | None]:
    """Returns (error, None) or ("", the user); counts failures per email and address."""
    rt = current_runtime()
    with rt.db.transaction() as db:
        failures = recent_failures(db, email, ip, FAILURE_WINDOW)
        if len(failures) >= MAX_FAILURES:
            wait = failures[-MAX_FAILURES] + FAILURE_WINDOW - utcnow()
            minutes = max(1, math.ceil(wait.total_seconds() / 60))
            return _(
                "Too many failed attempts. Please try again in %(n)d minutes.", n=minutes
            ), None
        agent = agent_by_email(db, email)
        if agent is None or not agent.active or not verify_password(agent.password_hash, password):
            record_failure(db, email, ip)
            return _("Wrong email or password."), None
        clear_failures(db, email, ip, older_than=FAILURE_WINDOW)
        return "", _user(agent, services_of_agent(db, agent.id))


def _client_ip() -> str:
    # Behind a proxy, the deployment sets ProxyFix so remote_addr is the client's.
    return request.remote_addr or "unknown"


def _safe_next(target: str | None) -> str:
    """Follows `next` only to a console page of this site (no open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.queue")


@bp.post("/logout")
def logout():
    """Logs the agent out."""
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("console.login"))


@bp.get("/language/<code>")
def language(code: str):
    """Switches the console's language for this session."""
    if code in LANGUAGES:
        session["console_lang"] = code
    return redirect(_safe_next(request.args.get("next")))
