"""Importing the BAN's CSV (`webleads geo import-ban`): a commune's or a département's
addresses (`.csv` or `.csv.gz`) streamed into the street and address tables that
GEOCODER=local searches (services/geo_local.py).
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from models.address import (
    add_addresses,
    add_street_words,
    add_streets,
    add_words,
    commune_counts,
    forget_commune,
    forget_unused_words,
    known_words,
    place_streets,
    streets_of_commune,
)
from models.db import Database
from services.address_text import looked_up, search_text

# --- importing the BAN's CSV -----------------------------------------------------------

# The columns used, of the BAN's `adresses-*.csv` (semicolon-separated, one address a line).
BAN_COLUMNS = ("numero", "rep", "nom_voie", "code_postal", "code_insee", "nom_commune",
               "lon", "lat")  # fmt: skip
# The BAN writes 99999 as the number of a lieu-dit's own position.
NO_NUMBER = 99999
BATCH = 2000


class BanFileError(ValueError):
    """The file is not a BAN CSV extract (or is damaged); the message says why."""


@dataclass
class CommuneImport:
    citycode: str
    city: str
    streets: int = 0
    addresses: int = 0
    skipped: int = 0


@dataclass
class BanImport:
    """What an import did: per commune, and the rows it could not use."""

    communes: dict[str, CommuneImport] = field(default_factory=dict)
    without_commune: int = 0  # rows with no INSEE code
    words: dict[str, int] | None = field(default=None, repr=False)  # the vocabulary

    @property
    def addresses(self) -> int:
        return sum(c.addresses for c in self.communes.values())

    @property
    def skipped(self) -> int:
        return self.without_commune + sum(c.skipped for c in self.communes.values())


def open_ban(path: str | Path) -> Iterator[dict]:
    """Yields the rows of a BAN CSV (`.csv` or `.csv.gz`); raises BanFileError."""
    path = Path(path)
    try:
        raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise BanFileError(f"cannot open {path}: {exc.strerror or exc}") from exc
    with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        try:
            missing = [c for c in BAN_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise BanFileError(
                    f"{path.name} is not a BAN address CSV (semicolon-separated, as published "
                    f"on adresse.data.gouv.fr): missing column(s) {', '.join(missing)}"
                )
            yield from reader
        except (UnicodeDecodeError, csv.Error, EOFError, OSError) as exc:
            # gzip.BadGzipFile is an OSError: a .gz that is not one, or is cut short.
            where = f"near line {reader.line_num}"
            raise BanFileError(f"{path.name} is damaged {where}: {exc}") from exc


def import_ban(
    db: Database, path: str | Path, on_commune: Callable[[CommuneImport], None] | None = None
) -> BanImport:
    """Imports a BAN CSV, one transaction per commune; its communes' old rows go first.

    `on_commune(CommuneImport)` is called after each commune is committed. A damaged
    file stops the import there (BanFileError): the communes before it stay imported.
    """
    result = BanImport()
    for citycode, rows in itertools.groupby(open_ban(path), key=lambda r: r["code_insee"]):
        with db.transaction() as session:
            commune = import_commune(session, citycode, rows, result)
        if commune is not None and on_commune is not None:
            on_commune(commune)
    with db.transaction() as session:
        forget_unused_words(session)
    return result


def import_ban_rows(
    session: Session, rows: Iterable[dict], result: BanImport | None = None
) -> BanImport:
    """Imports BAN rows in the caller's transaction (the demo seed)."""
    result = result or BanImport()
    for citycode, group in itertools.groupby(rows, key=lambda r: r["code_insee"]):
        import_commune(session, citycode, group, result)
    forget_unused_words(session)
    return result


def import_commune(
    session: Session, citycode: str, rows: Iterable[dict], result: BanImport
) -> CommuneImport | None:
    """Stores one commune's rows; replaces what it had unless already met in this file."""
    citycode = (citycode or "").strip()
    if not citycode:
        result.without_commune += sum(1 for _row in rows)
        return None
    commune = result.communes.get(citycode)
    if commune is None:  # first met in this file: what the commune had goes
        commune = result.communes[citycode] = CommuneImport(citycode, "")
        forget_commune(session, citycode)
        streets: dict[tuple[str, str], int] = {}
    else:  # met again further on (a file not sorted by commune): add to it
        streets = streets_of_commune(session, citycode)
    # One commune's rows are held (tens of thousands at most): its streets and words
    # are then inserted a few thousand at a time, not one round trip each.
    kept = []
    for row in rows:
        address = _address_row(row)
        if address is None:
            commune.skipped += 1
            continue
        commune.city = commune.city or address["city"]
        kept.append(address)
    _add_streets(session, citycode, kept, streets, result)
    for start in range(0, len(kept), BATCH):
        add_addresses(session, [_stored(a, streets) for a in kept[start : start + BATCH]])
    place_streets(session, citycode)
    commune.streets, commune.addresses = commune_counts(session, citycode)
    return commune


def _add_streets(session: Session, citycode: str, rows: list[dict], streets: dict,
                 result: BanImport) -> None:  # fmt: skip
    """Inserts the streets these rows name that are not in `streets` yet, and their words."""
    new: dict[tuple[str, str], dict] = {}
    for a in rows:
        key = (a["street"], a["postcode"])
        if key not in streets and key not in new:
            new[key] = {"citycode": citycode, "city": a["city"], "postcode": a["postcode"],
                        "name": a["street"], "search": search_text(a["street"]),
                        "lat": a["lat"], "lon": a["lon"]}  # fmt: skip
    if result.words is None:
        result.words = known_words(session)
    words = result.words
    fresh = sorted({w for s in new.values() for w in _indexed(s["search"])} - words.keys())
    words.update(zip(fresh, add_words(session, fresh), strict=True))
    links = []
    for key, street_id in zip(new, add_streets(session, list(new.values())), strict=True):
        streets[key] = street_id
        links += [{"word_id": words[w], "citycode": citycode, "street_id": street_id}
                  for w in _indexed(new[key]["search"])]  # fmt: skip
    for start in range(0, len(links), BATCH):
        add_street_words(session, links[start : start + BATCH])


def _stored(address: dict, streets: dict) -> dict:
    """An address row as the table has it: its street's id instead of its name."""
    street_id = streets[(address["street"], address["postcode"])]
    return {"street_id": street_id, "number": address["number"], "rep": address["rep"],
            "lat": address["lat"], "lon": address["lon"]}  # fmt: skip


def _indexed(search: str) -> list[str]:
    return sorted({w[:64] for w in search.split() if looked_up(w)})


def _address_row(row: dict) -> dict | None:
    """One CSV row as an address, or None when it cannot be placed or named."""
    try:
        lat, lon = float(row["lat"]), float(row["lon"])
    except (TypeError, ValueError):
        return None
    name = (row.get("nom_voie") or "").strip()
    if not name or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    raw_number = (row.get("numero") or "").strip()
    try:
        number = int(raw_number) if raw_number else None
    except ValueError:
        return None
    if number == NO_NUMBER:
        number = None
    return {
        "street": name[:255],
        "postcode": (row.get("code_postal") or "").strip()[:5],
        "city": (row.get("nom_commune") or "").strip()[:128],
        "number": number,
        "rep": (row.get("rep") or "").strip().lower()[:16],
        "lat": lat,
        "lon": lon,
    }
