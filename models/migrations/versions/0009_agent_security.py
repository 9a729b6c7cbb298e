"""Agent sessions and login throttling

`agent.session_version`: a console session remembers the version it was opened under
and ends when it moves (logout, password reset, role change, deactivation).
`loginthrottle` replaces `loginattempt`: failed logins counted per key (one client and
one account, one client, one account, the whole site) in one statement each, so
concurrent guesses cannot all pass; keys are keyed hashes, not emails or addresses.
The old table's rows are 15-minute counters: nothing worth carrying over.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "loginthrottle",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("window_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index(
        "ix_loginthrottle_window_start", "loginthrottle", ["window_start"], unique=False
    )
    op.drop_index("ix_loginattempt_email_ip", table_name="loginattempt")
    op.drop_table("loginattempt")


def downgrade() -> None:
    op.create_table(
        "loginattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_loginattempt_email_ip", "loginattempt", ["email", "ip", "created_at"])
    op.drop_index("ix_loginthrottle_window_start", table_name="loginthrottle")
    op.drop_table("loginthrottle")
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_column("session_version")
