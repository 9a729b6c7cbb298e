"""Benchmark: the nearby-reports lookup with 10,000 and 500,000 reports in the table.

Reports are spread over the demo town (Vitré), in every category, a third of them open.
Each lookup is `open_reports_near()` (a bounding box on the indexed lat/lon, then the
exact distance) at a random point, as the conversation runs it before the summary.
Prints milliseconds per lookup for each size on SQLite and PostgreSQL, and the query plan,
to show it does not grow with the table.

    python bench/nearby.py [--sizes 10000 500000] [--lookups 500] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text

from app.seed import seed_demo
from models import migrate
from models.catalog import Category
from models.db import Database, utcnow
from models.report import Report, open_reports_near

SOUTH, NORTH, WEST, EAST = 48.095, 48.150, -1.265, -1.160
STATUSES = ["new", "acknowledged", "in_progress"] + ["resolved", "closed"] * 3


def fill(db: Database, total: int, rng: random.Random) -> None:
    """Tops the report table up to `total` rows, in batches."""
    with db.reading() as session:
        categories = [(c.id, c.service_id) for c in session.scalars(select(Category))]
        have = session.scalar(select(func.count()).select_from(Report)) or 0
    now = utcnow()
    table = Report.__table__
    batch = 20_000
    while have < total:
        rows = []
        for _ in range(min(batch, total - have)):
            category_id, service_id = rng.choice(categories)
            rows.append({
                "category_id": category_id, "service_id": service_id, "channel": "bench",
                "description": "bench", "lat": rng.uniform(SOUTH, NORTH),
                "lon": rng.uniform(WEST, EAST), "geolocated": True,
                "status": rng.choice(STATUSES), "created_at": now, "updated_at": now,
                "reopened_count": 0,
            })  # fmt: skip
        with db.engine.begin() as conn:
            conn.execute(table.insert(), rows)
        have += len(rows)
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def measure(db: Database, lookups: int, rng: random.Random) -> tuple[float, float, float]:
    with db.reading() as session:
        categories = list(session.scalars(select(Category.id)))
        times = []
        found = 0
        for _ in range(lookups):
            lat, lon = rng.uniform(SOUTH, NORTH), rng.uniform(WEST, EAST)
            start = time.perf_counter()
            found += len(open_reports_near(session, lat, lon, rng.choice(categories), 50))
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1], found / lookups


def plan(db: Database) -> str:
    stmt = (
        "SELECT id FROM report WHERE lat BETWEEN 48.12 AND 48.121 AND lon BETWEEN -1.21 "
        "AND -1.209 AND category_id = 1 AND status IN ('new', 'acknowledged', 'in_progress')"
    )
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        rows = conn.execute(text(prefix + stmt)).fetchall()
    return " | ".join(str(r[-1]) for r in rows)


def bench(url: str, label: str, sizes: list[int], lookups: int) -> None:
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
    rng = random.Random(42)
    for size in sizes:
        start = time.perf_counter()
        fill(db, size, rng)
        filled = time.perf_counter() - start
        median, p99, avg_found = measure(db, lookups, rng)
        print(
            f"{label:10} {size:>9,} reports: {median:6.2f} ms median, {p99:6.2f} ms p99 per "
            f"lookup ({avg_found:.2f} found on average; table filled in {filled:.0f} s)"
        )
    print(f"{label:10} plan: {plan(db)}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 500_000])
    parser.add_argument("--lookups", type=int, default=500)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "sqlite"):
            bench(f"sqlite:///{tmp}/nearby.db", "SQLite", args.sizes, args.lookups)
        if args.only in (None, "postgres"):
            from tests.pg import throwaway_database

            with throwaway_database("nearby") as url:
                if url:
                    bench(url, "PostgreSQL", args.sizes, args.lookups)


if __name__ == "__main__":
    main()
