"""A town that has been running, for the benchmarks that load the conversation: see
`grow_town`."""

from __future__ import annotations

from sqlalchemy import insert, select, text

from models.citizen import Citizen, Conversation
from models.db import Database, utcnow
from models.messaging import SENT, InboundMessage, Outbox


def grow_town(db: Database, citizens: int) -> None:
    """A town that has been running: `citizens` people who wrote before (by SMS, none of
    them a chat of the load), each with a conversation, a received message and a sent
    reply; then the statistics a server keeps (ANALYZE, which autovacuum runs as tables
    grow). Without it the load starts on the demo's few rows: PostgreSQL plans its cached
    statements (its own foreign-key checks too) for tables of one page, and keeps those
    sequential scans while the tables grow to thousands of rows in the run's seconds,
    until autovacuum analyzes them, up to a minute later; a town never lives that.
    None (0): the demo's few rows, a new town."""
    if not citizens:
        return
    now = utcnow()
    phones = [f"+3361{n:07d}" for n in range(citizens)]
    with db.engine.begin() as conn:
        conn.execute(
            insert(Citizen),
            [{"channel": "sms", "address": p, "language": "fr", "created_at": now} for p in phones],
        )
        ids = conn.scalars(
            select(Citizen.id).where(Citizen.channel == "sms", Citizen.address.in_(phones))
        ).all()
        conn.execute(
            insert(Conversation),
            [{"citizen_id": i, "state": "start", "draft": {}, "updated_at": now} for i in ids],
        )
        conn.execute(
            insert(Outbox),
            [
                {
                    "citizen_id": i,
                    "channel": "sms",
                    "address": p,
                    "payload": {"text": "Merci"},
                    "status": SENT,
                    "attempts": 1,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for i, p in zip(ids, phones, strict=True)
            ],
        )
        conn.execute(
            insert(InboundMessage),
            [
                {"channel": "sms", "external_id": f"SM{n:030d}", "received_at": now}
                for n in range(citizens)
            ],
        )
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def tidy(db: Database) -> None:
    """What a running town's database does on its own between two bursts, done before a
    run rather than during one: on PostgreSQL autovacuum's VACUUM ANALYZE (the rows the
    last run wrote and updated would be vacuumed in the middle of the next run, on one of
    the machine's two cores, against whichever app runs then); on SQLite the checkpoint
    that empties the write-ahead log."""
    if db.is_postgres:
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM (ANALYZE)"))
        return
    raw = db.engine.raw_connection()  # outside a transaction (the engine's would BEGIN)
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
