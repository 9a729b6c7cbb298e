"""Reports carry a priority an agent sets (normal, high, urgent)

The queue opens with the most pressing reports: the priority first, then the deadline
(models/queue_queries.py). Every report filed before is `normal`.

Revision ID: 0018_report_priority
Revises: 0017_nlu
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018_report_priority"
down_revision: str | None = "0017_nlu"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "priority",
                sqlmodel.AutoString(length=8),
                server_default="normal",
                nullable=False,
            )
        )
    # The queue's default order reads one range per priority, status and category (and
    # service, for an agent's services).
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.create_index(
            "ix_report_urgency",
            ["priority", "status", "category_id", "created_at", "id", "service_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_report_service_urgency",
            ["service_id", "priority", "status", "category_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index("ix_report_service_urgency")
        batch_op.drop_index("ix_report_urgency")
        batch_op.drop_column("priority")
