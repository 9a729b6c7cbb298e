"""console: response templates, login attempts, report indexes for the queue and dashboard

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_INDEXES = {
    "ix_report_category_status": ["category_id", "status"],
    "ix_report_closed_at": ["closed_at", "status", "service_id", "category_id", "resolved_at"],
    "ix_report_resolved_at": ["resolved_at", "status", "service_id", "category_id"],
    "ix_report_status_service_category_created": [
        "status",
        "service_id",
        "category_id",
        "created_at",
    ],
    "ix_report_updated_at": ["updated_at"],
}


def upgrade() -> None:
    op.create_table(
        "loginattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_loginattempt_email_ip", "loginattempt", ["email", "ip", "created_at"])
    op.create_table(
        "responsetemplate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    for name, columns in REPORT_INDEXES.items():
        op.create_index(name, "report", columns)


def downgrade() -> None:
    for name in REPORT_INDEXES:
        op.drop_index(name, table_name="report")
    op.drop_table("responsetemplate")
    op.drop_index("ix_loginattempt_email_ip", table_name="loginattempt")
    op.drop_table("loginattempt")
