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
    from bot.seed import seed_demo
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
