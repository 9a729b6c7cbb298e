"""Who is using the console: login (throttled: console/throttle.py), sessions that end
with a logout, a password reset, a role change or a deactivation, roles, what an agent
may see."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache, wraps

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from console import LANGUAGES, bp, throttle
from models.agent import Agent, agent_by_email, end_sessions, services_of_agent
from models.commune import agent_communes
from models.console import count_attempt, forget_attempt, throttle_ends
from models.db import utcnow
from models.report import Report
from models.scope import AgentScope
from services import access
from services.runtime import current_runtime
from services.security import hash_password, verify_password

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
    session_version: int = 0
    # Several communes: the communes this agent sees (empty: every commune).
    communes: tuple[str, ...] = ()

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return session_user_id(self.id, self.session_version)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def visible_services(self) -> tuple[int, ...] | None:
        """The services whose reports this user sees; None means all (admin)."""
        return self.scope.services

    @property
    def scope(self) -> AgentScope:
        """What this user sees, by the rule the field chat follows too (services/access.py)."""
        return access.scope_for(self.role, self.service_ids, self.communes)

    def can_see(self, report: Report) -> bool:
        return access.sees(self.scope, report)

    @property
    def visible_communes(self) -> tuple[str, ...]:
        """The communes whose reports this user sees; empty means all (admin, or none set).

        Their reports without a commune yet too (models/scope.py).
        """
        return self.scope.communes


def session_user_id(agent_id: int, session_version: int) -> str:
    """Names the agent in a session: its id, and the version the session was opened under."""
    return f"{agent_id}:{session_version}"


@login_manager.user_loader
def load_user(user_id: str) -> ConsoleUser | None:
    """Loads the agent of the session, unless the session has ended since it was opened.

    It ends with the agent's logout, password reset, role change or deactivation (they
    move `agent.session_version`): a copied cookie dies with it.
    """
    agent_id, _colon, version = user_id.partition(":")
    if not (agent_id.isdigit() and version.isdigit()):
        return None
    with current_runtime().db.reading() as db:
        agent = db.get(Agent, int(agent_id))
        if agent is None or not agent.active or agent.session_version != int(version):
            return None
        return _user(agent, services_of_agent(db, agent.id), agent_communes(db, agent.id))


def _user(agent: Agent, service_ids: list[int], communes: tuple[str, ...] = ()) -> ConsoleUser:
    return ConsoleUser(
        agent.id,
        agent.email,
        agent.name,
        agent.role,
        tuple(sorted(service_ids)),
        agent.session_version,
        communes,
    )


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
    status, headers = 200, {}
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        outcome = _check_credentials(email, form.password.data)
        if outcome.user is not None:
            return _logged_in(outcome.user)
        if outcome.retry_at is None:
            flash(_("Wrong email or password."), "error")
            status = 401
        else:
            minutes = max(1, math.ceil((outcome.retry_at - utcnow()).total_seconds() / 60))
            flash(
                _("Too many failed attempts. Please try again in %(n)d minutes.", n=minutes),
                "error",
            )
            status, headers = 429, {"Retry-After": str(minutes * 60)}
    elif request.method == "POST":
        status = 400
    return render_template("console/login.html", form=form), status, headers


@dataclass(frozen=True)
class LoginOutcome:
    """The agent logged in (user), or when a throttled client may try again, or neither."""

    user: ConsoleUser | None = None
    retry_at: datetime | None = None


def _check_credentials(email: str, password: str) -> LoginOutcome:
    """Counts the attempt, then checks the password: the same work for any email."""
    rt = current_runtime()
    secret = current_app.secret_key
    browser = throttle.known_browser(request, secret, email)
    caps = throttle.caps_for(
        secret, email, throttle.client_of(request.remote_addr), known_browser=browser
    )
    with rt.db.transaction() as db:
        over = count_attempt(db, caps, throttle.WINDOW)
        if over is not None:
            return LoginOutcome(retry_at=throttle_ends(db, over, throttle.WINDOW))
        agent = agent_by_email(db, email)
    # After the commit: argon2 takes tens of milliseconds, and an open transaction holds
    # SQLite's one write lock. An unknown email is checked against a stand-in hash, so it
    # answers in the same time as a known one (and an inactive agent's own hash too).
    stored = agent.password_hash if agent is not None else _stand_in_hash()
    if not verify_password(stored, password) or agent is None or not agent.active:
        return LoginOutcome()  # the attempt stays counted
    with rt.db.transaction() as db:
        forget_attempt(db, list(caps))
        agent = db.get(Agent, agent.id)
        if agent is None or not agent.active:
            return LoginOutcome()
        return LoginOutcome(user=_user(agent, services_of_agent(db, agent.id)))


@cache
def _stand_in_hash() -> str:
    """A hash of a password nobody knows, made with the same argon2 cost as agents' ones."""
    return hash_password(secrets.token_urlsafe(24))


def _logged_in(user: ConsoleUser):
    """Opens a fresh session for the agent and remembers the browser."""
    session.clear()  # nothing from before the login survives
    login_user(user)
    response = redirect(_safe_next(request.args.get("next")))
    throttle.remember_browser(
        response,
        request,
        current_app.secret_key,
        user.email,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return response


def _safe_next(target: str | None) -> str:
    """Follows `next` only to a console page of this site (no open redirect).

    A control character (CR/LF) cannot go in a Location header: such a `next` is ignored.
    """
    if target and target.startswith("/console/") and target.isprintable():
        return target
    return url_for("console.queue")


@bp.post("/logout")
def logout():
    """Logs the agent out, on every browser: a copy of the session cookie ends too."""
    with current_runtime().db.transaction() as db:
        end_sessions(db, current_user.id)
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
