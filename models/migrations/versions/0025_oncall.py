"""On call (astreinte): each service's rota, hours and page delay, and the pages sent

Revision ID: 0025_oncall
Revises: 0024_questions_urgency
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0025_oncall"
down_revision: str | None = "0024_questions_urgency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "oncall_shift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("pattern", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("starts_at", UTC_TIME(), nullable=True),
        sa.Column("ends_at", UTC_TIME(), nullable=True),
        sa.Column("from_minute", sa.Integer(), nullable=True),
        sa.Column("to_minute", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_TIME(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("oncall_shift", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oncall_shift_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_oncall_shift_service_id"), ["service_id"], unique=False
        )
    op.create_table(
        "oncall_service",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("ack_minutes", sa.Integer(), nullable=False),
        sa.Column("opens", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("closes", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("service_id"),
    )
    op.create_table(
        "oncall_page",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("paged_at", UTC_TIME(), nullable=False),
        sa.Column("due_at", UTC_TIME(), nullable=True),
        sa.Column("acknowledged_at", UTC_TIME(), nullable=True),
        sa.Column("escalated_at", UTC_TIME(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("oncall_page", schema=None) as batch_op:
        batch_op.create_index("ix_oncall_page_due", ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_oncall_page_report_id"), ["report_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oncall_page", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oncall_page_report_id"))
        batch_op.drop_index("ix_oncall_page_due")
    op.drop_table("oncall_page")
    op.drop_table("oncall_service")
    with op.batch_alter_table("oncall_shift", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oncall_shift_service_id"))
        batch_op.drop_index(batch_op.f("ix_oncall_shift_agent_id"))
    op.drop_table("oncall_shift")
