"""Reports pushed to other bodies' Open311 endpoints, and what they say back

`open311forward`: one row per report and body, the worker's queue for the push and the
far end's request number, token, last status and notes (models/open311_forward.py).

Revision ID: 0019_open311_forward
Revises: 0018_report_priority
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0019_open311_forward"
down_revision: str | None = "0018_report_priority"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    string = sqlmodel.AutoString
    moment = sqlmodel.sql.sqltypes.UTCDateTime
    op.create_table(
        "open311forward",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("target", string(length=64), nullable=False),
        sa.Column("endpoint", string(length=500), nullable=False),
        sa.Column("api_key", string(length=255), nullable=False),
        sa.Column("service_code", string(length=100), nullable=False),
        sa.Column("jurisdiction_id", string(length=64), nullable=False),
        sa.Column("ref", string(length=40), nullable=False),
        sa.Column("state", string(length=16), nullable=False),
        sa.Column("service_request_id", string(length=100), nullable=True),
        sa.Column("token", string(length=255), nullable=True),
        sa.Column("remote_status", string(length=16), nullable=True),
        sa.Column("remote_notes", string(length=4000), nullable=True),
        sa.Column("last_error", string(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", moment(), nullable=False),
        sa.Column("created_at", moment(), nullable=False),
        sa.Column("sent_at", moment(), nullable=True),
        sa.Column("last_pulled_at", moment(), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
        sa.UniqueConstraint("report_id", "target", name="uq_open311forward_report_target"),
    )
    with op.batch_alter_table("open311forward", schema=None) as batch_op:
        batch_op.create_index("ix_open311forward_due", ["state", "next_try_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_open311forward_report_id"), ["report_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("open311forward")
