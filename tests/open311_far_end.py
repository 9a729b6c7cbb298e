"""A second instance of this product playing a body's back-office, as the far end of our
Open311 client (services/open311_client.py).

It has its own SQLite database (the demo town, migrated and seeded like ours), its own
API key made by the product's own admin function with the full record (it must show our
ref in the description it stores), its own agent, and it serves its Open311 API on a
loopback port with werkzeug's WSGI server in a thread. Tests read its database to see what
arrived and have its agent move its reports with services.reports, as its console does.

A test module uses it with `far_end = open311_far_end.far_end`.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from app.factory import create_app
from models.api_key import KeyView
from models.catalog import Category
from models.report import Report, ReportEvent
from services import admin, reports
from services.audit import Actor
from services.open311_queue import Open311Target
from services.runtime import Runtime
from tests.conftest import base_config
from tests.helpers import make_agent


@dataclass(frozen=True)
class Arrived:
    """A report as the far end's database holds it."""

    number: int
    category: str
    description: str
    lat: float | None
    lon: float | None
    address: str | None
    channel: str
    status: str
    note: str | None  # how it was filed (its created event's internal note)


class FarEnd:
    """The back-office: `endpoint`, `api_key`, `target()`, what arrived, its agent."""

    def __init__(self, app, endpoint: str, api_key: str, agent_id: int) -> None:
        self.app = app
        self.rt: Runtime = app.extensions["webleads"]
        self.endpoint = endpoint
        self.api_key = api_key
        self.agent_id = agent_id

    def target(self, code: str = "gmao", **mapping: str) -> Open311Target:
        """Our side's view of this body (our category code -> its service code)."""
        return Open311Target(code, self.endpoint, self.api_key, dict(mapping))

    def arrived(self, ref: str) -> list[Arrived]:
        """The far end's reports whose description carries our `ref`."""
        with self.rt.db.reading() as session:
            rows = session.execute(
                select(Report, Category.code)
                .join(Category, Category.id == Report.category_id)
                .where(Report.description.contains(ref))
                .order_by(Report.id)
            ).all()
            found = []
            for report, code in rows:
                created = session.scalar(
                    select(ReportEvent.internal_note).where(
                        ReportEvent.report_id == report.id, ReportEvent.kind == "created"
                    )
                )
                found.append(
                    Arrived(report.id, code, report.description, report.lat, report.lon,
                            report.address, report.channel, report.status, created)
                )  # fmt: skip
        return found

    def move(self, number: int, status: str, message: str | None = None) -> None:
        """Its agent moves one of its reports, with public words, as its console does."""
        with self.rt.db.transaction() as session:
            reports.change_status(session, number, status, message=message,
                                  agent_id=self.agent_id)  # fmt: skip


@pytest.fixture(scope="module")
def far_end(sqlite_template, tmp_path_factory):
    """The back-office, served for the whole module."""
    folder = tmp_path_factory.mktemp("far-end")
    shutil.copyfile(sqlite_template, folder / "far-end.db")
    app = create_app(
        {
            **base_config(f"sqlite:///{folder / 'far-end.db'}", folder),
            "SECRET_KEY": "far-end-secret",
            "PUBLIC_BASE_URL": "https://gmao.example.org",
        }
    )
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        _, key = admin.create_api_key(
            session, Actor.command_line(), "webleads de la ville", view=KeyView.FULL
        )
    agent_id = make_agent(rt, "technicien@gmao.example.org", name="Technicien")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="far-end", daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}/open311/v2"
    yield FarEnd(app, endpoint, key, agent_id)
    server.shutdown()
    thread.join(5)
    rt.db.dispose()
