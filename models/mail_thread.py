"""The e-mail channel's threads: every Message-ID it received or sent, with the citizen,
the thread's first message (`root`) and, once known, the report the thread is about.

A resident's reply names earlier messages (In-Reply-To, References): their rows say which
report the reply is about; our answers name the thread's messages back, so mail clients
show one conversation per report.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel

from models.db import utcnow
from models.messaging import QUEUED, Outbox
from models.report import Follower, Report

# References our answers carry: the thread's first message and the latest ones.
MAX_REFERENCES = 10


class MailMessage(SQLModel, table=True):
    __tablename__ = "mail_message"

    id: int | None = Field(default=None, primary_key=True)
    # As in the header, angle brackets included.
    message_id: str = Field(max_length=255, unique=True)
    citizen_id: int = Field(foreign_key="citizen.id", ondelete="CASCADE", index=True)
    root: str = Field(max_length=255, index=True)
    report_id: int | None = Field(
        default=None, foreign_key="report.id", ondelete="SET NULL", index=True
    )
    subject: str = Field(default="", max_length=200)
    outbound: bool = False
    created_at: datetime = Field(default_factory=utcnow)


def remember_mail(
    session: Session,
    *,
    message_id: str,
    citizen_id: int,
    root: str,
    report_id: int | None,
    subject: str,
    outbound: bool,
) -> None:
    """Records one message of a thread (a message already recorded is left as it is)."""
    postgres = session.connection().dialect.name == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    values = {
        "message_id": message_id[:255],
        "citizen_id": citizen_id,
        "root": root[:255],
        "report_id": report_id,
        "subject": subject[:200],
        "outbound": outbound,
        "created_at": utcnow(),
    }
    statement = insert(MailMessage).values(**values)
    session.execute(statement.on_conflict_do_nothing(index_elements=["message_id"]))


def thread_of(session: Session, citizen_id: int, message_ids: list[str]) -> MailMessage | None:
    """The latest of these messages that belongs to this citizen's threads."""
    if not message_ids:
        return None
    stmt = (
        select(MailMessage)
        .where(MailMessage.citizen_id == citizen_id, MailMessage.message_id.in_(message_ids))
        .order_by(MailMessage.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def report_thread(session: Session, citizen_id: int, report_id: int) -> MailMessage | None:
    """The latest message of this citizen's thread about this report."""
    stmt = (
        select(MailMessage)
        .where(MailMessage.citizen_id == citizen_id, MailMessage.report_id == report_id)
        .order_by(MailMessage.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def latest_received(session: Session, citizen_id: int) -> MailMessage | None:
    """The citizen's latest message to us: the thread a conversation's answers go to."""
    stmt = (
        select(MailMessage)
        .where(MailMessage.citizen_id == citizen_id, MailMessage.outbound.is_(False))
        .order_by(MailMessage.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def thread_messages(session: Session, root: str) -> list[str]:
    """The Message-IDs of one thread, oldest first (the root and the latest ones)."""
    stmt = select(MailMessage.message_id).where(MailMessage.root == root).order_by(MailMessage.id)
    ids = list(session.scalars(stmt))
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return ids


def report_filed_in_thread(session: Session, citizen_id: int, since: datetime) -> int | None:
    """The report this citizen filed since the thread began (the one it led to), if any."""
    stmt = (
        select(Report.id)
        .join(Follower, Follower.report_id == Report.id)
        .where(
            Follower.citizen_id == citizen_id,
            Follower.is_author.is_(True),
            Report.created_at >= since,
        )
        .order_by(Report.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def set_thread_report(session: Session, root: str, report_id: int) -> None:
    """Ties a thread that led to a report to that report."""
    session.execute(
        update(MailMessage)
        .where(MailMessage.root == root, MailMessage.report_id.is_(None))
        .values(report_id=report_id)
    )


def thread_started(session: Session, root: str) -> datetime | None:
    """When the thread's first message was recorded."""
    return session.scalar(select(func.min(MailMessage.created_at)).where(MailMessage.root == root))


def queued_with(session: Session, message: Outbox) -> list[Outbox]:
    """The citizen's messages queued in the same transaction right after this one (a
    step's two or three replies), which one e-mail carries together."""
    stmt = (
        select(Outbox)
        .where(
            Outbox.citizen_id == message.citizen_id,
            Outbox.channel == message.channel,
            Outbox.id > message.id,
            Outbox.status == QUEUED,
            Outbox.created_at == message.created_at,
            Outbox.priority == message.priority,
        )
        .order_by(Outbox.id)
    )
    return [m for m in session.scalars(stmt) if m.report_id == message.report_id]
