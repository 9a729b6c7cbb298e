"""Several communes in one deployment (an intercommunalité)

A commune is a boundary zone with its INSEE code (`zone.insee`); a report belongs to the
commune whose boundary holds it (`report.commune`, kept as the INSEE code, the key
Open311 speaks). `communeroute` sends a category of one commune to that commune's own
service (no row: the category's service, shared by every commune). `agentcommune`
attaches agents to communes (none: they see every commune, as before). A single-town
deployment has no INSEE on its zone and behaves exactly as before.

Revision ID: 0013
Revises: 0012_field_crews
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012_field_crews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.add_column(sa.Column("insee", sqlmodel.AutoString(length=5), nullable=True))
        batch_op.create_index("ix_zone_insee", ["insee"], unique=True)
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commune", sqlmodel.AutoString(length=5), nullable=True))
        batch_op.create_index("ix_report_commune", ["commune"])
    op.create_table(
        "communeroute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune", sqlmodel.AutoString(length=5), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("commune", "category_id", name="uq_communeroute"),
    )
    op.create_table(
        "agentcommune",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("commune", sqlmodel.AutoString(length=5), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agent_id", "commune"),
    )


def downgrade() -> None:
    op.drop_table("agentcommune")
    op.drop_table("communeroute")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index("ix_report_commune")
        batch_op.drop_column("commune")
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.drop_index("ix_zone_insee")
        batch_op.drop_column("insee")
