"""The communes' addresses for GEOCODER=local (imported with `webleads geo import-ban`)

Streets and house numbers from the BAN's CSV, and the words of the street names, indexed
for fuzzy search: PostgreSQL with a pg_trgm GiST index (pg_trgm is a trusted extension,
shipped with Debian's postgresql package: the database owner may create it), SQLite
with an FTS5 table using the trigram tokenizer (SQLite 3.34+), filled by triggers.

Revision ID: 0007
Revises: 0006
"""

import sqlite3
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The FTS5 row of a word is the word's id; its text is padded so word edges count.
SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE name_word_search USING fts5(word, tokenize='trigram')",
    """CREATE TRIGGER name_word_search_insert AFTER INSERT ON name_word BEGIN
        INSERT INTO name_word_search (rowid, word) VALUES (new.id, ' ' || new.word || ' ');
    END""",
    """CREATE TRIGGER name_word_search_delete AFTER DELETE ON name_word BEGIN
        DELETE FROM name_word_search WHERE rowid = old.id;
    END""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite" and sqlite3.sqlite_version_info < (3, 34, 0):
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} is too old for the address search (FTS5's "
            "trigram tokenizer needs 3.34 or later): use a newer Python/SQLite, or PostgreSQL"
        )
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "street",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citycode", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("postcode", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("search", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_street_citycode_name", "street", ["citycode", "name"])
    op.create_table(
        "address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("rep", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["street_id"], ["street.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_address_street_number", "address", ["street_id", "number"])
    op.create_index("ix_address_lat_lon", "address", ["lat", "lon"])
    op.create_table(
        "name_word",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("word", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("word", name="uq_name_word_word"),
    )
    op.create_index("ix_name_word_trgm", "name_word", ["word"], postgresql_using="gist",
                    postgresql_ops={"word": "gist_trgm_ops"})  # fmt: skip
    op.create_table(
        "street_word",
        sa.Column("word_id", sa.Integer(), nullable=False),
        sa.Column("citycode", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["word_id"], ["name_word.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["street_id"], ["street.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("word_id", "citycode", "street_id"),
    )
    op.create_index("ix_street_word_street", "street_word", ["street_id"])
    if dialect == "sqlite":
        for statement in SQLITE_SEARCH:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS name_word_search")  # its triggers go with name_word
    op.drop_index("ix_street_word_street", table_name="street_word")
    op.drop_table("street_word")
    op.drop_index("ix_name_word_trgm", table_name="name_word")
    op.drop_table("name_word")
    op.drop_index("ix_address_lat_lon", table_name="address")
    op.drop_index("ix_address_street_number", table_name="address")
    op.drop_table("address")
    op.drop_index("ix_street_citycode_name", table_name="street")
    op.drop_table("street")
    # pg_trgm stays: it may have been there before, and other schemas may use it.
