"""What only the browser tests use: logging in through the form, screenshots.

The factories (agents, sessions, reports) are in tests/helpers.py.
"""

from __future__ import annotations

import re
from pathlib import Path

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
