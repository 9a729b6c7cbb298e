"""Open311 keys carry a scope: their communes and what they read

`apikey.view` is `public` (the report's public view, as a read without a key) or `full`
(the town's record); `apikey.communes` lists the INSEE codes a key reads and files in
(empty: every commune). The keys made before keep reading what they read: `full`, every
commune. The defaults are then dropped from the table, so a key made from now on says
what it reads (the model's default is `public`).

Revision ID: 0015_api_key_scope
Revises: 0014_daily_figures
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015_api_key_scope"
down_revision: str | None = "0014_daily_figures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("view", sqlmodel.AutoString(length=8), server_default="full", nullable=False)
        )
        batch_op.add_column(
            sa.Column("communes", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.alter_column("view", server_default=None)
        batch_op.alter_column("communes", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.drop_column("communes")
        batch_op.drop_column("view")
