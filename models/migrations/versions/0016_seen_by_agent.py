"""A report remembers when an agent first saw it

`report.seen_by_agent_at`: when an agent first opened the report in the console or acted
on it (console or chat). A category's "public by default" shows a citizen's description
only from then on, so no description goes public before a human has read it. Existing
reports count as seen from their first agent's action; those no agent has touched yet
wait for one.

Revision ID: 0016_seen_by_agent
Revises: 0015_api_key_scope
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016_seen_by_agent"
down_revision: str | None = "0015_api_key_scope"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("seen_by_agent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    op.execute(
        "UPDATE report SET seen_by_agent_at = (SELECT min(reportevent.created_at) "
        "FROM reportevent WHERE reportevent.report_id = report.id "
        "AND reportevent.agent_id IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("seen_by_agent_at")
