"""What only the browser tests use: logging in through the form, screenshots.

The factories (agents, sessions, reports) are in tests/helpers.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import url_for
from sqlmodel import select

from console.admin import SECTIONS

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def log_in(page, live, email: str, password: str) -> None:
    page.goto(f"{live.url}/console/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console/reports"))


def screenshot(page, name: str) -> Path:
    """Saves a full-page screenshot under tests/artifacts/ (kept out of git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# The console's GET routes that answer a file, data or a redirect elsewhere, not a page.
NOT_PAGES = {
    "console.static",
    "console.media",
    "console.language",
    "console.export_csv",
    "console.queue_points",
    "console.admin_audit_csv",
    "console.admin_launch_kit_pdf",
    "console.admin_reader_examples",  # a TSV download
}


def console_pages(live, *, reports: tuple[int, ...], agent: int) -> list[str]:
    """The console's pages: the GET routes of its blueprint, arguments filled with real ids
    (the reports and the agent given, the first row of each admin section).

    A new route with arguments fails here until it is given ids below (or listed in
    NOT_PAGES), so that no page escapes the checks. The login page is left to its own."""
    with live.rt.db.reading() as session:
        first_rows = {k: session.exec(select(s.model)).first().id for k, s in SECTIONS.items()}
    arguments = {
        "console.report_page": [{"number": number} for number in reports],
        "console.agent_phone": [{"agent_id": agent}],
        "console.admin_list": [{"section": key} for key in (*SECTIONS, "zones")],
        "console.admin_edit": [{"section": key} for key in SECTIONS]
        + [{"section": key, "item_id": item} for key, item in first_rows.items()],
    }
    paths: list[str] = []
    with live.app.test_request_context():
        for rule in live.app.url_map.iter_rules():
            if not rule.endpoint.startswith("console.") or rule.endpoint in NOT_PAGES:
                continue
            if "GET" not in rule.methods or rule.endpoint == "console.login":
                continue
            if not rule.arguments:
                paths.append(url_for(rule.endpoint))
                continue
            assert rule.endpoint in arguments, f"{rule.rule}: a new page; give it real ids"
            paths += [url_for(rule.endpoint, **values) for values in arguments[rule.endpoint]]
    return sorted(set(paths))
