"""The communes' addresses imported from the BAN's CSV, searched by GEOCODER=local.

One row per street (a named way or lieu-dit of a commune, with its postcode) and one
per house number on it. Each street keeps its name normalised (`search`: folded,
abbreviations spelt out, see services/address_text.py), and the words of those names are a
vocabulary (`name_word`, a few thousand words for a département) indexed for fuzzy
lookup: on PostgreSQL a GiST `pg_trgm` index, on SQLite an FTS5 table with the trigram
tokenizer (`name_word_search`, kept in step by triggers). A search first finds the
words like the typed ones there, then the streets that have them (`street_word`,
plain tables, the same on both databases); the geocoder scores those in Python.

A later migration that rebuilds `name_word` on SQLite (Alembic's batch mode copies
the table) must recreate the two `name_word_search_*` triggers of migration 0007.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import (
    Index,
    PrimaryKeyConstraint,
    UniqueConstraint,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlmodel import Field, Session, SQLModel

# SQLite's full-text index is a virtual table (and its shadow tables) that SQLModel
# cannot declare; schema comparisons (autogenerate, tests) leave them out by this rule.
SEARCH_TABLE = "name_word_search"
_FTS5_SHADOWS = ("", "_config", "_content", "_data", "_docsize", "_idx")
SEARCH_TABLES = frozenset(SEARCH_TABLE + suffix for suffix in _FTS5_SHADOWS)


def declared_in_models(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's `include_name`: leaves out the SQLite search index's tables."""
    return not (type_ == "table" and name in SEARCH_TABLES)


class Street(SQLModel, table=True):
    """A way or lieu-dit of a commune, as the BAN names it."""

    __table_args__ = (Index("ix_street_citycode_name", "citycode", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    citycode: str = Field(max_length=5)  # INSEE code of the commune
    city: str = Field(max_length=128)
    postcode: str = Field(max_length=5)
    name: str = Field(max_length=255)
    search: str = Field(max_length=255)
    # Where the street is shown when no number is given: its address nearest its middle.
    lat: float
    lon: float


class Address(SQLModel, table=True):
    """A house number on a street (`rep`: bis, ter, a...); no number: the lieu-dit itself."""

    __table_args__ = (
        Index("ix_address_street_number", "street_id", "number"),
        Index("ix_address_lat_lon", "lat", "lon"),
    )

    id: int | None = Field(default=None, primary_key=True)
    street_id: int = Field(foreign_key="street.id", ondelete="CASCADE")
    number: int | None = None
    rep: str = Field(default="", max_length=16)
    lat: float
    lon: float


class NameWord(SQLModel, table=True):
    """A word of the street names (`poterie`), once: what typed words are matched with."""

    __tablename__ = "name_word"
    __table_args__ = (
        UniqueConstraint("word", name="uq_name_word_word"),
        # PostgreSQL: a trigram index, GiST for its nearest-first order (a GIN one needs
        # a similarity threshold, and with a threshold low enough for misspelt words
        # the planner scans the table). SQLite ignores the options (a plain index
        # there, its fuzzy lookup is the name_word_search FTS5 table).
        Index("ix_name_word_trgm", "word", postgresql_using="gist",
              postgresql_ops={"word": "gist_trgm_ops"}),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    word: str = Field(max_length=64)


class StreetWord(SQLModel, table=True):
    """That a street's name has that word (and in which commune the street is)."""

    __tablename__ = "street_word"
    __table_args__ = (
        PrimaryKeyConstraint("word_id", "citycode", "street_id"),
        Index("ix_street_word_street", "street_id"),
    )

    word_id: int = Field(foreign_key="name_word.id", ondelete="CASCADE")
    citycode: str = Field(max_length=5)
    street_id: int = Field(foreign_key="street.id", ondelete="CASCADE")


@dataclass(frozen=True)
class Commune:
    citycode: str
    city: str
    postcode: str
    lat: float
    lon: float


# --- import ----------------------------------------------------------------------------


def forget_commune(session: Session, citycode: str) -> None:
    """Deletes a commune's streets and addresses (before importing it again)."""
    streets = select(Street.id).where(Street.citycode == citycode).scalar_subquery()
    session.execute(delete(StreetWord).where(StreetWord.street_id.in_(streets)))
    session.execute(delete(Address).where(Address.street_id.in_(streets)))
    session.execute(delete(Street).where(Street.citycode == citycode))


def known_words(session: Session) -> dict[str, int]:
    """The vocabulary: word -> id."""
    return {word: id_ for id_, word in session.execute(select(NameWord.id, NameWord.word))}


def add_words(session: Session, words: list[str]) -> list[int]:
    """Inserts words of street names; returns their ids, in order."""
    return _insert_returning_ids(session, NameWord, [{"word": w} for w in words])


def _insert_returning_ids(session: Session, table, rows: list[dict]) -> list[int]:
    if not rows:
        return []
    stmt = insert(table).returning(table.id, sort_by_parameter_order=True)
    return list(session.scalars(stmt, rows))


def add_street_words(session: Session, rows: list[dict]) -> None:
    """Links streets to their words in one round trip (word_id, citycode, street_id)."""
    if rows:
        session.execute(insert(StreetWord), rows)


def forget_unused_words(session: Session) -> None:
    """Drops the words no street has any more (after communes were imported again)."""
    used = exists().where(StreetWord.word_id == NameWord.id)
    session.execute(delete(NameWord).where(~used))


def add_streets(session: Session, rows: list[dict]) -> list[int]:
    """Inserts streets in few round trips; returns their ids, in order."""
    return _insert_returning_ids(session, Street, rows)


def add_addresses(session: Session, rows: list[dict]) -> None:
    """Inserts house numbers in one round trip (street_id, number, rep, lat, lon)."""
    if rows:
        session.execute(insert(Address), rows)


def streets_of_commune(session: Session, citycode: str) -> dict[tuple[str, str], int]:
    """(name, postcode) -> id of a commune's streets already stored."""
    stmt = select(Street.name, Street.postcode, Street.id).where(Street.citycode == citycode)
    return {(name, postcode): id_ for name, postcode, id_ in session.execute(stmt)}


def place_streets(session: Session, citycode: str) -> None:
    """Puts each street of a commune at its address nearest the middle of its addresses."""
    middles = {
        street_id: (lat, lon)
        for street_id, lat, lon in session.execute(
            select(Address.street_id, func.avg(Address.lat), func.avg(Address.lon))
            .join(Street, Street.id == Address.street_id)
            .where(Street.citycode == citycode)
            .group_by(Address.street_id)
        )
    }
    best: dict[int, tuple[float, float, float]] = {}
    rows = session.execute(
        select(Address.street_id, Address.lat, Address.lon)
        .join(Street, Street.id == Address.street_id)
        .where(Street.citycode == citycode)
    )
    for street_id, lat, lon in rows:
        mid_lat, mid_lon = middles[street_id]
        gap = (lat - mid_lat) ** 2 + ((lon - mid_lon) * math.cos(math.radians(lat))) ** 2
        if street_id not in best or gap < best[street_id][0]:
            best[street_id] = (gap, lat, lon)
    if best:
        stmt = (
            update(Street.__table__)
            .where(Street.__table__.c.id == bindparam("sid"))
            .values(lat=bindparam("new_lat"), lon=bindparam("new_lon"))
        )
        session.execute(stmt, [{"sid": k, "new_lat": v[1], "new_lon": v[2]}
                               for k, v in best.items()])  # fmt: skip


def commune_counts(session: Session, citycode: str) -> tuple[int, int]:
    """(streets, addresses) stored for a commune."""
    streets = session.scalar(select(func.count(Street.id)).where(Street.citycode == citycode))
    addresses = session.scalar(
        select(func.count(Address.id))
        .join(Street, Street.id == Address.street_id)
        .where(Street.citycode == citycode)
    )
    return streets or 0, addresses or 0


def has_addresses(session: Session) -> bool:
    return session.scalar(select(Address.id).limit(1)) is not None


# --- search ----------------------------------------------------------------------------


def words_like(session: Session, words: list[str], limit: int) -> list[tuple[int, str]]:
    """(id, word) of the vocabulary's words that look like one of `words` (normalised).

    Up to `limit` per word, most alike first; only a shortlist, the caller decides.
    """
    words = sorted({w for w in words if w})
    if not words:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # pg_trgm's distance (1 - similarity), nearest first, straight from the index
        # (a second sort key would make PostgreSQL read the whole table instead).
        each = "(SELECT id, word FROM name_word ORDER BY word <-> :w{i} LIMIT :limit)"
        params: dict = {f"w{i}": w for i, w in enumerate(words)}
    else:
        # Words are stored padded with spaces, so their edges are trigrams too (" pa",
        # "ix "): a short word misspelt still shares some.
        each = (
            "SELECT * FROM (SELECT rowid AS id, trim(word) AS word FROM name_word_search"
            " WHERE name_word_search MATCH :w{i} ORDER BY rank, rowid LIMIT :limit)"
        )
        params = {f"w{i}": " OR ".join(f'"{g}"' for g in sorted(trigrams(w)))
                  for i, w in enumerate(words)}  # fmt: skip
    sql = " UNION ".join(each.format(i=i) for i in range(len(words)))
    rows = session.execute(text(sql), {**params, "limit": limit})
    return sorted((id_, word) for id_, word in rows)


def trigrams(word: str) -> set[str]:
    """The word's trigrams as the SQLite index has them, edges too: `" po"`, `"ie "`."""
    padded = f" {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def streets_with_words(
    session: Session, word_ids: Iterable[int], citycodes: Iterable[str], near: int, far: int
) -> list[Street]:
    """The streets having most of these words: `near` of them in the communes `citycodes`
    (the town's, or an intercommunalité's), and `far` anywhere (to say "that is in another
    commune")."""
    ids = sorted(set(word_ids))
    if not ids:
        return []
    best = "GROUP BY street_id ORDER BY count(*) DESC, street_id LIMIT"
    sql = text(
        "SELECT * FROM street WHERE id IN ("
        "SELECT street_id FROM (SELECT street_id FROM street_word WHERE word_id IN :ids"
        f" AND citycode IN :codes {best} :near) AS in_town"
        " UNION SELECT street_id FROM (SELECT street_id FROM street_word"
        f" WHERE word_id IN :ids {best} :far) AS anywhere)"
    ).bindparams(bindparam("ids", expanding=True), bindparam("codes", expanding=True))
    codes = sorted(set(citycodes))
    params = {"ids": ids, "codes": codes or [""], "near": near if codes else 0, "far": far}
    stmt = select(Street).from_statement(sql)
    return sorted(session.scalars(stmt, params), key=lambda street: street.id)


def numbers_on(session: Session, street_ids: Iterable[int], number: int) -> list[Address]:
    """The addresses with this house number (any rep) on these streets."""
    ids = list(street_ids)
    if not ids:
        return []
    stmt = select(Address).where(Address.street_id.in_(ids), Address.number == number)
    return list(session.scalars(stmt.order_by(Address.street_id, Address.rep)))


def communes(session: Session, citycodes: Iterable[str]) -> list[Commune]:
    """These communes with their middle (the average of their streets)."""
    codes = sorted(set(citycodes))
    if not codes:
        return []
    stmt = (
        select(Street.citycode, Street.city, func.min(Street.postcode),
               func.avg(Street.lat), func.avg(Street.lon))
        .where(Street.citycode.in_(codes))
        .group_by(Street.citycode, Street.city)
        .order_by(Street.citycode)
    )  # fmt: skip
    return [Commune(*row) for row in session.execute(stmt)]


def addresses_near(
    session: Session, lat: float, lon: float, metres: float
) -> list[tuple[Address, Street]]:
    """The addresses in a square of `metres` around a point, with their street."""
    dlat = metres / 111_320
    dlon = metres / (111_320 * max(math.cos(math.radians(lat)), 0.01))
    stmt = (
        select(Address, Street)
        .join(Street, Street.id == Address.street_id)
        .where(Address.lat.between(lat - dlat, lat + dlat))
        .where(Address.lon.between(lon - dlon, lon + dlon))
    )
    return [(a, s) for a, s in session.execute(stmt)]
