"""Inbound message log (deduplication) and the outbox of messages to send."""

from __future__ import annotations

import functools
import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import (
    JSON,
    Column,
    Index,
    UniqueConstraint,
    any_,
    bindparam,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
    union,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.selectable import ScalarSelect
from sqlmodel import Field, Session, SQLModel

from models.db import utcnow

log = logging.getLogger(__name__)

# Replies in a live conversation go before bulk notifications (status notices to
# followers, reminders, digests).
PRIORITY_REPLY = 0
PRIORITY_NOTIFICATION = 10
# A page to the on-call agent (services/oncall.py) goes before everything, and is not held
# behind what its chat still waits for (claim_due).
PRIORITY_PAGE = -10

# Replies waiting for one chat, at most: someone writing faster than their chat can be
# answered (Telegram: 1 message/s per chat), a flood above all, keeps the newest ones and
# the older replies are cancelled, out of date by then. Notices are never dropped.
MAX_QUEUED_REPLIES = 10
SUPERSEDED = "superseded: more replies were waiting for this chat than it can take"

# The channel a PostgreSQL worker LISTENs on: queued messages wake it at once (a trigger,
# models/migrations/versions/0005_outbox_notify.py, notifies it).
NOTIFY_CHANNEL = "webleads_outbox"

QUEUED, SENDING, SENT, DELIVERED, FAILED, DEAD, CANCELLED = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "dead",
    "cancelled",
)
# Read by the citizen (WhatsApp's blue ticks): delivered, and seen.
READ = "read"
# Waits for the citizen's next message: the channel cannot take it now (WhatsApp outside
# its 24-hour window). Not claimed and holding nothing back; `release_held` queues it.
HELD = "held"


class InboundMessage(SQLModel, table=True):
    """The provider's id of every message handled: a redelivery is recognised here."""

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_inbound_external"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utcnow)


# A reply still waiting to be sent, as ix_outbox_waiting_reply's predicate says it (migration
# 0029). Written out, not bound: a bound status or priority (a generic plan's $1) never
# matches a partial index's predicate. And the status through coalesce, a form
# ix_outbox_due (status, priority, next_attempt_at) cannot serve: as `status = 'queued'`
# the planner could read that index for it, with a filter on the chat, whenever the
# statistics said no reply was waiting (an outbox the worker keeps empty, analyzed). A
# burst, or the provider down, then cost each message the whole backlog: 12,000 rows read
# to find one chat's three (tests/test_delivery.py).
WAITING_REPLY = f"coalesce(status, '') = '{QUEUED}' AND priority = {PRIORITY_REPLY}"


def _still_queued(table):
    """`coalesce(status, '') = 'queued'`: WAITING_REPLY's test of the status."""
    return func.coalesce(table.c.status, literal_column("''")) == literal_column(f"'{QUEUED}'")


def _waiting_reply(table):
    return _still_queued(table) & (table.c.priority == literal_column(str(PRIORITY_REPLY)))


class Outbox(SQLModel, table=True):
    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "next_attempt_at"),
        Index("ix_outbox_citizen", "citizen_id", "id"),
        # A chat's waiting replies, newest last: what the trim after every reply reads
        # (queue_replies, _drop_stale_replies). At most MAX_QUEUED_REPLIES entries a chat,
        # whatever its history or the other chats' backlog (migration 0027).
        Index(
            "ix_outbox_waiting_reply",
            "citizen_id",
            "id",
            postgresql_where=text(WAITING_REPLY),
            sqlite_where=text(WAITING_REPLY),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    citizen_id: int = Field(foreign_key="citizen.id", ondelete="CASCADE")
    channel: str = Field(max_length=16)
    address: str = Field(max_length=64)
    # {"text": ..., "choices": [[value, label], ...], "request_location": bool, ...}
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    priority: int = PRIORITY_REPLY
    status: str = Field(default=QUEUED, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    # A claimed message is leased: if its worker dies, the lease expires and it is retried.
    locked_until: datetime | None = None
    provider_message_id: str | None = Field(default=None, max_length=64, index=True)
    last_error: str | None = Field(default=None, max_length=500)
    report_id: int | None = Field(default=None, foreign_key="report.id")
    event_id: int | None = Field(default=None, foreign_key="reportevent.id")
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    delivered_at: datetime | None = None


def record_inbound_statement(insert):
    """The INSERT of a message's id that returns its row's id, or nothing on a redelivery."""
    table = InboundMessage.__table__
    return (
        insert(table)
        .values(
            channel=bindparam("channel"),
            external_id=bindparam("external_id"),
            received_at=bindparam("received_at"),
        )
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(table.c.id)
    )


# Built once (the first statement of every inbound message), per dialect.
_RECORD_INBOUND = {
    False: record_inbound_statement(sqlite_insert),
    True: record_inbound_statement(pg_insert),
}


def record_inbound(session: Session, channel: str, external_id: str) -> bool:
    """Logs an inbound message id; returns False when it was already handled."""
    connection = session.connection()
    statement = _RECORD_INBOUND[connection.dialect.name == "postgresql"]
    values = {"channel": channel, "external_id": external_id, "received_at": utcnow()}
    result = connection.execute(statement, values)
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT that returns rows.
    return result.scalar() is not None


def queue_messages(session: Session, rows: list[dict]) -> None:
    """Adds messages to the outbox in one INSERT (part of the caller's transaction)."""
    if rows:
        now = utcnow()
        for row in rows:
            row.setdefault("status", QUEUED)
            row.setdefault("attempts", 0)
            row.setdefault("next_attempt_at", now)
            row.setdefault("created_at", now)
            row.setdefault("priority", PRIORITY_REPLY)
        # On PostgreSQL a trigger NOTIFYs the workers (migration 0005), delivered at commit.
        session.connection().execute(_INSERT_OUTBOX, rows)
        answered = Counter(r["citizen_id"] for r in rows if r["priority"] == PRIORITY_REPLY)
        known = session.info.get(_WAITING, {})
        for citizen_id, count in answered.items():
            waiting = known.pop(citizen_id, None)
            if waiting is not None and waiting + count <= MAX_QUEUED_REPLIES:
                known[citizen_id] = waiting + count  # nothing to trim
            else:
                _drop_stale_replies(session, citizen_id)


# Built once: a new Insert per call costs its cache key's making on every message.
_INSERT_OUTBOX = Outbox.__table__.insert()
# Session.info's key: {citizen id: replies waiting} of the chats whose citizen this
# transaction locked on SQLite (note_waiting_replies).
_WAITING = "waiting_replies"


def waiting_replies(citizen_id) -> ScalarSelect:
    """How many replies a chat has waiting (`citizen_id`: a column or a bound value)."""
    table = Outbox.__table__
    return (
        select(func.count())
        .select_from(table)
        .where(table.c.citizen_id == citizen_id, _waiting_reply(table))
        .scalar_subquery()
    )


def note_waiting_replies(session: Session, citizen_id: int, count: int) -> None:
    """Tells queue_messages how many replies the chat has waiting, read as its citizen was
    locked on SQLite: while the new ones keep it within MAX_QUEUED_REPLIES there is nothing
    to trim, and the trim's statement (a twentieth of a message's CPU) is left out. Exact
    on SQLite only: its writer holds the whole database from BEGIN IMMEDIATE, where a
    PostgreSQL worker may claim a reply meanwhile (there, queue_replies trims in the
    reply's own statement anyway)."""
    session.info.setdefault(_WAITING, {})[citizen_id] = count


def _drop_stale_replies(session: Session, citizen_id: int) -> None:
    """Cancels a chat's queued replies beyond the newest MAX_QUEUED_REPLIES."""
    result = session.connection().execute(_DROP_STALE_REPLIES, {"chat": citizen_id})
    _log_dropped(citizen_id, result.rowcount)


def _drop_stale_replies_statement() -> Executable:
    table = Outbox.__table__
    waiting = (table.c.citizen_id == bindparam("chat")) & _waiting_reply(table)
    # The oldest reply to keep; NULL (nothing dropped) while fewer are waiting.
    oldest_kept = (
        select(table.c.id)
        .where(waiting)
        .order_by(table.c.id.desc())
        .offset(MAX_QUEUED_REPLIES - 1)
        .limit(1)
        .scalar_subquery()
    )
    return (
        table.update()
        # The last condition, on the look-up alone, is checked once before any row is
        # read: with fewer waiting (almost always) no row is looked at.
        .where(waiting, table.c.id < oldest_kept, oldest_kept.is_not(None))
        .values(status=CANCELLED, last_error=SUPERSEDED)
    )


# Built once: run after every reply on SQLite (PostgreSQL trims in queue_replies' statement).
_DROP_STALE_REPLIES = _drop_stale_replies_statement()


def _log_dropped(citizen_id: int, count: int) -> None:
    if count:
        log.warning("citizen %s writes faster than they can be answered: %s older "
                    "replies cancelled", citizen_id, count)  # fmt: skip


def queue_replies(
    session: Session,
    citizen_id: int,
    channel: str,
    address: str,
    payloads: list[dict],
    *,
    along: tuple[Executable, dict],
) -> None:
    """Runs `along` (another write of the transaction: a statement and its parameters),
    then queues one chat's replies and cancels its oldest beyond MAX_QUEUED_REPLIES, as
    `queue_messages` does.

    On PostgreSQL the three go in one statement (one round trip, not three): `along` and
    the INSERT of the replies as CTEs of the UPDATE that trims the backlog. Its snapshot
    does not see the new replies, newer than every waiting one: it keeps the newest
    MAX_QUEUED_REPLIES - len(payloads) of those and cancels the others.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql" or not 0 < len(payloads) <= MAX_QUEUED_REPLIES:
        connection.execute(*along)
        queue_messages(session, [
            {"citizen_id": citizen_id, "channel": channel, "address": address,
             "payload": payload, "priority": PRIORITY_REPLY}
            for payload in payloads
        ])  # fmt: skip
        return
    statement, values = along
    values = {
        **values,
        "reply_payloads": payloads,
        "reply_citizen": citizen_id,
        "reply_channel": channel,
        "reply_address": address,
        "reply_at": utcnow(),
        "reply_priority": PRIORITY_REPLY,
        "queued_status": QUEUED,
        "cancelled_status": CANCELLED,
        "superseded": SUPERSEDED,
        "kept_waiting": MAX_QUEUED_REPLIES - len(payloads),
    }
    result = connection.execute(_queue_replies_statement(statement), values)
    _log_dropped(citizen_id, result.rowcount)


@functools.lru_cache(maxsize=8)
def _queue_replies_statement(along: Executable) -> Executable:
    """`queue_replies`'s one statement on PostgreSQL, built once per `along`:

    WITH along AS (...),
         queued AS (INSERT INTO outbox ... SELECT ..., value
                    FROM json_array_elements(:reply_payloads) WITH ORDINALITY
                    ORDER BY ordinality RETURNING id)
    UPDATE outbox SET status = 'cancelled', ... WHERE id = ANY(this chat's waiting
    replies beyond its (10 - new replies) newest) AND still queued

    The replies are one JSON array, not a row of VALUES each: a multi-row VALUES has
    no cache key, and SQLAlchemy compiled it again for every message (~1 ms). Their
    ids follow the array's order (the ORDER BY), as a multi-row VALUES gave them.
    """
    table = Outbox.__table__
    column = table.c

    def param(name: str, column) -> BindParameter:
        return bindparam(name, type_=column.type)

    row = {
        "citizen_id": param("reply_citizen", column.citizen_id),
        "channel": param("reply_channel", column.channel),
        "address": param("reply_address", column.address),
        "priority": param("reply_priority", column.priority),
        "status": param("queued_status", column.status),
        "attempts": literal(0, column.attempts.type),
        "next_attempt_at": param("reply_at", column.next_attempt_at),
        "created_at": param("reply_at", column.created_at),
    }
    payloads = (
        func.json_array_elements(bindparam("reply_payloads", type_=JSON))
        .table_valued("value", with_ordinality="ordinality")
        .render_derived()
        .alias("reply")
    )
    rows = select(
        *(value.label(name) for name, value in row.items()),
        type_coerce(payloads.c.value, column.payload.type).label("payload"),
    ).order_by(payloads.c.ordinality)
    # On PostgreSQL a trigger NOTIFYs the workers (migration 0005), delivered at commit.
    queued = (
        pg_insert(table).from_select([*row, "payload"], rows).returning(column.id).cte("queued")
    )
    waiting = (column.citizen_id == row["citizen_id"]) & _waiting_reply(table)
    # The ids to drop, found from this chat's entries of ix_outbox_waiting_reply
    # (citizen_id, id), newest first, whatever the other chats have waiting and this chat
    # has had sent. As an array, so that the UPDATE reads them, none almost always, by the
    # chat's ids (ix_outbox_citizen or the primary key), not by an index of its choosing:
    # with the outbox's statistics stale, the status and priority it was given made it
    # read ix_outbox_due, every chat's waiting replies, for each message. Not locked here:
    # FOR UPDATE under the OFFSET locked every reply it passed over too, the ones kept;
    # the UPDATE locks what it drops, and its own test of "still waiting", made again on
    # a row a worker claimed meanwhile, passes that one over.
    dropped = func.array(
        select(column.id)
        .where(waiting)
        .order_by(column.id.desc())
        .offset(bindparam("kept_waiting", type_=column.id.type))
        .scalar_subquery(),
        type_=postgresql.ARRAY(column.id.type),
    )
    # The UPDATE finds them by their ids alone (the primary key), and checks again that
    # each is still waiting, in the same coalesce form: an index of the status never serves
    # it (see WAITING_REPLY).
    return (
        table.update()
        .where(column.id == any_(dropped), _still_queued(table))
        .values(
            status=param("cancelled_status", column.status),
            last_error=param("superseded", column.last_error),
        )
        .add_cte(along.cte("along"), queued)
    )


def claim_due(
    session: Session,
    *,
    channels: list[str],
    limit: int,
    lease: timedelta,
    citizen_id: int | None = None,
) -> list[Outbox]:
    """Claims due messages for sending; several workers never claim the same one.

    A citizen's messages go out in the order they were queued: a message waits while an
    earlier one to the same citizen is unsent (being sent, or waiting for a retry). So a
    batch holds at most one message per chat, and chats take turns: one chat's backlog
    (a flood, a long conversation) never fills a batch ahead of the others. Within that,
    replies go before notices, then the oldest first. A page (PRIORITY_PAGE) goes first of
    all, and does not wait for its chat's earlier messages. The worker claims each channel
    apart (`channels` of one), so a slow or throttled channel never holds another back.
    """
    now = utcnow()
    due = or_(
        (Outbox.status == QUEUED) & (Outbox.next_attempt_at <= now),
        (Outbox.status == SENDING) & (Outbox.locked_until < now),
    )
    # Each chat's first unsent message (being sent, or waiting for a retry): only it
    # may go. One pass over the unsent rows, not a look back from each of them.
    heads = (
        select(func.min(Outbox.id))
        .where(Outbox.status.in_((QUEUED, SENDING)), Outbox.channel.in_(channels))
        .group_by(Outbox.citizen_id)
    )
    # Pages go whatever their chat still waits for (one indexed range: status, priority).
    pages = select(Outbox.id).where(
        Outbox.status.in_((QUEUED, SENDING)),
        Outbox.priority < PRIORITY_REPLY,
        Outbox.channel.in_(channels),
    )
    if citizen_id is not None:
        heads = heads.where(Outbox.citizen_id == citizen_id)
        pages = pages.where(Outbox.citizen_id == citizen_id)
    stmt = select(Outbox).where(Outbox.id.in_(union(heads, pages)), due)
    stmt = stmt.order_by(Outbox.priority, Outbox.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list(session.scalars(stmt))
    if rows:
        # Core UPDATE: the ORM one would also bump the loaded rows, counting a try twice.
        table = Outbox.__table__
        session.connection().execute(
            table.update()
            .where(table.c.id.in_([r.id for r in rows]))
            .values(status=SENDING, locked_until=now + lease, attempts=table.c.attempts + 1)
        )
        for r in rows:
            r.status, r.attempts, r.locked_until = SENDING, r.attempts + 1, now + lease
    return rows


def mark_sent(session: Session, message_id: int, provider_message_id: str | None) -> None:
    session.execute(
        update(Outbox)
        .where(Outbox.id == message_id)
        .values(
            status=SENT,
            sent_at=utcnow(),
            provider_message_id=provider_message_id,
            locked_until=None,
            last_error=None,
        )
    )


def mark_retry(session: Session, message_id: int, when: datetime, error: str) -> None:
    session.execute(
        update(Outbox)
        .where(Outbox.id == message_id)
        .values(status=QUEUED, next_attempt_at=when, locked_until=None, last_error=error[:500])
    )


def defer(session: Session, message_id: int, when: datetime, error: str | None = None) -> None:
    """Puts a claimed message back for later without counting a try (rate limits)."""
    extra = {} if error is None else {"last_error": error[:500]}
    session.execute(
        update(Outbox)
        .where(Outbox.id == message_id)
        .values(status=QUEUED, next_attempt_at=when, locked_until=None,
                attempts=Outbox.attempts - 1, **extra)
    )  # fmt: skip


def requeue(session: Session, message_id: int) -> bool:
    """Gives a dead or failed message a new series of tries (the console's retry button)."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.id == message_id, Outbox.status.in_((DEAD, FAILED)))
        .values(status=QUEUED, attempts=0, next_attempt_at=utcnow(), last_error=None)
        .returning(Outbox.id)
    )
    return result.scalar() is not None


# What the console lists as not (yet) delivered: dead, failed, or waiting for the citizen.
UNDELIVERED = (DEAD, FAILED, HELD)


def dead_messages(session: Session, limit: int = 100) -> list[Outbox]:
    stmt = (
        select(Outbox).where(Outbox.status.in_(UNDELIVERED)).order_by(Outbox.id.desc()).limit(limit)
    )
    return list(session.scalars(stmt))


def mark_dead(session: Session, message_id: int, error: str, status: str = DEAD) -> None:
    session.execute(
        update(Outbox)
        .where(Outbox.id == message_id)
        .values(status=status, locked_until=None, last_error=error[:500])
    )


def mark_held(session: Session, message_id: int, reason: str) -> None:
    """Parks a message until the citizen writes again (`release_held`)."""
    session.execute(
        update(Outbox)
        .where(Outbox.id == message_id)
        .values(status=HELD, locked_until=None, last_error=reason[:500])
    )


def hold_copy(session: Session, message: Outbox, payload: dict, reason: str) -> None:
    """Adds a copy of `message` (its report, its event) that waits for the citizen."""
    queue_messages(
        session,
        [
            {
                "citizen_id": message.citizen_id,
                "channel": message.channel,
                "address": message.address,
                "payload": payload,
                "priority": message.priority,
                "report_id": message.report_id,
                "event_id": message.event_id,
                "status": HELD,
                "last_error": reason[:500],
            }
        ],
    )


def release_held(session: Session, citizen_id: int) -> int:
    """Queues again what waited for this citizen's next message; returns how many."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.citizen_id == citizen_id, Outbox.status == HELD)
        .values(status=QUEUED, attempts=0, next_attempt_at=utcnow(), locked_until=None)
        .returning(Outbox.id)
    )
    return len(result.all())


def set_payload(session: Session, message_id: int, payload: dict) -> None:
    session.execute(update(Outbox).where(Outbox.id == message_id).values(payload=payload))


def cancel_queued_for(session: Session, citizen_id: int, reason: str) -> None:
    """Cancels what is still waiting for a citizen who can no longer receive it."""
    session.execute(
        update(Outbox)
        .where(Outbox.citizen_id == citizen_id, Outbox.status.in_((QUEUED, HELD)))
        .values(status=CANCELLED, last_error=reason)
    )


def messages_for_report(session: Session, report_id: int) -> list[Outbox]:
    stmt = select(Outbox).where(Outbox.report_id == report_id).order_by(Outbox.id)
    return list(session.scalars(stmt))


def messages_for_citizen(session: Session, citizen_id: int, after_id: int = 0) -> list[Outbox]:
    stmt = (
        select(Outbox)
        .where(Outbox.citizen_id == citizen_id, Outbox.id > after_id)
        .order_by(Outbox.id)
    )
    return list(session.scalars(stmt))


# --- delivery receipts and replays (every channel) ------------------------------------

# A receipt only moves a message forward: Twilio's callbacks may arrive out of order
# ("sent" after "delivered"), and a late one must not undo an earlier, later state.
DELIVERY_RANK = {QUEUED: 0, SENDING: 0, SENT: 1, DELIVERED: 2, FAILED: 2, READ: 3}


def outbox_by_provider_id(session: Session, provider_message_id: str) -> Outbox | None:
    """The outbound message the provider knows by this id (Twilio's MessageSid)."""
    return session.scalar(
        select(Outbox).where(Outbox.provider_message_id == provider_message_id).limit(1)
    )


def record_delivery(
    session: Session,
    provider_message_id: str,
    status: str,
    *,
    error: str | None = None,
    at: datetime,
) -> bool:
    """Records a delivery receipt; returns False when no message has this provider id."""
    message = outbox_by_provider_id(session, provider_message_id)
    if message is None:
        return False
    current = DELIVERY_RANK.get(message.status)
    if current is None or DELIVERY_RANK[status] <= current:
        return True  # dead, cancelled, or already further along: nothing to change
    values: dict = {"status": status}
    if status in (DELIVERED, READ) and message.delivered_at is None:
        values["delivered_at"] = at
    if status == FAILED:
        values["last_error"] = (error or "failed")[:500]
    session.execute(update(Outbox).where(Outbox.id == message.id).values(**values))
    return True


def inbound_seen(session: Session, channel: str, external_id: str) -> bool:
    """Tells whether an inbound message id (or a used link's id) is already recorded."""
    return (
        session.scalar(
            select(InboundMessage.id).where(
                InboundMessage.channel == channel, InboundMessage.external_id == external_id
            )
        )
        is not None
    )
