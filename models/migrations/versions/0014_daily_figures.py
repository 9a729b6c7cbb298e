"""The dashboard's daily figures (issue 16: the dashboard at a million reports)

`dailyfigure` holds, per day × service × category × commune, the reports filed (count,
per channel, reopened, still open, the hours to acknowledge and to resolve, packed
float32) and those done with that day; models/daily_figure.py keeps it current in the
transaction that changes a report. The upgrade fills it from the existing reports (about
20 s per million).

Revision ID: 0014_daily_figures
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014_daily_figures"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dailyfigure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("commune", sqlmodel.AutoString(length=5), nullable=True),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("still_open", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("ack_hours", sa.LargeBinary(), nullable=False),
        sa.Column("resolve_hours", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dailyfigure_day", "dailyfigure", ["day"])
    op.create_index("ix_dailyfigure_open", "dailyfigure",
                    ["still_open", "category_id", "day", "service_id", "commune"])  # fmt: skip
    op.create_index("ix_report_category_created", "report", ["category_id", "created_at"])
    from models.daily_figure import backfill

    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_report_category_created", table_name="report")
    op.drop_index("ix_dailyfigure_open", table_name="dailyfigure")
    op.drop_index("ix_dailyfigure_day", table_name="dailyfigure")
    op.drop_table("dailyfigure")
