"""Deferred network work (jobs) and messages held behind them

A webhook no longer waits on a geocoder or a media download: the step queues a job,
the conversation waits on it (`conversation.waiting_on`), and the citizen's next
messages are held in `heldinbound` until the worker hands the result back. On
PostgreSQL a queued job wakes the listening workers like a queued message does.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("done_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_due", "job", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "heldinbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("inbound", sa.JSON(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_heldinbound_citizen", "heldinbound", ["citizen_id", "id"], unique=False)
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_on", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # The same notification as a queued message (0005): one wake-up for the worker.
        op.execute(
            """
            CREATE TRIGGER job_queued AFTER INSERT OR UPDATE OF status ON job
            FOR EACH ROW WHEN (NEW.status = 'queued')
            EXECUTE FUNCTION webleads_outbox_notify()
            """
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS job_queued ON job")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("waiting_on")
    op.drop_index("ix_heldinbound_citizen", table_name="heldinbound")
    op.drop_table("heldinbound")
    op.drop_index("ix_job_due", table_name="job")
    op.drop_table("job")
