"""The public site: privacy by default, moderation

`report.hidden` (a hidden report is not on the public site, 404), `report.text_public`
(None: the category's default; True: published; False: withheld) and `report.public_text`
(an agent's redacted text in place of the citizen's words); `category.description_public`
(the default per category, off); `media.approved_at` (a photo is public once approved).
Existing reports keep what they showed: no description, no photo.

Revision ID: 0011_public_site
Revises: 0010_whatsapp
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011_public_site"
down_revision: str | None = "0010_whatsapp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hidden", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("text_public", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("public_text", sa.Text(), nullable=True))
        batch_op.create_index("ix_report_category_id", ["category_id", "id"], unique=False)
        batch_op.create_index(
            "ix_report_last_public_update_at", ["last_public_update_at"], unique=False
        )
    with op.batch_alter_table("category", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("description_public", sa.Boolean(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("approved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_column("approved_at")
    with op.batch_alter_table("category", schema=None) as batch_op:
        batch_op.drop_column("description_public")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index("ix_report_last_public_update_at")
        batch_op.drop_index("ix_report_category_id")
        batch_op.drop_column("public_text")
        batch_op.drop_column("text_public")
        batch_op.drop_column("hidden")
