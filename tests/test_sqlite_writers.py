"""SQLite's writers take turns on a lock file beside the database (models/db.py,
WriterQueue): every transaction gets its turn, from any process, and a transaction that
fails gives its turn back at once."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from models.db import Database
from tests.helpers import ROOT

WRITES = 150

WRITER = """
import sys
from sqlalchemy import text
from models.db import Database

db = Database(sys.argv[1])
for n in range(int(sys.argv[2])):
    with db.transaction() as session:
        count = session.execute(text("SELECT n FROM counter")).scalar_one()
        session.execute(text("UPDATE counter SET n = :n"), {"n": count + 1})
"""


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path}/town.db"
    db = Database(url)
    with db.transaction() as session:
        session.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        session.execute(text("INSERT INTO counter VALUES (0)"))
    db.dispose()
    return url


def test_writers_of_two_processes_each_get_every_turn_and_lose_no_write(url):
    """Two processes read-then-write the same row; under BEGIN IMMEDIATE and their turns,
    no increment is lost and neither waits for SQLite's busy timeout."""
    other = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(WRITES)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    db = Database(url)
    started = time.monotonic()
    for _ in range(WRITES):
        with db.transaction() as session:
            count = session.execute(text("SELECT n FROM counter")).scalar_one()
            session.execute(text("UPDATE counter SET n = :n"), {"n": count + 1})
    assert other.wait(timeout=60) == 0
    with db.reading() as session:
        assert session.execute(text("SELECT n FROM counter")).scalar_one() == 2 * WRITES
    assert time.monotonic() - started < 20  # a lost turn costs 30 s (the busy timeout)
    db.dispose()


def test_a_transaction_that_fails_gives_the_next_writer_its_turn_at_once(url):
    db, other = Database(url), Database(url)
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.execute(text("UPDATE counter SET n = 41"))
        raise RuntimeError("the step failed")
    # The failed transaction's connection went back to the pool, still open.
    started = time.monotonic()
    with other.transaction() as session:
        session.execute(text("UPDATE counter SET n = n + 1"))
    assert time.monotonic() - started < 5
    with db.transaction() as session:  # and its own next turn comes too
        assert session.execute(text("SELECT n FROM counter")).scalar_one() == 1
    db.dispose()
    other.dispose()
