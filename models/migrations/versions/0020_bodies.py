"""Other bodies: who they are, the rules routing reports to them, each report forwarded

A report may go to another body (the département's roads, the electricity network)
instead of, or as well as, a service; `report.with_body` keeps the ones handed over out
of the town's queue until the body says they are not its own.

Revision ID: 0020_bodies
Revises: 0019_open311_forward
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020_bodies"
down_revision: str | None = "0019_open311_forward"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "body",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("email", sqlmodel.AutoString(length=255), nullable=True),
        sa.Column("endpoint", sqlmodel.AutoString(length=500), nullable=True),
        sa.Column("api_key", sqlmodel.AutoString(length=255), nullable=True),
        sa.Column("service_codes", sa.JSON(), nullable=False),
        sa.Column("response_hours", sa.Integer(), nullable=False),
        sa.Column("contact_url", sqlmodel.AutoString(length=500), nullable=True),
        sa.Column("share_identity", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "bodyroute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("body_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("also", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["body_id"], ["body.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"]),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("category_id", "zone_id", "body_id"),
    )
    op.create_table(
        "bodyforward",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("body_id", sa.Integer(), nullable=False),
        sa.Column("also", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("first_answer_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("answered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("answer", sqlmodel.AutoString(length=16), nullable=True),
        sa.Column("reminded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["body_id"], ["body.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "body_id"),
    )
    op.create_index(
        "ix_bodyforward_waiting", "bodyforward", ["answered_at", "reminded_at"], unique=False
    )
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("with_body", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("with_body")
    op.drop_index("ix_bodyforward_waiting", table_name="bodyforward")
    op.drop_table("bodyforward")
    op.drop_table("bodyroute")
    op.drop_table("body")
