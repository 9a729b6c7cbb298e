"""The e-mail channel's threads: each Message-ID received or sent, its thread and report

A resident's reply names our earlier messages (In-Reply-To, References): `mail_message`
says which citizen, thread (`root`, its first Message-ID) and report they belong to.

Revision ID: 0021_email_channel
Revises: 0020_bodies
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021_email_channel"
down_revision: str | None = "0020_bodies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("root", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("outbound", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("mail_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_message_citizen_id"), ["citizen_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mail_message_root"), ["root"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_message_report_id"), ["report_id"], unique=False)


def downgrade() -> None:
    op.drop_table("mail_message")
