"""Benchmark: inbound steps per second through the engine, against a bare SQLModel step.

Many citizens each file a full report (hello, category, description, skip photo, pin,
send: 6 steps), their messages interleaved round-robin, through `bot.engine.handle()`
on a real database. In the same run, on the same database, a bare step (one select, one
update, one insert, one commit, through a SQLModel session) is the reference. Runs
alternate (reference, engine, reference, engine...) and the best of each is kept.

Prints, per database: steps/s for both, their ratio, SQL statements per step (BEGIN and
COMMIT not counted) and commits per step.

    python bench/engine.py [--citizens 300] [--rounds 3] [--only sqlite|postgres] [--town 5000]

--town: the citizens who wrote before (bench/town.py), as in bench/webhook.py.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, select, update
from sqlmodel import Session

from app.seed import seed_demo
from bench.town import grow_town
from bot.engine import handle
from models import migrate
from models.citizen import Citizen, Conversation
from models.db import Database, utcnow
from models.messaging import InboundMessage
from services.catalog import CatalogCache
from services.config import load_settings
from services.geo import NoGeocoder
from services.runtime import Runtime
from services.types import Inbound


class Counter:
    """Counts statements and commits on an engine."""

    def __init__(self, engine) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._on_execute)
        event.listen(engine, "commit", self._on_commit)

    def _on_execute(self, conn, cursor, statement, *args) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT")):
            self.statements += 1

    def _on_commit(self, conn) -> None:
        self.commits += 1

    def reset(self) -> None:
        self.statements = self.commits = 0


def conversation(i: int) -> list[dict]:
    # Pins spread 200 m apart inside Vitré, so no report is offered as "nearby".
    lat = 48.105 + (i % 40) * 0.0018
    lon = -1.25 + (i // 40) * 0.0027
    return [
        dict(text="bonjour"),
        dict(choice="cat:nid-de-poule"),
        dict(text=f"Un trou profond devant le numéro {i}"),
        dict(choice="skip"),
        dict(location=(lat, lon)),
        dict(choice="yes"),
    ]


def run_engine(rt: Runtime, citizens: int, run_id: str) -> int:
    scripts = [conversation(i) for i in range(citizens)]
    steps = 0
    for step in range(6):
        for i, script in enumerate(scripts):
            handle(Inbound("bench", f"{run_id}-{i}", external_id=uuid.uuid4().hex,
                           display_name=f"C{i}", **script[step]), rt)  # fmt: skip
            steps += 1
    return steps


def run_bare(db: Database, steps: int, citizen_ids: list[int]) -> int:
    """One select, one update, one insert, one commit: the floor of any inbound step."""
    for n in range(steps):
        citizen_id = citizen_ids[n % len(citizen_ids)]
        with Session(db.engine, expire_on_commit=False) as session:
            citizen = session.scalar(select(Citizen).where(Citizen.id == citizen_id))
            session.execute(
                update(Conversation)
                .where(Conversation.citizen_id == citizen.id)
                .values(state="menu", updated_at=utcnow())
            )
            session.add(InboundMessage(channel="bare", external_id=uuid.uuid4().hex))
            session.commit()
    return steps


def bench(url: str, label: str, citizens: int, rounds: int, town: int = 0) -> dict:
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
    grow_town(db, town)
    settings = load_settings({"DATABASE_URL": url, "SECRET_KEY": "bench", "GEOCODER": "none"},
                             dotenv=False)  # fmt: skip
    rt = Runtime(settings=settings, db=db, catalog=CatalogCache(), geocoder=NoGeocoder())
    counter = Counter(db.engine)
    run_engine(rt, 20, "warmup")
    with db.reading() as session:
        citizen_ids = list(session.scalars(select(Citizen.id)))
    best = {"engine": 0.0, "bare": 0.0}
    per_step = {}
    for r in range(rounds):
        counter.reset()
        start = time.perf_counter()
        steps = run_bare(db, citizens * 6, citizen_ids)
        best["bare"] = max(best["bare"], steps / (time.perf_counter() - start))
        bare_stmts, bare_commits = counter.statements / steps, counter.commits / steps
        counter.reset()
        start = time.perf_counter()
        steps = run_engine(rt, citizens, f"r{r}-{random.randrange(10**6)}")
        best["engine"] = max(best["engine"], steps / (time.perf_counter() - start))
        per_step = {"statements": counter.statements / steps, "commits": counter.commits / steps,
                    "bare_statements": bare_stmts, "bare_commits": bare_commits}  # fmt: skip
    db.dispose()
    ratio = best["engine"] / best["bare"]
    print(
        f"{label:10} engine {best['engine']:7.0f} steps/s | bare step {best['bare']:7.0f} "
        f"steps/s | ratio {ratio:5.1%} | {per_step['statements']:.2f} statements and "
        f"{per_step['commits']:.2f} commits per engine step "
        f"(bare: {per_step['bare_statements']:.0f} and {per_step['bare_commits']:.0f})"
    )
    return {"label": label, **best, "ratio": ratio, **per_step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--town", type=int, default=5000, help="citizens who wrote before; 0: a new town"
    )
    args = parser.parse_args()
    print(f"{args.citizens} citizens x 6 steps, interleaved; best of {args.rounds} alternating "
          f"rounds; a town of {args.town} citizens who wrote before")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "sqlite"):
            bench(f"sqlite:///{tmp}/bench.db", "SQLite", args.citizens, args.rounds, args.town)
        if args.only in (None, "postgres"):
            from tests.pg import throwaway_database

            with throwaway_database("bench") as url:
                if url:
                    bench(url, "PostgreSQL", args.citizens, args.rounds, args.town)


if __name__ == "__main__":
    main()
