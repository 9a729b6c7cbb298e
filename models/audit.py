"""The audit trail of admin changes: who changed which setting of the service, and how.

An agent's action on a report is a row of its history (ReportEvent); a change to how the
service runs (a role, a service, a category's SLA, a zone, the pilot, an API key, a
response template) is a row here, written in the transaction that makes the change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, select
from sqlmodel import Field, Session, SQLModel

from models.db import utcnow


class AdminChange(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    # The agent who made it (None: the command line); `actor` keeps how they were named
    # then, so the row still reads right after the agent's email changes.
    agent_id: int | None = Field(default=None, foreign_key="agent.id")
    actor: str = Field(max_length=255)
    # What was changed ("category"), which one ("nid-de-poule") and how ("updated").
    thing: str = Field(max_length=32)
    name: str = Field(max_length=255)
    action: str = Field(max_length=16)
    # field -> [before, after]; never a password, a key or a citizen's full address.
    changes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def add_admin_change(session: Session, change: AdminChange) -> None:
    """Writes the row at once, so a failure surfaces inside the change's transaction."""
    session.add(change)
    session.flush()


def admin_changes(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[AdminChange]:
    """Admin changes from `since` (included) to `until` (excluded), newest first."""
    stmt = select(AdminChange)
    if since is not None:
        stmt = stmt.where(AdminChange.created_at >= since)
    if until is not None:
        stmt = stmt.where(AdminChange.created_at < until)
    stmt = stmt.order_by(AdminChange.created_at.desc(), AdminChange.id.desc()).limit(limit)
    return list(session.scalars(stmt))
