"""The web channel: the e-mail address a web citizen confirmed to follow their reports

Revision ID: 0022_web_channel
Revises: 0021_email_channel
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0022_web_channel"
down_revision: str | None = "0021_email_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webcontact",
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.AutoString(length=254), nullable=False),
        sa.Column("asked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("citizen_id"),
    )


def downgrade() -> None:
    op.drop_table("webcontact")
