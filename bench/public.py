"""Benchmark: the public site's map (GeoJSON) and list pages at 1,000,000 reports on
PostgreSQL.

The reports are made in the database by generate_series (spread over the demo town,
every category, over two years, a third open, 2 % hidden, each with its "created" event),
then VACUUM ANALYZE. Each page is asked through the whole app (Flask's test client: routing,
the named queries, the public view, the JSON or the template, the ETag), without a cache,
and timed; `/healthz` (one `SELECT 1` through the same app) is the reference measured in
the same run (again before each page: the machine may be shared), so the ratio says what
the page costs beyond the framework's floor. EXPLAIN ANALYZE then gives the database's own
time for the town-wide map's queries and the list's first page.
Target: p50 and p99 under 100 ms for the town-wide GeoJSON and the list pages.

    python bench/public.py [--reports 1000000] [--requests 200]

A run on the shared 2-core machine (2026-12-01, load average 2-6, p50/p99 in ms, the
reference measured just before each page):

    GeoJSON, the whole town            13.4 / 21.0   (SQL: 0.2 ms points + 1.8 ms count)
    GeoJSON, the whole town, open      25.8 / 72.9
    GeoJSON, a neighbourhood (~10,000) 61.7 / 241.6  (over the target at p99: see below)
    list, first page                   19.9 / 42.3
    list, a page deep in (keyset)      18.7 / 29.2
    list, fixed + one category         18.7 / 38.9
    list, open this month              23.3 / 42.9
    report page                        13.2 / 38.3
    Atom feed                          33.1 / 97.5
    reference /healthz                 0.9 - 2.9

A small box holding ~10,000 reports is the slow case: "the newest 500 in the box" walks
the number index until 500 fall inside (a B-tree on (lat, lon) cannot do both). A grid
cell column indexed with the number, or PostGIS's GiST index, would bound it.
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

from sqlalchemy import text

from app.factory import create_app
from app.seed import seed_demo
from models import migrate
from models.db import Database

SOUTH, NORTH, WEST, EAST = 48.095, 48.150, -1.265, -1.160
TOWN_BOX = f"{WEST},{SOUTH},{EAST},{NORTH}"

FILL = """
WITH cats AS (SELECT array_agg(id ORDER BY id) AS ids, array_agg(service_id ORDER BY id) AS svc
              FROM category),
rows AS (
  SELECT g, 1 + floor(random() * array_length(cats.ids, 1))::int AS k,
         random() AS r, now() - random() * interval '730 days' AS created
  FROM generate_series(1, :n) AS g, cats
)
INSERT INTO report (category_id, service_id, channel, description, lat, lon, geolocated,
                    status, created_at, updated_at, resolved_at, closed_at, reopened_count,
                    hidden)
SELECT cats.ids[k], cats.svc[k], 'bench', 'bench report', :south + random() * (:north - :south),
       :west + random() * (:east - :west), true,
       CASE WHEN r < 0.12 THEN 'new' WHEN r < 0.22 THEN 'acknowledged'
            WHEN r < 0.33 THEN 'in_progress' WHEN r < 0.90 THEN 'resolved' ELSE 'closed' END,
       created, created,
       CASE WHEN r >= 0.33 AND r < 0.90 THEN created + random() * interval '10 days' END,
       CASE WHEN r >= 0.90 THEN created + random() * interval '10 days' END,
       0, random() < 0.02
FROM rows, cats
"""
EVENTS = """
INSERT INTO reportevent (report_id, created_at, kind, to_status)
SELECT id, created_at, 'created', 'new' FROM report
"""


def fill(db: Database, total: int) -> float:
    started = time.perf_counter()
    box = {"south": SOUTH, "north": NORTH, "west": WEST, "east": EAST}
    with db.engine.begin() as conn:
        conn.execute(text(FILL), {"n": total, **box})
        conn.execute(text(EVENTS))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def measure(client, urls, requests: int) -> tuple[float, float]:
    """p50 and p99 in milliseconds of GETs cycling through `urls`."""
    for url in urls[:3]:  # warm the app and the cache of the database's pages
        assert client.get(url).status_code == 200, url
    times = []
    for i in range(requests):
        url = urls[i % len(urls)]
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def bench(url: str, total: int, requests: int, tmp: str) -> None:
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
    took = fill(db, total)
    with db.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM report")).scalar()
        newest = conn.execute(text("SELECT max(id) FROM report")).scalar()
        shown = conn.execute(text("SELECT id FROM report WHERE NOT hidden LIMIT 50")).scalars()
        shown = list(shown)
    db.dispose()
    print(f"PostgreSQL: {count:,} reports made in {took:.1f} s")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench" * 8,
                      "MEDIA_DIR": tmp, "GEOCODER": "none"})  # fmt: skip
    client = app.test_client()
    rng = random.Random(15)
    deep = [f"/reports?before={rng.randint(1001, newest)}" for _ in range(50)]
    boxes = []
    for _ in range(50):  # a neighbourhood: about a tenth of the town's width
        lat, lon = rng.uniform(SOUTH, NORTH - 0.006), rng.uniform(WEST, EAST - 0.01)
        boxes.append(f"/reports.geojson?bbox={lon},{lat},{lon + 0.01},{lat + 0.006}")
    cases = [
        ("GeoJSON, the whole town", [f"/reports.geojson?bbox={TOWN_BOX}"]),
        ("GeoJSON, the whole town, open only", [f"/reports.geojson?bbox={TOWN_BOX}&status=open"]),
        ("GeoJSON, a neighbourhood", boxes),
        ("list, first page", ["/reports", "/reports?lang=en"]),
        ("list, a page deep in (keyset)", deep),
        ("list, fixed + one category", ["/reports?status=fixed&category=lampadaire"]),
        ("list, open this month", ["/reports?status=open&period=month"]),
        ("report page", [f"/reports/{n}" for n in shown]),
        ("Atom feed (50 latest changes)", ["/reports.atom"]),
    ]
    # The machine is shared: the reference is measured again just before each page, so
    # each ratio compares two figures taken under the same load.
    print(f"{'page':40} {'p50 ms':>8} {'p99 ms':>8} {'ref p50':>8} {'p50/ref':>8}")
    for label, urls in cases:
        reference, _ = measure(client, ["/healthz"], max(20, requests // 4))
        p50, p99 = measure(client, urls, requests)
        print(f"{label:40} {p50:8.1f} {p99:8.1f} {reference:8.1f} {p50 / reference:8.1f}")
    print_plans(url)
    body = client.get(f"/reports.geojson?bbox={TOWN_BOX}").json
    print(f"town-wide GeoJSON: {len(body['features'])} points of {body['total']}"
          f"{'+' if body['more'] else ''} in the box")  # fmt: skip
    app.extensions["webleads"].db.dispose()


def print_plans(url: str) -> None:
    """The database's own time for the queries behind the town-wide map and the list's
    first page (EXPLAIN ANALYZE), apart from Python and the machine's load."""
    from sqlalchemy import event

    from models.public_queries import PublicFilter, public_page, public_points_in_box

    db = Database(url)
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    with db.reading() as session:
        event.listen(db.engine, "before_cursor_execute", capture)
        public_points_in_box(session, (WEST, SOUTH, EAST, NORTH), PublicFilter(), 500)
        public_page(session, PublicFilter(status="open"), None, 21)
        event.remove(db.engine, "before_cursor_execute", capture)
    with db.engine.connect() as conn:
        for statement, parameters in captured:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = conn.exec_driver_sql("EXPLAIN ANALYZE " + statement, parameters).all()
            timing = [r[0].strip() for r in plan if r[0].strip().startswith("Execution Time")]
            print(f"  SQL {' '.join(statement.split())[:80]}...: {'; '.join(timing)}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    from tests.pg import throwaway_database

    with tempfile.TemporaryDirectory() as tmp, throwaway_database("public") as url:
        if url:
            bench(url, args.reports, args.requests, tmp)


if __name__ == "__main__":
    main()
