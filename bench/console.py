"""Benchmark: server time of the console's queue and dashboard with a million reports.

Synthetic reports (three years of a town's life: older ones mostly dealt with, recent
ones mostly open; the demo town's categories and services; points around Vitré) are
bulk-inserted (executemany on SQLite, COPY on PostgreSQL), the tables analysed, then
the console's pages are requested in-process through Flask's test client, logged in as
the admin (sees everything) and as an agent of one service. Each page is requested once
to warm the caches, then `--repeat` times; the median and the worst are printed, in ms.

    python bench/console.py [--size 1000000] [--repeat 5] [--only sqlite|postgres]
                            [--sqlite-file PATH] [--postgres-url URL]
(a database given is kept, and reused as it is when it already has reports)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.factory import create_app
from app.seed import seed_demo
from console.dashboard import clear_cache
from models import migrate
from models.catalog import all_categories
from models.db import Database

TARGET_MS = 100.0
DAYS = 3 * 365
COLUMNS = (
    "category_id",
    "service_id",
    "channel",
    "description",
    "lat",
    "lon",
    "address",
    "geolocated",
    "status",
    "created_at",
    "updated_at",
    "acknowledged_at",
    "in_progress_at",
    "resolved_at",
    "closed_at",
    "reopened_count",
)
WORDS = [
    "trou",
    "lampadaire",
    "tag",
    "poubelle",
    "trottoir",
    "banc",
    "arbre",
    "panneau",
    "chaussée",
    "éclairage",
]
STREETS = ["rue de la Poterie", "rue Notre-Dame", "boulevard de Laval", "place du Château"]


def synthetic_reports(size: int, categories: list, seed: int = 42):
    """Yields report rows: one per ~95 s over three years, the newest last."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    start = now - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / size
    for i in range(size):
        category = rng.choice(categories)
        created = start + step * i
        age_days = (now - created).days
        open_odds = 0.9 if age_days < 7 else 0.4 if age_days < 60 else 0.03
        ack = created + timedelta(hours=rng.expovariate(1 / 20))
        resolved = closed = in_progress = None
        reopened = 1 if rng.random() < 0.03 else 0
        if ack > now:  # not yet acknowledged
            open_odds = 1.0
        if rng.random() < open_odds:
            status = rng.choice(["new", "acknowledged", "in_progress"])
            if status == "new" or ack > now:
                status, ack = "new", None
            elif status == "in_progress":
                in_progress = min(ack + timedelta(hours=rng.expovariate(1 / 24)), now)
        else:
            roll = rng.random()
            if roll < 0.8:
                status = "resolved"
                resolved = min(ack + timedelta(hours=rng.expovariate(1 / 70)), now)
            elif roll < 0.93:
                status, closed = "closed", min(ack + timedelta(hours=rng.expovariate(1 / 10)), now)
            else:
                status, closed = "duplicate", min(ack + timedelta(hours=1), now)
        done = resolved or closed or in_progress or ack or created
        yield (
            category.id,
            category.service_id,
            rng.choice(("telegram", "telegram", "sms", "dev")),
            f"{rng.choice(WORDS)} {rng.choice(WORDS)} n°{i}",
            48.10 + rng.random() * 0.04,
            -1.24 + rng.random() * 0.06,
            f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
            True,
            status,
            created,
            min(done, now),
            ack,
            in_progress,
            resolved,
            closed,
            reopened,
        )


def _sqlite_text(value):
    """The text SQLAlchemy stores for a UTC datetime on SQLite."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def load(db: Database, size: int) -> float:
    """Bulk-inserts `size` reports; returns the seconds it took."""
    with db.reading() as session:
        categories = all_categories(session)
    rows = synthetic_reports(size, categories)
    started = time.perf_counter()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.is_postgres:
            with cursor.copy(f"COPY report ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            raw.commit()
            # As autovacuum would: sets the visibility map, so index-only scans stay so.
            raw.driver_connection.autocommit = True
            cursor.execute("VACUUM ANALYZE report")
            raw.driver_connection.autocommit = False  # back to the pool as it came
        else:
            marks = ", ".join("?" * len(COLUMNS))
            sql = f"INSERT INTO report ({', '.join(COLUMNS)}) VALUES ({marks})"
            cursor.execute("BEGIN")
            batch = []
            for row in rows:
                batch.append(tuple(_sqlite_text(v) for v in row))
                if len(batch) == 50_000:
                    cursor.executemany(sql, batch)
                    batch.clear()
            cursor.executemany(sql, batch)
            cursor.execute("COMMIT")
            cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def pages(client) -> list[tuple[str, str]]:
    """The pages to time: (label, URL); the second queue page follows the first's cursor."""
    import re

    first = client.get("/console/reports").get_data(as_text=True)
    cursor = re.search(r'rel="next" href="([^"]+)"', first)
    page_two = cursor.group(1).replace("&amp;", "&") if cursor else "/console/reports"
    return [
        ("queue (open, most urgent first)", "/console/reports"),
        ("queue page 2 (keyset)", page_two),
        ("queue (open, newest first)", "/console/reports?sort=newest"),
        ("queue, all statuses", "/console/reports?status=all"),
        ("queue, one category", "/console/reports?category=3"),
        ("queue, overdue", "/console/reports?overdue=1"),
        ("queue, latest activity", "/console/reports?sort=updated"),
        ("queue, resolved, oldest", "/console/reports?status=resolved&sort=oldest"),
        ("queue, search '#number'", "/console/reports?q=%23500000"),
        ("dashboard, 30 days", "/console/dashboard"),
        ("dashboard, 90 days", "/console/dashboard?days=90"),
        ("dashboard, 365 days", "/console/dashboard?days=365"),
        ("dashboard, 30 days, cached", "/console/dashboard#cached"),
    ]


def time_pages(app, agent_id: int, repeat: int) -> list[tuple[str, float, float]]:
    from console.auth import session_user_id
    from models.agent import Agent

    client = app.test_client()
    with app.extensions["webleads"].db.reading() as db:
        version = db.get(Agent, agent_id).session_version
    with client.session_transaction() as session:
        session["_user_id"] = session_user_id(agent_id, version)
    results = []
    for label, url in pages(client):
        client.get(url)  # warm
        times = []
        for _ in range(repeat):
            if "dashboard" in url and not url.endswith("#cached"):
                clear_cache(app)  # the figures' own cost, not the minute-long cache's
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        results.append((label, statistics.median(times), max(times)))
    return results


def run(url: str, size: int, repeat: int, name: str, tmp: Path) -> None:
    from models.report import count_reports

    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
        existing = count_reports(session)
    if existing:
        print(f"\n{name}: reusing {existing:,} reports", flush=True)
    else:
        seconds = load(db, size)
        print(f"\n{name}: {size:,} reports loaded in {seconds:.0f} s", flush=True)
        # The bulk load bypasses the ORM: the daily figures are filled as the migration does.
        from models.daily_figure import backfill

        started = time.perf_counter()
        with db.transaction() as session:
            rows = backfill(session.connection())
        if db.is_postgres:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE dailyfigure")
                # the load's dirty pages written now, not by the checkpointer mid-timing
                conn.exec_driver_sql("CHECKPOINT")
        print(f"  daily figures: {rows:,} rows in {time.perf_counter() - started:.0f} s")
    db.dispose()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "GEOCODER": "none",
            "MEDIA_DIR": str(tmp / "media"),
        }
    )
    rt = app.extensions["webleads"]
    from models.agent import agent_by_email
    from services.agents import save_agent
    from services.audit import Actor

    bench = Actor.command_line()
    with rt.db.transaction() as session:
        save_agent(session, bench, "bench-admin@vitre.example", "x" * 12, "admin", [])
        save_agent(session, bench, "bench-voirie@vitre.example", "x" * 12, "agent", ["voirie"])
        admin = agent_by_email(session, "bench-admin@vitre.example").id
        agent = agent_by_email(session, "bench-voirie@vitre.example").id
    for who, agent_id in (("admin", admin), ("roads agent", agent)):
        print(f"  as {who}:{'median ms':>27}{'worst ms':>10}")
        for label, median, worst in time_pages(app, agent_id, repeat):
            flag = "" if median < TARGET_MS else "  <- over 100 ms"
            print(f"    {label:<30}{median:>8.1f}{worst:>10.1f}{flag}")
    rt.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--sqlite-file", type=Path, help="keep the SQLite database here")
    parser.add_argument("--postgres-url", help="an existing PostgreSQL database to use")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    if args.only != "postgres":
        path = args.sqlite_file or tmp / "bench.db"
        run(f"sqlite:///{path.resolve()}", args.size, args.repeat, "SQLite", tmp)
    if args.only != "sqlite" and args.postgres_url:
        run(args.postgres_url, args.size, args.repeat, "PostgreSQL", tmp)
    elif args.only != "sqlite":
        from tests.pg import throwaway_database

        with throwaway_database("bench_console") as url:
            if url:
                run(url, args.size, args.repeat, "PostgreSQL", tmp)


if __name__ == "__main__":
    main()
