"""Field crews: agents' linked chats, one-time link codes (hashed), wrong guesses,
actions done from the field, service heads and their morning digest time

Revision ID: 0012_field_crews
Revises: 0011_public_site
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012_field_crews"
down_revision: str | None = "0011_public_site"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("citizen", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("field_chat", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "agent_chat",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("linked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_field_action_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agent_id"),
        sa.UniqueConstraint("citizen_id"),
    )
    op.create_table(
        "agent_code_guess",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agent_code_guess", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_code_guess_citizen_id"), ["citizen_id"], unique=False
        )

    op.create_table(
        "agent_link_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("agent_link_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_link_code_agent_id"), ["agent_id"], unique=False)

    op.create_table(
        "service_digest",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("digest_time", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("last_sent_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("service_id"),
    )
    op.create_table(
        "service_head",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("service_id", "agent_id"),
    )
    op.create_table(
        "field_action",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agent.id"],
        ),
        sa.ForeignKeyConstraint(["event_id"], ["reportevent.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
        ),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("field_action", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_field_action_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_field_action_report_id"), ["report_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("citizen", schema=None) as batch_op:
        batch_op.drop_column("field_chat")
    with op.batch_alter_table("field_action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_action_report_id"))
        batch_op.drop_index(batch_op.f("ix_field_action_agent_id"))

    op.drop_table("field_action")
    op.drop_table("service_head")
    op.drop_table("service_digest")
    with op.batch_alter_table("agent_link_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_link_code_agent_id"))

    op.drop_table("agent_link_code")
    with op.batch_alter_table("agent_code_guess", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_code_guess_citizen_id"))

    op.drop_table("agent_code_guess")
    op.drop_table("agent_chat")
