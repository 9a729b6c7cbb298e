"""The free-text reader: a category's keywords and the trained models' versions

`category.keywords`: what residents call the category (comma-separated words and keys of
the shipped examples), from which a new town's reader learns. `nlu_model`: one row per
trained version (pickled bytes, provenance and scores as JSON text), at most one active.

Revision ID: 0017_nlu
Revises: 0016_seen_by_agent
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0017_nlu"
down_revision: str | None = "0016_seen_by_agent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("category", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "keywords", sqlmodel.AutoString(length=500), server_default="", nullable=False
            )
        )
    op.create_table(
        "nlu_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("activated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("about", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version"),
    )


def downgrade() -> None:
    op.drop_table("nlu_model")
    with op.batch_alter_table("category", schema=None) as batch_op:
        batch_op.drop_column("keywords")
