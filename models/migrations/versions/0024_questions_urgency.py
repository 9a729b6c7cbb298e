"""Categories ask up to two short questions and may make their reports urgent

A category keeps its questions as JSON, says whether every report of it is urgent and
how many hours an urgent one has (its own SLA); a report keeps the answers as JSON.

Revision ID: 0024_questions_urgency
Revises: 0023_nlu_examples
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_questions_urgency"
down_revision: str | None = "0023_nlu_examples"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("category", schema=None) as batch_op:
        batch_op.add_column(sa.Column("questions", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("urgent_by_default", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("urgent_sla_hours", sa.Integer(), server_default="4", nullable=False)
        )
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("answers")
    with op.batch_alter_table("category", schema=None) as batch_op:
        batch_op.drop_column("urgent_sla_hours")
        batch_op.drop_column("urgent_by_default")
        batch_op.drop_column("questions")
