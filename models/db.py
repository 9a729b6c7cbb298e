"""Database engine and sessions: SQLite (WAL) by default, PostgreSQL in production."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import configure_mappers
from sqlmodel import Session

# The most digits of a number read from outside (a button's data, a form, a query string,
# a typed command), as the chat's own patterns say (`\d{1,9}`): no row of ours has a
# longer id, and a longer one would overflow the databases' integers (an error, not "no
# such report").
NUMBER_DIGITS = 9


def read_number(text: str | None) -> int | None:
    """A number written by someone outside: ASCII digits, nine at most; else None."""
    if text and len(text) <= NUMBER_DIGITS and text.isascii() and text.isdigit():
        return int(text)
    return None


def detached(model, values: dict):
    """A detached instance of `model` with these column values (the others at their
    defaults), built as the ORM builds one from a row: SQLModel's __init__ sets every
    field through the ORM's instrumentation, about 0.1 ms a Citizen on the webhook's path.
    The mappers are configured first (at once when they are): in a fresh process this may
    be the first use of the ORM, and an unconfigured class has no attribute to set."""
    if not model.__mapper__.configured:
        configure_mappers()
    instance = model._sa_class_manager.new_instance()
    fields = instance.__dict__
    for name, default, factory in _defaults(model):
        if name in values:
            fields[name] = values[name]
        elif factory is not None:
            fields[name] = factory()
        else:
            fields[name] = default
    return instance


_DEFAULTS: dict[type, list[tuple[str, object, object]]] = {}


def _defaults(model) -> list[tuple[str, object, object]]:
    """(name, default, default factory) of each of the model's fields, read once."""
    found = _DEFAULTS.get(model)
    if found is None:
        found = [(n, f.default, f.default_factory) for n, f in model.model_fields.items()]
        _DEFAULTS[model] = found
    return found


def utcnow() -> datetime:
    """Returns the current time, aware, in UTC (how every timestamp is stored)."""
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """Uses psycopg 3 for `postgresql://` URLs, the driver this project ships."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs) -> Engine:
    """Creates the engine; SQLite gets WAL, foreign keys and write-intent transactions."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": BUSY_SECONDS},
            **kwargs,
        )
        queue = None
        if parsed.database and parsed.database != ":memory:" and "mode=memory" not in url:
            queue = WriterQueue(Path(parsed.database + "-writers"))
        _tune_sqlite(engine, queue)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


# How long a SQLite writer waits for the database before its statement fails.
BUSY_SECONDS = 30


class WriterQueue:
    """SQLite's writers, of every process and thread, queue on a lock file beside the
    database (flock), taken before BEGIN IMMEDIATE and given back at COMMIT or ROLLBACK.

    SQLite's own wait for a taken database sleeps 1, 2, 5, 10, 15... ms between tries: a
    writer that finds it taken sleeps on long after it is free (a step holds it about a
    millisecond), and with two gunicorn workers half the webhook's time went to those
    sleeps. Here the next writer tries again every tenth of a millisecond. Past
    BUSY_SECONDS it goes on without its turn, and SQLite's own wait decides, as before."""

    POLL_SECONDS = 0.0001

    def __init__(self, path: Path) -> None:
        self.path = path
        # By DBAPI connection: [process, descriptor, taken]. One descriptor per connection
        # and process: flock's lock belongs to an open file, which a forked process would
        # otherwise share with its parent.
        self._held: dict[int, list] = {}

    def _handle(self, dbapi_connection) -> list:
        held = self._held.get(id(dbapi_connection))
        if held is None or held[0] != os.getpid():
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            held = self._held[id(dbapi_connection)] = [os.getpid(), fd, False]
        return held

    def take(self, dbapi_connection) -> None:
        held = self._handle(dbapi_connection)
        if held[2]:
            return
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                fcntl.flock(held[1], fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
                time.sleep(self.POLL_SECONDS)
                continue
            held[2] = True
            return

    def give_back(self, connection) -> None:
        # The pool's reset rolls back through its own wrapper of the connection.
        held = self._held.get(id(getattr(connection, "dbapi_connection", connection)))
        if held is not None and held[2] and held[0] == os.getpid():
            fcntl.flock(held[1], fcntl.LOCK_UN)
            held[2] = False

    def close(self, dbapi_connection) -> None:
        held = self._held.pop(id(dbapi_connection), None)
        if held is not None and held[0] == os.getpid():
            os.close(held[1])


def _tune_sqlite(engine: Engine, queue: WriterQueue | None = None) -> None:
    if queue is not None:
        _queue_writers(engine, queue)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own BEGIN handling is off: we emit BEGIN ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A deferred transaction that later writes can fail with SQLITE_BUSY without
        # waiting for busy_timeout; taking the write lock up front makes writers queue.
        if conn.get_execution_options().get("readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            dbapi_connection = conn.connection.dbapi_connection
            if queue is not None:
                queue.take(dbapi_connection)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                if queue is not None:
                    queue.give_back(dbapi_connection)
                raise


def _queue_writers(engine: Engine, queue: WriterQueue) -> None:
    """Gives the writers' turn back right after the database's COMMIT or ROLLBACK (the
    engine's events come before them)."""
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection) -> None:
        try:
            commit(dbapi_connection)
        finally:
            queue.give_back(dbapi_connection)

    def do_rollback(dbapi_connection) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            queue.give_back(dbapi_connection)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback

    @event.listens_for(engine, "close")
    def _on_close(dbapi_connection, _record) -> None:
        queue.close(dbapi_connection)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class Database:
    """The engine and the two kinds of session the application uses."""

    def __init__(self, url: str, **engine_kwargs) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self._read_engine = self.engine.execution_options(readonly=True)

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yields a session whose work commits together, or not at all."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """Yields a session for reads (no write lock on SQLite)."""
        with Session(self._read_engine, expire_on_commit=False) as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
