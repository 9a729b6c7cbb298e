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
