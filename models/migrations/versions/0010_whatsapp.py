"""WhatsApp: the citizen's last message (the 24-hour window)

`citizen.last_inbound_at`: when the citizen last wrote, set by the channels whose rules
depend on it (WhatsApp allows free-form messages only within 24 hours of it). Outbox rows
may now be `held` (waiting for the citizen's next message) or `read`: the status column
is a free string, nothing to migrate there.

Revision ID: 0010_whatsapp
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_whatsapp"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("citizen", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_inbound_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("citizen", schema=None) as batch_op:
        batch_op.drop_column("last_inbound_at")
