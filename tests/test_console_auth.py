"""The console's authentication under attack: throttling that stops guessing without
locking the agent out (behind the reverse proxy too), the same work for known and unknown
emails, sessions that end when they should, security headers on every response, and
access logs that never show a link token or an API key."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argon2
import pytest

from app.cli import cli
from app.factory import create_app
from models.agent import Agent, agent_by_email, services_of_agent
from tests.conftest import base_config
from tests.helpers import PASSWORD, make_agent, report_by

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|data-csrf="([^"]+)"')
LEA = "lea@vitre.example"


class Browser:
    """One browser at one address, straight to the app or through the town's proxy."""

    def __init__(self, app, address: str, *, proxied: bool = False) -> None:
        self.client = app.test_client()
        if proxied:
            # The proxy (127.0.0.1, the test client's own address) says who the client is;
            # over https a browser's form carries its page as Referer (Flask-WTF checks it).
            self.via = {
                "headers": {
                    "X-Forwarded-For": address,
                    "X-Forwarded-Proto": "https",
                    "X-Forwarded-Host": "signalements.vitre.example",
                    "Referer": "https://signalements.vitre.example/console/login",
                }
            }
        else:
            self.via = {"environ_base": {"REMOTE_ADDR": address}}
        self.csrf = ""

    def get(self, path: str):
        return self.client.get(path, **self.via)

    def post(self, path: str, data: dict):
        return self.client.post(path, data={**data, "csrf_token": self.token()}, **self.via)

    def token(self) -> str:
        """The session's CSRF token, read from the page a real browser would show."""
        if not self.csrf:
            page = self.get("/console/login").get_data(as_text=True)
            if "csrf_token" not in page:  # logged in: the login page redirects
                page = self.get("/console/simulator").get_data(as_text=True)
            match = CSRF_RE.search(page)
            self.csrf = match.group(1) or match.group(2)
        return self.csrf

    def log_in(self, email: str, password: str) -> int:
        status = self.post("/console/login", {"email": email, "password": password}).status_code
        if status == 302:
            self.csrf = ""  # logging in starts a fresh session, with a new token
        return status

    def log_out(self) -> int:
        status = self.post("/console/logout", {}).status_code
        self.csrf = ""  # a new session, a new token
        return status


@pytest.fixture
def proxied(database_url, tmp_path):
    """The app as the README deploys it: behind one reverse proxy that sets X-Forwarded-*."""
    app = create_app({**base_config(database_url, tmp_path), "PROXY_FIX_HOPS": 1})
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def argon2_checks(monkeypatch) -> list[dict]:
    """Every argon2 verification the app makes, with the cost parameters of the hash used."""
    checks: list[dict] = []
    real_verify = argon2.PasswordHasher.verify

    def verify(self, stored, password):
        text = stored if isinstance(stored, str) else stored.decode()
        checks.append({"hash": text, "parameters": argon2.extract_parameters(text)})
        return real_verify(self, stored, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)
    return checks


def password_hash(rt, email: str) -> str:
    with rt.db.reading() as session:
        return agent_by_email(session, email).password_hash


# --- throttling -------------------------------------------------------------------------


def test_a_guessing_client_behind_the_proxy_does_not_lock_the_agent_out(proxied):
    rt = proxied.extensions["webleads"]
    make_agent(rt, LEA)
    guesser = Browser(proxied, "203.0.113.66", proxied=True)
    assert [guesser.log_in(LEA, f"guess {n}") for n in range(5)] == [401] * 5
    # The guessing client is stopped, even with the right password now...
    assert guesser.log_in(LEA, PASSWORD) == 429
    # ...but Léa, at her own address behind the same proxy, logs in.
    lea = Browser(proxied, "198.51.100.7", proxied=True)
    assert lea.log_in(LEA, PASSWORD) == 302
    assert lea.get("/console/reports").status_code == 200


def test_without_a_proxy_a_forged_forwarded_for_header_does_not_dodge_the_limit(app):
    rt = app.extensions["webleads"]
    make_agent(rt, LEA)
    guesser = Browser(app, "203.0.113.66")
    statuses = []
    for n in range(7):
        forged = {"X-Forwarded-For": f"192.0.2.{n}"}
        guesser.via = {"environ_base": {"REMOTE_ADDR": "203.0.113.66"}, "headers": forged}
        statuses.append(guesser.log_in(LEA, f"guess {n}"))
    assert statuses == [401] * 5 + [429] * 2


def test_an_ipv6_client_changing_address_within_its_64_is_still_one_client(app):
    rt = app.extensions["webleads"]
    make_agent(rt, LEA)
    statuses = [Browser(app, f"2001:db8:1:2::{n:x}").log_in(LEA, "guess") for n in range(1, 7)]
    assert statuses == [401] * 5 + [429]
    assert Browser(app, "2001:db8:1:3::1").log_in(LEA, PASSWORD) == 302  # the next /64


def test_spraying_many_accounts_from_one_address_is_stopped(app):
    rt = app.extensions["webleads"]
    emails = [f"agent{i}@vitre.example" for i in range(8)]  # a guessed list: one is real
    make_agent(rt, emails[0])
    sprayer = Browser(app, "203.0.113.66")
    # 40 guesses, 5 per account: each account alone stays under its limit of 5.
    statuses = [sprayer.log_in(email, f"guess {n}") for n in range(5) for email in emails]
    assert statuses.count(401) == 20 and statuses[20:] == [429] * 20
    # Only that address is stopped: the agents log in from their own.
    assert Browser(app, "198.51.100.7").log_in(emails[0], PASSWORD) == 302


def test_guessing_one_account_from_many_addresses_spares_the_agents_own_browser(app, monkeypatch):
    from console import throttle

    rt = app.extensions["webleads"]
    make_agent(rt, LEA)
    lea = Browser(app, "198.51.100.7")
    assert lea.log_in(LEA, PASSWORD) == 302  # Léa has used this browser before
    assert lea.log_out() == 302
    # The real cap (50) is lowered so the test needs 15 argon2 checks, not 50.
    monkeypatch.setattr(throttle, "MAX_FAILURES_ACCOUNT", 15)
    for n in range(3):  # 15 guesses from 3 addresses, 5 each: no address over its limit
        guesser = Browser(app, f"203.0.113.{n}")
        assert [guesser.log_in(LEA, f"guess {n}.{k}") for k in range(5)] == [401] * 5
    newcomer = Browser(app, "203.0.113.200")
    assert newcomer.log_in(LEA, "one more guess") == 429  # not checked
    assert newcomer.log_in(LEA, PASSWORD) == 429  # a new browser waits, even with the password
    assert lea.log_in(LEA, PASSWORD) == 302  # Léa's own browser is not locked out


def test_a_site_wide_cap_stops_guessing_from_new_browsers_only(app, monkeypatch):
    from console import throttle

    rt = app.extensions["webleads"]
    make_agent(rt, LEA)
    lea = Browser(app, "198.51.100.7")
    assert lea.log_in(LEA, PASSWORD) == 302 and lea.log_out() == 302
    # The real cap (hundreds of guesses) is lowered so the test needs a dozen argon2 checks.
    monkeypatch.setattr(throttle, "MAX_FAILURES_SITE", 12)
    for n in range(4):
        guesser = Browser(app, f"203.0.113.{n}")
        for k in range(3):
            assert guesser.log_in(f"someone{n}.{k}@vitre.example", "guess") == 401
    assert Browser(app, "203.0.113.99").log_in("another@vitre.example", "guess") == 429
    assert lea.log_in(LEA, PASSWORD) == 302


def test_concurrent_wrong_passwords_are_checked_at_most_five_times(app, argon2_checks):
    rt = app.extensions["webleads"]
    make_agent(rt, LEA)
    browsers = [Browser(app, "203.0.113.66") for _ in range(20)]
    for browser in browsers:
        browser.token()
    start = threading.Barrier(len(browsers))

    def guess(browser: Browser) -> int:
        start.wait()
        return browser.log_in(LEA, "wrong password")

    with ThreadPoolExecutor(len(browsers)) as pool:
        statuses = list(pool.map(guess, browsers))
    assert sorted(statuses) == [401] * 5 + [429] * 15, f"{statuses.count(401)} guesses checked"
    assert len(argon2_checks) == 5


# --- timing -----------------------------------------------------------------------------


def test_an_unknown_email_costs_the_same_password_check_as_a_known_one(app, argon2_checks):
    rt = app.extensions["webleads"]
    make_agent(rt, LEA)
    make_agent(rt, "former@vitre.example")
    with rt.db.transaction() as session:
        agent_by_email(session, "former@vitre.example").active = False
    real = argon2.extract_parameters(password_hash(rt, LEA))
    browser = Browser(app, "198.51.100.7")
    for email in (LEA, "nobody@vitre.example", "former@vitre.example"):
        argon2_checks.clear()
        assert browser.log_in(email, "a wrong password") == 401
        assert [check["parameters"] for check in argon2_checks] == [real], email


# --- sessions ---------------------------------------------------------------------------


def _log_out(app, lea: Browser, admin: Browser, lea_id: int) -> None:
    assert lea.log_out() == 302


def _admin_saves(admin: Browser, app, lea_id: int, **changes) -> None:
    rt = app.extensions["webleads"]
    with rt.db.reading() as session:
        agent = session.get(Agent, lea_id)
        services = services_of_agent(session, lea_id)
        form = {"email": agent.email, "name": agent.name, "role": agent.role, "active": "y"}
    form = {**form, "services": [str(s) for s in services], **changes}
    form = {key: value for key, value in form.items() if value is not None}
    response = admin.post(f"/console/admin/agents/{lea_id}", form)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]


def _password_changed_in_the_console(app, lea, admin, lea_id) -> None:
    _admin_saves(admin, app, lea_id, password="a brand new password")


def _password_reset_with_the_cli(app, lea, admin, lea_id) -> None:
    result = app.test_cli_runner().invoke(
        cli, ["create-agent", LEA, "--password", "a brand new password"]
    )
    assert result.exit_code == 0, result.output


def _role_changed(app, lea, admin, lea_id) -> None:
    _admin_saves(admin, app, lea_id, role="admin")


def _deactivated(app, lea, admin, lea_id) -> None:
    _admin_saves(admin, app, lea_id, active=None)


SESSION_ENDINGS = [
    ("logout", _log_out),
    ("password changed in the console", _password_changed_in_the_console),
    ("password reset with create-agent", _password_reset_with_the_cli),
    ("role changed", _role_changed),
    ("deactivated", _deactivated),
]


@pytest.mark.parametrize(("label", "event"), SESSION_ENDINGS, ids=[e[0] for e in SESSION_ENDINGS])
def test_a_copied_session_cookie_no_longer_opens_the_console_after(app, label, event):
    rt = app.extensions["webleads"]
    number = report_by(rt, "marie")
    lea_id = make_agent(rt, LEA)
    make_agent(rt, "chef@vitre.example", role="admin")
    admin = Browser(app, "198.51.100.1")
    assert admin.log_in("chef@vitre.example", PASSWORD) == 302
    lea = Browser(app, "198.51.100.7")
    assert lea.log_in(LEA, PASSWORD) == 302
    copy = app.test_client()
    copy.set_cookie("session", lea.client.get_cookie("session").value)
    assert copy.get(f"/console/reports/{number}").status_code == 200
    event(app, lea, admin, lea_id)
    page = copy.get(f"/console/reports/{number}")
    assert page.status_code == 302 and page.headers["Location"].startswith("/console/login")
    assert admin.get(f"/console/reports/{number}").status_code == 200  # only Léa's sessions


def test_logging_in_again_after_a_password_reset_works(app):
    rt = app.extensions["webleads"]
    make_agent(rt, LEA)
    lea = Browser(app, "198.51.100.7")
    assert lea.log_in(LEA, PASSWORD) == 302
    _password_reset_with_the_cli(app, lea, None, None)
    assert lea.get("/console/reports").status_code == 302
    lea.csrf = ""
    assert lea.log_in(LEA, "a brand new password") == 302
    assert lea.get("/console/reports").status_code == 200


# --- headers ----------------------------------------------------------------------------

# (label, method, path): one of each kind of response the app gives.
EVERY_KIND = [
    ("health", "GET", "/healthz"),
    ("open311 services", "GET", "/open311/v2/services.json"),
    ("open311 not found", "GET", "/open311/v2/requests/999999.json"),
    ("link page", "GET", "/r/not-a-real-token"),
    ("console login", "GET", "/console/login"),
    ("console page logged out", "GET", "/console/reports"),
    ("telegram webhook", "POST", "/webhooks/telegram"),
    ("sms webhook", "POST", "/webhooks/sms"),
    ("nothing here", "GET", "/no-such-page"),
]


@pytest.mark.parametrize(("label", "method", "path"), EVERY_KIND, ids=[k[0] for k in EVERY_KIND])
def test_every_response_carries_the_security_headers(app, label, method, path):
    # Plain HTTP to the app, as from the proxy: PUBLIC_BASE_URL (https) decides HSTS.
    headers = dict(app.test_client().open(path, method=method).headers)
    assert headers.get("X-Content-Type-Options") == "nosniff", headers
    assert headers.get("Strict-Transport-Security") == "max-age=31536000", headers
    assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), headers
    assert headers.get("Referrer-Policy") in ("same-origin", "strict-origin"), headers
    assert headers.get("X-Frame-Options") == "DENY", headers


def test_each_page_keeps_its_own_stricter_policy(app):
    client = app.test_client()
    console = dict(client.get("/console/login").headers)
    assert "https://tile.openstreetmap.org" in console["Content-Security-Policy"]
    assert "geolocation=()" in console["Permissions-Policy"]
    assert console["Cache-Control"] == "no-store"
    link = dict(client.get("/r/not-a-real-token").headers)
    assert "base-uri 'none'" in link["Content-Security-Policy"]
    assert link["Referrer-Policy"] == "strict-origin"  # the token never leaves in a Referer
    assert "geolocation=()" not in link.get("Permissions-Policy", "")  # "use my position"
    api = dict(client.get("/open311/v2/services.json").headers)
    assert api.get("Content-Security-Policy", "").startswith("default-src 'none'"), api


def test_no_hsts_when_the_public_url_is_plain_http(database_url, tmp_path):
    app = create_app(
        {**base_config(database_url, tmp_path), "PUBLIC_BASE_URL": "http://localhost:5000"}
    )
    try:
        headers = dict(app.test_client().get("/healthz").headers)
        assert "Strict-Transport-Security" not in headers
        assert headers.get("X-Content-Type-Options") == "nosniff", headers
    finally:
        app.extensions["webleads"].db.dispose()


def test_behind_the_proxy_the_app_sees_the_client_scheme_and_host(proxied):
    from flask import request

    @proxied.get("/_who")
    def who():
        return {"address": request.remote_addr, "scheme": request.scheme, "host": request.host}

    seen = (
        proxied.test_client()
        .get(
            "/_who",
            headers={
                "X-Forwarded-For": "198.51.100.7",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "signalements.vitre.example",
            },
        )
        .get_json()
    )
    assert seen == {
        "address": "198.51.100.7",
        "scheme": "https",
        "host": "signalements.vitre.example",
    }


# --- access logs ------------------------------------------------------------------------

SECRET_TOKEN = "eyJuIjoxMDAxfQ.secret-link-token"
SECRET_KEY_VALUE = "k3y-0f-th3-t0wns-t00l"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> None:
    with contextlib.suppress(urllib.error.HTTPError):  # a 404 is logged all the same
        urllib.request.urlopen(url, timeout=10).read()


def test_the_dev_server_log_masks_link_tokens_and_api_keys(app, caplog):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            _get(f"{base}/r/{SECRET_TOKEN}")
            _get(f"{base}/open311/v2/requests.json?status=open&api_key={SECRET_KEY_VALUE}")
    finally:
        server.shutdown()
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/r/" in line for line in lines) and any("/open311/" in line for line in lines)
    log = "\n".join(lines)
    assert SECRET_TOKEN not in log and "secret-link-token" not in log
    assert SECRET_KEY_VALUE not in log
    assert "status=open" in log  # the rest of the line is kept


def test_an_error_on_a_link_page_is_logged_without_its_token(app, caplog):
    @app.get("/r/<token>/broken")
    def broken(token):
        raise RuntimeError("a bug on the link page")

    app.testing = False  # answer 500 and log, as in production
    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        response = app.test_client().get(f"/r/{SECRET_TOKEN}/broken?api_key={SECRET_KEY_VALUE}")
    assert response.status_code == 500
    logged = [r.getMessage() for r in caplog.records if r.name == app.logger.name]
    assert logged and "Exception on /r/***" in logged[0]
    assert not any(SECRET_TOKEN in line or SECRET_KEY_VALUE in line for line in logged)


def test_gunicorns_access_log_masks_link_tokens_and_api_keys(database_url, tmp_path):
    port = _free_port()
    access_log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "gunicorn-test-secret",
        "GEOCODER": "none",
        "MEDIA_DIR": str(tmp_path / "media"),
        "PUBLIC_BASE_URL": "https://webleads.example.org",
    }
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            str(access_log),
            "--chdir",
            str(tmp_path),
            "--pythonpath",
            str(root),
            "app.factory:create_app()",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"gunicorn did not start: {server.stderr.read().decode()[-2000:]}")
                time.sleep(0.1)
        _get(f"{base}/r/{SECRET_TOKEN}")
        _get(f"{base}/open311/v2/requests.json?status=open&api_key={SECRET_KEY_VALUE}")
        deadline = time.monotonic() + 10
        while access_log.read_text().count("\n") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(timeout=10)
    log = access_log.read_text()
    assert "/r/" in log and "/open311/v2/requests.json" in log
    assert "secret-link-token" not in log and SECRET_KEY_VALUE not in log
    assert "status=open" in log


def test_a_guest_wifi_behind_the_office_address_never_locks_the_agents_out(app):
    """The review's case: every agent of the town hall shares one address; someone on the
    guest Wi-Fi behind it sprays passwords. Their guesses stop; the agents' own browsers
    (they logged in with them before) keep working, still capped at 5 wrong of their own."""
    rt = app.extensions["webleads"]
    make_agent(rt, LEA)
    lea = Browser(app, "192.0.2.10")
    assert lea.log_in(LEA, PASSWORD) == 302 and lea.log_out() == 302
    guest = Browser(app, "192.0.2.10")  # the same office address
    statuses = [guest.log_in(f"agent{n % 8}@vitre.example", f"guess {n}") for n in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    assert guest.log_in(LEA, "guess") == 429
    assert lea.log_in(LEA, PASSWORD) == 302  # Léa's browser is not the guest's
    assert lea.log_out() == 302
    assert [lea.log_in(LEA, f"typo {n}") for n in range(6)] == [401] * 5 + [429]
