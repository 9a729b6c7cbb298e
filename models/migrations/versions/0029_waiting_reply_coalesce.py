"""the index of each chat's waiting replies: a predicate ix_outbox_due cannot serve

A chat's waiting replies (the trim after each reply, and SQLite's count as the citizen is
locked) were asked as `status = 'queued' AND priority = 0`, which ix_outbox_due (status,
priority, next_attempt_at) serves too. With statistics taken while no reply was waiting,
PostgreSQL found both as cheap and, in one generic plan of two or three, read
ix_outbox_due: every chat's waiting replies, with a filter on the chat. Under a burst, or
with the provider down, each message then read the whole backlog. Asked and indexed as
`coalesce(status, '') = 'queued'`, only this partial index answers (models/messaging.py
WAITING_REPLY).

Revision ID: 0029_waiting_reply_coalesce
Revises: 0028_follower_citizen
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_waiting_reply_coalesce"
down_revision: str | None = "0028_follower_citizen"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models/messaging.py WAITING_REPLY, before and after.
BEFORE = "status = 'queued' AND priority = 0"
AFTER = "coalesce(status, '') = 'queued' AND priority = 0"


def _index(predicate: str) -> None:
    op.drop_index("ix_outbox_waiting_reply", table_name="outbox")
    op.create_index(
        "ix_outbox_waiting_reply",
        "outbox",
        ["citizen_id", "id"],
        postgresql_where=sa.text(predicate),
        sqlite_where=sa.text(predicate),
    )


def upgrade() -> None:
    _index(AFTER)


def downgrade() -> None:
    _index(BEFORE)
