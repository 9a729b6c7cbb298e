"""the webhook's hot path: an index of each chat's waiting replies

After queueing a reply, the chat's backlog is trimmed to its newest MAX_QUEUED_REPLIES
(models/messaging.py). That look-up read ix_outbox_due (every chat's waiting replies,
thousands under load) or, with fresh statistics, ix_outbox_citizen (the chat's whole
history, sent messages included). A partial index holds only the waiting replies: ten
entries a chat at most.

Revision ID: 0027_hot_path
Revises: 0026_event_detail
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_hot_path"
down_revision: str | None = "0026_event_detail"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models/messaging.py WAITING_REPLY, as it stood.
WAITING_REPLY = "status = 'queued' AND priority = 0"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_waiting_reply",
        "outbox",
        ["citizen_id", "id"],
        postgresql_where=sa.text(WAITING_REPLY),
        sqlite_where=sa.text(WAITING_REPLY),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_waiting_reply", table_name="outbox")
