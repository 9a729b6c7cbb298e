"""Migrations from empty, on both databases, match the models exactly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import models  # noqa: F401
from models import migrate
from models.address import declared_in_models
from models.db import Database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"empty_{tmp_path.name[-20:].replace('-', '_').lower()}")


def test_upgrade_from_empty_matches_the_models(empty_url) -> None:
    db = Database(empty_url)
    migrate.upgrade(db.engine)
    with db.engine.connect() as connection:
        # SQLite's FTS5 address index is not a model table: skipped as env.py does.
        context = MigrationContext.configure(connection, opts={"include_name": declared_in_models})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
    assert "report" in inspect(db.engine).get_table_names()
    db.dispose()


def test_report_numbers_start_at_1001(empty_url) -> None:
    from app.seed import seed_demo
    from models.report import Report

    db = Database(empty_url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
        from models.catalog import category_by_code

        category = category_by_code(session, "graffiti")
        report = Report(
            category_id=category.id, service_id=category.service_id, channel="dev", description="x"
        )
        session.add(report)
        session.flush()
        assert report.id == 1001
    db.dispose()


def test_downgrade_to_empty_and_back(empty_url) -> None:
    db = Database(empty_url)
    migrate.upgrade(db.engine)
    migrate.downgrade(db.engine, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db.engine)
    assert "outbox" in inspect(db.engine).get_table_names()
    db.dispose()


def test_a_town_with_reports_upgrades_to_daily_figures_that_count_them(empty_url) -> None:
    """A deployment at 0013 with reports gets its dashboard's figures from the upgrade."""
    from datetime import timedelta

    from sqlalchemy import text

    from models.daily_figure import daily_figures, open_figures
    from models.db import utcnow

    db = Database(empty_url)
    migrate.upgrade(db.engine, "0013")
    with db.transaction() as session:
        # Written as SQL: the models of today have columns 0013 does not have yet.
        _a_service_and_its_pothole(session)
        category, service = session.execute(
            text("SELECT id, service_id FROM category WHERE code = 'nid-de-poule'")
        ).one()
        now = utcnow()
        for days_ago, status, resolved in ((40, "new", None), (3, "resolved", 1), (2, "new", None)):
            created = now - timedelta(days=days_ago)
            session.execute(
                text(
                    "INSERT INTO report (category_id, service_id, channel, description, status,"
                    " geolocated, created_at, updated_at, resolved_at, reopened_count)"
                    " VALUES (:c, :s, 'sms', 'Trou', :status, false, :at, :at, :done, 0)"
                ),
                {"c": category, "s": service, "status": status, "at": created,
                 "done": created + timedelta(hours=resolved) if resolved else None},
            )  # fmt: skip
    migrate.upgrade(db.engine)
    with db.reading() as session:
        assert open_figures(session, None) == {(service, category): (2, 0)}
        rows = daily_figures(session, (now - timedelta(days=30)).date(), None)
    assert sum(row[4] for row in rows) == 2  # received in the last 30 days
    assert sum(row[6] for row in rows) == 1  # done in the last 30 days
    db.dispose()


# Old notes at 0025 (kind, internal_note) and the detail 0026 makes of them; None: the
# note is an agent's own words, or a wording nobody parses, and stays as it is.
PINNED = "The citizen placed the pin from the link sent by SMS: 48.12460, -1.20820 (before: {})."
OLD_NOTES = [
    ("geocoded", "Placed on the map from the typed address: 12 Rue de la Poterie 35500 Vitré"
                 " (score 0.93).",
     {"source": "typed", "label": "12 Rue de la Poterie 35500 Vitré", "score": 0.93}),
    ("geocoded", PINNED.format("none"),
     {"source": "link", "lat": 48.1246, "lon": -1.2082, "before": None}),
    ("geocoded", PINNED.format("48.10000, -1.20000"),
     {"source": "link", "lat": 48.1246, "lon": -1.2082, "before": [48.1, -1.2]}),
    ("geocoded", "Placed by hand by the roads team.", None),
    ("feedback", "fixed: yes", {"verdict": "yes"}),
    ("reopened", "fixed: partly", {"verdict": "partly"}),
    ("reopened", "Message removed: the citizen erased their data.", None),
    ("moderated", '{"action": "photo approved", "photo": 3}',
     {"action": "photo approved", "photo": 3}),
    ("prioritised", '{"priority": "urgent", "from_priority": "normal", "reason": {"category":'
                    ' true}}',
     {"priority": "urgent", "from_priority": "normal", "reason": {"category": True}}),
    ("body", '{"body": "sdis", "name": "SDIS 35", "answer": "taken"}',
     {"body": "sdis", "name": "SDIS 35", "answer": "taken"}),
    ("assigned", '{"service_id": 2, "from_service_id": 1, "assignee_id": null,'
                 ' "from_assignee_id": null}',
     {"service_id": 2, "from_service_id": 1, "assignee_id": None, "from_assignee_id": None}),
    ("note", "fixed: yes", None),  # an agent's note that happens to look like a verdict
    ("status", '{"action": "hidden"}', None),
]  # fmt: skip


def test_event_notes_become_details_and_come_back_on_downgrade(empty_url) -> None:
    """A deployment at 0025 keeps its history: what the notes said is the events' detail,
    an agent's own notes stay notes; the downgrade writes the notes back."""
    from sqlalchemy import text
    from sqlmodel import select

    from models.report import ReportEvent

    db = Database(empty_url)
    migrate.upgrade(db.engine, "0025_oncall")
    with db.transaction() as session:
        # Written as SQL: today's models have the column 0025 does not have yet.
        _a_service_and_its_pothole(session)
        session.execute(
            text(
                "INSERT INTO report (category_id, service_id, channel, description, status,"
                " geolocated, created_at, updated_at, reopened_count) SELECT id, service_id,"
                " 'sms', 'Trou', 'new', false, :at, :at, 0 FROM category"
            ),
            {"at": "2026-12-01 10:00:00"},
        )
        for kind, note, _ in OLD_NOTES:
            session.execute(
                text(
                    "INSERT INTO reportevent (report_id, kind, created_at, internal_note)"
                    " SELECT id, :kind, :at, :note FROM report"
                ),
                {"kind": kind, "at": "2026-12-01 10:00:00", "note": note},
            )
    migrate.upgrade(db.engine)
    with db.reading() as session:
        events = session.scalars(select(ReportEvent).order_by(ReportEvent.id)).all()
        assert [(e.kind, e.detail) for e in events] == [(k, d) for k, _, d in OLD_NOTES]
        assert [e.internal_note for e in events] == [
            None if d is not None else n for _, n, d in OLD_NOTES
        ]
    migrate.downgrade(db.engine, "0025_oncall")
    with db.reading() as session:
        notes = session.execute(text("SELECT internal_note FROM reportevent ORDER BY id"))
        assert [row[0] for row in notes] == [n for _, n, _ in OLD_NOTES]
    db.dispose()


def _a_service_and_its_pothole(session) -> None:
    """The roads service and its pothole category, written as SQL: an old schema's
    columns, not today's models."""
    from sqlalchemy import text

    session.execute(text("INSERT INTO service (code, name_fr, name_en, active)"
                         " VALUES ('voirie', 'Voirie', 'Roads', true)"))  # fmt: skip
    session.execute(
        text(
            "INSERT INTO category (code, name_fr, name_en, service_id, kind, active,"
            " sla_hours, photo_required, ask_if_fixed, position) SELECT 'nid-de-poule',"
            " 'Nid-de-poule', 'Pothole', id, 'problem', true, 72, false, true, 0"
            " FROM service"
        )
    )
