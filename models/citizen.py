"""Citizens (one per channel identity) and their conversation with the bot."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Column,
    UniqueConstraint,
    bindparam,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel

from models.db import detached, utcnow
from models.messaging import (
    note_waiting_replies,
    queue_replies,
    record_inbound,
    record_inbound_statement,
    waiting_replies,
)


class State(StrEnum):
    """Where a citizen's conversation is: the rows of the flow table (bot/flow.py)."""

    START = "start"
    MENU = "menu"
    DESCRIPTION = "description"
    PHOTO = "photo"
    LOCATION = "location"
    LOCATION_CONFIRM = "location_confirm"
    NEARBY = "nearby"
    CONFIRM = "confirm"
    IDLE = "idle"
    ADD_TO_REPORT = "add_to_report"
    IS_FIXED = "is_fixed"
    FEEDBACK_WORDS = "feedback_words"
    ERASE_CONFIRM = "erase_confirm"
    # A free message read as a report (handlers/sentence.py): one question confirms the
    # guess; or the likeliest categories (or, after an emergency, all) are offered.
    GUESS = "guess"
    GUESS_PICK = "guess_pick"
    # The category's short questions, after the description (handlers/questions.py).
    QUESTION = "question"


class Citizen(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_citizen_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    # The channel's own identity: a Telegram chat id, an E.164 phone number, a dev name.
    address: str = Field(max_length=64)
    display_name: str | None = Field(default=None, max_length=128)
    language: str = Field(default="fr", max_length=2)
    opted_out: bool = False
    # The provider said it can never deliver (bot blocked, number invalid).
    unreachable: bool = False
    # A field agent's linked chat (models/crew.py AgentChat): its messages go to the crew
    # commands. Kept here so a citizen's message costs no extra query.
    field_chat: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    erased_at: datetime | None = None
    # Pilot (services/pilot.py): when and how the citizen was let in; a citizen admitted once
    # stays admitted. `refused_on` counts a refused contact once per citizen per day.
    admitted_at: datetime | None = None
    admitted_via: str | None = Field(default=None, max_length=48)
    refused_on: date | None = None
    # The citizen's last message, where a channel's rules depend on it (WhatsApp's 24-hour
    # window for free-form messages); set by that channel's webhook.
    last_inbound_at: datetime | None = None

    @property
    def key(self) -> str:
        """Returns the contact key, e.g. `telegram:3527065` or `sms:+33612345678`."""
        return f"{self.channel}:{self.address}"

    @property
    def can_receive(self) -> bool:
        return not (self.opted_out or self.unreachable or self.erased_at)


class Conversation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    citizen_id: int = Field(foreign_key="citizen.id", unique=True, ondelete="CASCADE")
    state: str = Field(default=State.START, max_length=32)
    draft: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)
    # The job (models/jobs.py) whose result the conversation waits for; meanwhile the
    # citizen's messages are held, in order. No foreign key: a purged job must not
    # take the conversation with it, and a stale id is simply never answered.
    waiting_on: int | None = None


def lock_citizen_for_message(
    session: Session,
    channel: str,
    address: str,
    external_id: str,
    *,
    display_name: str | None,
    language: str,
) -> tuple[Citizen, Conversation, bool] | None:
    """Records the provider's id of a message, then does what `lock_citizen` does; returns
    None, locking nothing, when the message was already handled (a redelivery).

    On PostgreSQL the id and the lock go in one statement (one round trip, not two): the
    INSERT ... ON CONFLICT DO NOTHING of the id, and the citizen with their conversation
    locked FOR UPDATE, joined to what the INSERT returned.
    """
    if session.connection().dialect.name != "postgresql":
        if not record_inbound(session, channel, external_id):
            return None
        return lock_citizen(session, channel, address, display_name=display_name,
                            language=language, counting=True)  # fmt: skip
    values = {"channel": channel, "address": address, "external_id": external_id,
              "received_at": utcnow()}  # fmt: skip
    row = session.connection().execute(_RECORD_AND_LOCK, values).one_or_none()
    if row is None:
        return None
    if row._mapping["citizen_id"] is None:  # the citizen's id: none yet
        return _create(session, channel, address, display_name, language)
    return *_from_row(row), False


def _from_row(row) -> tuple[Citizen, Conversation]:
    """The citizen and conversation of a row of `_LOCKED` (or of `_RECORD_AND_LOCK`)."""
    found = row._mapping
    citizen = detached(Citizen, {name: found[key] for name, key in _CITIZEN_KEYS})
    conversation = detached(Conversation, {name: found[key] for name, key in _CONVERSATION_KEYS})
    return citizen, conversation


def lock_citizen(
    session: Session,
    channel: str,
    address: str,
    *,
    display_name: str | None,
    language: str,
    counting: bool = False,
) -> tuple[Citizen, Conversation, bool]:
    """Loads (or creates) the citizen and their conversation, row-locked until commit.

    Returns (citizen, conversation, created). On PostgreSQL the conversation row is
    locked FOR UPDATE, so two messages of one citizen are handled one after the other.
    `counting` (SQLite's messages): the chat's waiting replies are counted in the same
    read and told to queue_messages (note_waiting_replies).
    """
    found = _select_locked(session, channel, address, counting=counting)
    if found is not None:
        return *found, False
    created = _create(session, channel, address, display_name, language)
    if counting:
        note_waiting_replies(session, created[0].id, 0)
    return created


def _create(session: Session, channel: str, address: str, display_name, language: str):
    """A first message: creates the citizen and conversation (or waits for a twin's)."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    now = utcnow()
    given = {"channel": channel, "address": address, "display_name": display_name,
             "language": language}  # fmt: skip
    citizen = detached(
        Citizen, {**given, "opted_out": False, "unreachable": False, "created_at": now}
    )
    values = {**given, "now": now}
    conversation_id = None
    if postgres:
        # Both rows in one statement (one round trip): the conversation's INSERT selects
        # the id the citizen's returned; no row when a twin created the citizen first.
        row = connection.execute(_INSERT_CITIZEN_AND_CONVERSATION, values).one_or_none()
        citizen.id, conversation_id = row if row is not None else (None, None)
    else:
        citizen.id = connection.execute(_INSERT_CITIZEN[postgres], values).scalar()
        if citizen.id is not None:
            conversation_id = connection.execute(
                _INSERT_CONVERSATION[postgres], {"citizen_id": citizen.id, "now": now}
            ).scalar()
    if conversation_id is None:
        # Another message of the same citizen created them at the same time: wait for
        # its transaction (the row lock), then go on from what it left.
        return *_select_locked(session, channel, address), False
    # Rows this transaction inserted are locked by it until commit: no need to select.
    conversation = detached(
        Conversation,
        {"id": conversation_id, "citizen_id": citizen.id, "state": State.START, "draft": {},
         "updated_at": now},
    )  # fmt: skip
    return citizen, conversation, True


def _inserts(insert) -> tuple:
    citizens, conversations = Citizen.__table__, Conversation.__table__
    new_citizen = (
        insert(citizens)
        .values(
            channel=bindparam("channel"),
            address=bindparam("address"),
            display_name=bindparam("display_name"),
            language=bindparam("language"),
            opted_out=False,
            unreachable=False,
            created_at=bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=["channel", "address"])
        .returning(citizens.c.id)
    )
    new_conversation = (
        insert(conversations)
        .values(
            citizen_id=bindparam("citizen_id"),
            state=State.START,
            draft={},
            updated_at=bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=["citizen_id"])
        .returning(conversations.c.id)
    )
    return new_citizen, new_conversation


_INSERT_CITIZEN, _INSERT_CONVERSATION = (
    {postgres: _inserts(pg_insert if postgres else sqlite_insert)[i] for postgres in (False, True)}
    for i in (0, 1)
)


def _insert_citizen_and_conversation():
    """`_create`'s one statement on PostgreSQL:

    WITH new_citizen AS (INSERT INTO citizen ... ON CONFLICT DO NOTHING RETURNING id)
    INSERT INTO conversation (citizen_id, ...) SELECT id, ... FROM new_citizen
    ON CONFLICT DO NOTHING RETURNING citizen_id, id
    """
    conversations = Conversation.__table__
    new_citizen = _INSERT_CITIZEN[True].cte("new_citizen")
    columns = conversations.c
    first = select(
        new_citizen.c.id,
        literal(State.START.value, columns.state.type),
        literal({}, columns.draft.type),
        bindparam("now", type_=columns.updated_at.type),
    )
    return (
        pg_insert(conversations)
        .from_select(["citizen_id", "state", "draft", "updated_at"], first)
        .on_conflict_do_nothing(index_elements=["citizen_id"])
        .returning(columns.citizen_id, columns.id)
    )


_INSERT_CITIZEN_AND_CONVERSATION = _insert_citizen_and_conversation()


# Built once: the hot path of every inbound message (see bench/engine.py).
_SAVE_CONVERSATION = (
    Conversation.__table__.update()
    .where(Conversation.__table__.c.id == bindparam("conversation_id"))
    .values(
        state=bindparam("state"),
        draft=bindparam("draft"),
        waiting_on=bindparam("waiting_on"),
        updated_at=bindparam("now"),
    )
)


def _record_and_lock():
    """`lock_citizen_for_message`'s one statement on PostgreSQL:

        WITH seen AS (INSERT INTO inboundmessage ... ON CONFLICT DO NOTHING RETURNING id)
        SELECT seen.id, locked.* FROM seen
        LEFT JOIN (SELECT citizen.*, conversation.* ... FOR UPDATE OF conversation) AS locked
        ON true

    No row: a redelivery. A row with no citizen: a first message.
    """
    seen = record_inbound_statement(pg_insert).cte("seen")
    locked = _LOCKED.subquery("locked")
    return select(seen.c.id, locked).select_from(seen).outerjoin(locked, true())


def _locked(*, counting: bool = False):
    """The citizen of a channel's address and their conversation, locked FOR UPDATE (on
    PostgreSQL), as one row of plain columns (citizen_…, conversation_…): Core, not the
    ORM, whose identity map the engine's detached objects would have to leave again.
    `counting` adds `waiting`, the replies the chat has waiting (note_waiting_replies)."""
    citizens, conversations = Citizen.__table__, Conversation.__table__
    count = [waiting_replies(citizens.c.id).label("waiting")] if counting else []
    return (
        select(
            *(column.label(key) for key, column in _keys(citizens, "citizen_")),
            *(column.label(key) for key, column in _keys(conversations, "conversation_")),
            *count,
        )
        .join_from(citizens, conversations, conversations.c.citizen_id == citizens.c.id)
        .where(citizens.c.channel == bindparam("channel"),
               citizens.c.address == bindparam("address"))
        .with_for_update(of=conversations)
    )  # fmt: skip


def _keys(table, prefix: str) -> list[tuple[str, object]]:
    return [(prefix + column.name, column) for column in table.c]


def _select_locked(session: Session, channel: str, address: str, *, counting: bool = False):
    """The citizen and their conversation, detached (the engine writes their changes with
    explicit UPDATEs, save_conversation and update_citizen), or None."""
    values = {"channel": channel, "address": address}
    statement = _LOCKED_COUNTING if counting else _LOCKED
    row = session.connection().execute(statement, values).one_or_none()
    if row is None:
        return None
    if counting:
        note_waiting_replies(session, row._mapping["citizen_id"], row._mapping["waiting"])
    return _from_row(row)


_LOCKED = _locked()
# SQLite's lock of a message's citizen (lock_citizen_for_message).
_LOCKED_COUNTING = _locked(counting=True)
_RECORD_AND_LOCK = _record_and_lock()
# (attribute, the row's key) of each model's columns in _RECORD_AND_LOCK's rows.
_CITIZEN_KEYS = [(c.key, key) for key, c in _keys(Citizen.__table__, "citizen_")]
_CONVERSATION_KEYS = [(c.key, key) for key, c in _keys(Conversation.__table__, "conversation_")]


def lock_citizen_by_id(session: Session, citizen_id: int) -> tuple[Citizen, Conversation] | None:
    """Loads a citizen and their conversation, row-locked, for work coming back to it."""
    row = session.execute(
        select(Citizen, Conversation)
        .join(Conversation, Conversation.citizen_id == Citizen.id)
        .where(Citizen.id == citizen_id)
        .with_for_update(of=Conversation)
    ).one_or_none()
    if row is None:
        return None
    citizen, conversation = row
    session.expunge(citizen)
    session.expunge(conversation)
    return citizen, conversation


def save_conversation(
    session: Session, conversation: Conversation, replies: Citizen | None = None,
    payloads: list[dict] | None = None,
) -> None:  # fmt: skip
    """Writes the conversation's state and draft in one UPDATE; with `payloads`, also
    queues them as replies to `replies` (on PostgreSQL in the same statement)."""
    values = {
        "conversation_id": conversation.id,
        "state": conversation.state,
        "draft": conversation.draft,
        "waiting_on": conversation.waiting_on,
        "now": utcnow(),
    }
    if replies is not None and payloads:
        queue_replies(session, replies.id, replies.channel, replies.address, payloads,
                      along=(_SAVE_CONVERSATION, values))  # fmt: skip
        return
    # Core, not ORM: an ORM UPDATE also scans the session to synchronise it (~1 ms).
    session.connection().execute(_SAVE_CONVERSATION, values)


def update_citizen(session: Session, citizen_id: int, **values) -> None:
    session.execute(update(Citizen).where(Citizen.id == citizen_id).values(**values))


def find_citizen(session: Session, channel: str, address: str) -> Citizen | None:
    return session.scalar(
        select(Citizen).where(Citizen.channel == channel, Citizen.address == address)
    )


def citizens_by_id(session: Session, ids: list[int]) -> dict[int, Citizen]:
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Citizen).where(Citizen.id.in_(ids)))}


def count_citizens(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Citizen)) or 0


def conversation_of(session: Session, citizen_id: int) -> Conversation | None:
    return session.scalar(select(Conversation).where(Conversation.citizen_id == citizen_id))


def park_idle_conversations(
    session: Session, citizen_ids: list[int], state: str, draft: dict
) -> None:
    """Moves the conversations of citizens who are not in the middle of a report."""
    if citizen_ids:
        session.connection().execute(
            Conversation.__table__.update()
            .where(
                Conversation.__table__.c.citizen_id.in_(citizen_ids),
                Conversation.__table__.c.state.in_((State.START, State.IDLE)),
            )
            .values(state=state, draft=draft, updated_at=utcnow())
        )


def citizen_language(session: Session, citizen_id: int) -> str | None:
    return session.scalar(select(Citizen.language).where(Citizen.id == citizen_id))
