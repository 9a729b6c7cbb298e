"""a citizen's reports: an index of the followers by citizen

A citizen's open reports (asked by every message from a citizen with no report under way,
handlers/sentence.py read_idle, and by "my reports") were found by reading every open
report of the town and checking its followers: follower's key begins with the report.
An index beginning with the citizen finds their few rows at once, and serves the cascade
that erases a citizen's follows.

Revision ID: 0028_follower_citizen
Revises: 0027_hot_path
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028_follower_citizen"
down_revision: str | None = "0027_hot_path"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_follower_citizen", "follower", ["citizen_id", "report_id"])


def downgrade() -> None:
    op.drop_index("ix_follower_citizen", table_name="follower")
