"""Helpers shared by the console's tests (test client and browser): agents, logins, reports."""

from __future__ import annotations

import re

from bot.agents import save_agent
from bot.audit import Actor
from models.agent import agent_by_email
from tests.helpers import TalkingCitizen

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|data-csrf="([^"]+)"')


def make_agent(
    rt, email: str, *, role: str = "agent", services: tuple[str, ...] = ("voirie",), name=""
) -> int:
    """Creates an agent (argon2 hash, as the CLI does); returns its id."""
    with rt.db.transaction() as session:
        save_agent(session, Actor.command_line(), email, PASSWORD, role, list(services), name)
        return agent_by_email(session, email).id


def admin_id(rt) -> int:
    from bot.seed import ADMIN_EMAIL

    with rt.db.reading() as session:
        return agent_by_email(session, ADMIN_EMAIL).id


def log_in_as(client, agent_id: int) -> None:
    """Opens a console session for the agent without the password round trip."""
    from console.auth import session_user_id
    from models.agent import Agent

    with client.application.extensions["webleads"].db.reading() as db:
        version = db.get(Agent, agent_id).session_version
    with client.session_transaction() as session:
        session["_user_id"] = session_user_id(agent_id, version)
        session["_fresh"] = True


def csrf_token(client) -> str:
    """Reads the session's CSRF token from a console page, as a browser form would carry it.

    Read once per client (the token lasts the session): reading a page shows, and so
    consumes, the flashed messages a test may want to see later.
    """
    if getattr(client, "csrf", None) is None:
        page = client.get("/console/simulator").get_data(as_text=True)
        match = CSRF_RE.search(page)
        assert match, page[:500]
        client.csrf = match.group(1) or match.group(2)
    return client.csrf


def report_by(rt, sender: str, *, category: str = "cat:nid-de-poule", **kwargs) -> int:
    """A citizen files a report through the real conversation; returns its number."""
    return TalkingCitizen(rt, sender, name=sender.capitalize()).file_report(
        category_choice=category, **kwargs
    )


def add_reports(rt, specs: list[dict]) -> list[int]:
    """Inserts reports directly (fast, for queue tests); each spec names a category code.

    Defaults: roads pothole, dev channel, now, open ("new"), at the town hall.
    """
    from datetime import timedelta

    from models.catalog import category_by_code
    from models.db import utcnow
    from models.report import Report

    now = utcnow()
    numbers = []
    with rt.db.transaction() as session:
        for i, spec in enumerate(specs):
            spec = dict(spec)
            category = category_by_code(session, spec.pop("category", "nid-de-poule"))
            created = spec.pop("created_at", now - timedelta(minutes=len(specs) - i))
            report = Report(
                category_id=category.id,
                service_id=category.service_id,
                channel=spec.pop("channel", "dev"),
                description=spec.pop("description", f"Signalement {i}"),
                lat=spec.pop("lat", 48.1246),
                lon=spec.pop("lon", -1.2082),
                geolocated=True,
                created_at=created,
                updated_at=spec.pop("updated_at", created),
                **spec,
            )
            session.add(report)
            session.flush()
            numbers.append(report.id)
    return numbers
