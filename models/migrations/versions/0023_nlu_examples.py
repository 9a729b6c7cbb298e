"""The examples of one sentence a town imported (`nlu_example`)

`webleads nlu import` and the reader's admin page store here the examples another town
exported (text, category code, language, where that town had it); training reads them
beside the shipped examples and the town's own reports. The public note of a report
(event kind `public_note`) needs no schema change: an event's kind is a string.

Revision ID: 0023_nlu_examples
Revises: 0022_web_channel
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0023_nlu_examples"
down_revision: str | None = "0022_web_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nlu_example",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category_code", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("language", sqlmodel.AutoString(length=2), nullable=False),
        sa.Column("source", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("nlu_example")
