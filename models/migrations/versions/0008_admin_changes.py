"""The audit trail of admin changes (roles, services, categories, zones, pilot, API keys)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "adminchange",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("thing", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("adminchange", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_adminchange_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("adminchange", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adminchange_created_at"))
    op.drop_table("adminchange")
