"""A live console (werkzeug server in a thread, SQLite file) and one Chromium per module.

Debian's chromium is driven by Playwright through `executable_path`; Playwright never
downloads a browser. Without chromium the browser tests are skipped, except under CI.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.factory import create_app
from app.seed import seed_demo
from models import migrate
from models.db import Database
from services.runtime import Runtime
from tests.conftest import base_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@dataclass
class LiveConsole:
    url: str
    rt: Runtime
    admin_password: str
    app: Flask  # its url_map lists the console's pages


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The whole app on a real port, with the demo town; maps without tiles (no network)."""
    tmp = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{tmp / 'live.db'}"
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        password = seed_demo(session)
    db.dispose()
    app = create_app({**base_config(url, tmp), "CONSOLE_TILE_URL": "none"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveConsole(
        f"http://127.0.0.1:{server.server_port}", app.extensions["webleads"], password, app
    )
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["webleads"].db.dispose()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests, but /usr/bin/chromium is missing")
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies); fails the test on any script or CSP error."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"script error: {exc}"))
    page.on(
        "console",
        lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    yield page
    context.close()
    assert errors == []
