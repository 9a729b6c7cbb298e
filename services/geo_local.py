"""GEOCODER=local: the communes' own addresses (the BAN's CSV), searched without network.

`import_ban` streams a BAN CSV extract (a commune's or a département's, `.csv` or
`.csv.gz`) into the street and address tables. `LocalGeocoder` answers like addok: the
database's trigram index finds the street-name words like the typed ones, then the
streets that have them, and they are scored here, in Python, so that SQLite and
PostgreSQL give the same places and the same scores, on addok's scale (a right address,
abbreviated or misspelt, 0.5 and more; nonsense, nothing). It reads the database and
never writes: it can run inside a conversation step. Addresses never leave the server.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlmodel import Session

from models.address import (
    Address,
    Street,
    add_addresses,
    add_street_words,
    add_streets,
    add_words,
    addresses_near,
    commune_counts,
    communes,
    forget_commune,
    forget_unused_words,
    known_words,
    numbers_on,
    place_streets,
    streets_of_commune,
    streets_with_words,
    trigrams,
    words_like,
)
from models.db import Database
from services.geo import Found, Place, Town, _keep_in_town
from services.texts import fold

REVERSE_METRES = 150.0
# Words of the street names looked at, per word typed; then the streets that have them:
# in the town, and anywhere (to say "that is in another commune").
WORD_CANDIDATES = 100
IN_TOWN_CANDIDATES = 60
ELSEWHERE_CANDIDATES = 30
# A number asked for but not on the street: the street is offered, lower (as addok does).
MISSING_NUMBER = 0.15
# Below this text match a street is not even a candidate.
MIN_TEXT = 0.2
# A postcode typed that is not the street's.
WRONG_POSTCODE = 0.75
# Two words are the same word misspelt from this similarity up.
SAME_WORD = 0.7

ABBREVIATIONS = {
    "all": "allee", "av": "avenue", "ave": "avenue", "bd": "boulevard", "bld": "boulevard",
    "blvd": "boulevard", "bvd": "boulevard", "boul": "boulevard", "ch": "chemin",
    "chem": "chemin", "che": "chemin", "crs": "cours", "fbg": "faubourg", "fg": "faubourg",
    "imp": "impasse", "lot": "lotissement", "pass": "passage", "pl": "place",
    "prom": "promenade", "qu": "quai", "r": "rue", "res": "residence", "rte": "route",
    "rpt": "rond point", "sq": "square", "sen": "sentier", "tra": "traverse",
    "st": "saint", "ste": "sainte", "dr": "docteur", "gal": "general", "gen": "general",
    "mal": "marechal", "pdt": "president", "pres": "president", "prof": "professeur",
    "cdt": "commandant", "cne": "capitaine", "lt": "lieutenant", "col": "colonel",
    "mgr": "monseigneur", "gd": "grand", "gde": "grande", "pt": "petit", "pte": "petite",
}  # fmt: skip
STREET_TYPES = {
    "allee", "avenue", "boulevard", "chemin", "cours", "faubourg", "impasse", "lotissement",
    "passage", "place", "promenade", "quai", "rue", "residence", "route", "square",
    "sentier", "traverse", "venelle", "ruelle", "hameau", "lieu", "dit", "rond", "point",
    "esplanade", "parvis", "voie", "cite", "clos", "mail", "chaussee", "montee",
}  # fmt: skip
STOPWORDS = {"de", "du", "des", "la", "le", "les", "l", "d", "a", "au", "aux", "en", "et",
             "sur", "sous"}  # fmt: skip
REPS = {"bis": "bis", "b": "bis", "ter": "ter", "t": "ter", "quater": "quater",
        "q": "quater", "quinquies": "quinquies", "a": "a", "c": "c", "d": "d"}  # fmt: skip
_NUMBER = re.compile(r"^(\d{1,4})([a-z]*)$")
_POSTCODE = re.compile(r"^\d{5}$")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


# --- words -----------------------------------------------------------------------------


def words_of(text: str) -> list[str]:
    """The folded words of a name or a query, abbreviations spelt out."""
    out: list[str] = []
    for word in _NOT_WORD.sub(" ", fold(text).replace("œ", "oe").replace("æ", "ae")).split():
        out.extend(ABBREVIATIONS.get(word, word).split())
    return out


def search_text(name: str) -> str:
    """What a street name is indexed as: `Rue de la Poterie` -> `rue de la poterie`."""
    return " ".join(words_of(name))[:255]


def looked_up(word: str) -> bool:
    """Whether a word is worth an index entry: not `de`, `la`, nor two letters."""
    return len(word) >= 3 and word not in STOPWORDS


@lru_cache(maxsize=8192)
def _sound(word: str) -> str:
    """A rough French sound key: `potterie`, `poterie`, `pauterie` sound alike."""
    w = word
    for spelt, said in (("eaux", "o"), ("eau", "o"), ("au", "o"), ("ph", "f"), ("qu", "k"),
                        ("ck", "k"), ("ai", "e"), ("ei", "e"), ("y", "i"), ("w", "v"),
                        ("z", "s")):  # fmt: skip
        w = w.replace(spelt, said)
    w = re.sub(r"c(?=[eiy])", "s", w).replace("c", "k")
    w = re.sub(r"g(?=[ei])", "j", w).replace("h", "")
    w = re.sub(r"(.)\1+", r"\1", w)
    return re.sub(r"(?<=..)[estxd]$", "", w)


def _edits(a: str, b: str, most: int) -> int:
    """Damerau-Levenshtein (adjacent swaps) distance, or most + 1 once it exceeds `most`."""
    if abs(len(a) - len(b)) > most:
        return most + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > most:
            return most + 1
        previous2, previous = previous, current
    return previous[-1]


@lru_cache(maxsize=65536)
def word_likeness(a: str, b: str) -> float:
    """1 for the same word, down to SAME_WORD for a misspelt one, else 0."""
    if a == b:
        return 1.0
    if a.isdigit() or b.isdigit():
        return 0.0
    longest = max(len(a), len(b))
    most = int(longest * (1 - SAME_WORD))
    best = 1 - _edits(a, b, most) / longest
    sa, sb = _sound(a), _sound(b)
    if sa == sb:
        best = max(best, 0.92)
    elif sa and sb:
        longest = max(len(sa), len(sb))
        most = int(longest * (1 - SAME_WORD))
        best = max(best, 0.95 * (1 - _edits(sa, sb, most) / longest))
    return best if best >= SAME_WORD else 0.0


def _weight(word: str) -> float:
    return 1.0 if word in STOPWORDS else float(len(word))


# --- the query -------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A typed address taken apart: house number, rep, postcode, the other words."""

    words: tuple[str, ...]
    number: int | None = None
    rep: str = ""
    postcode: str = ""

    @property
    def lookup_words(self) -> list[str]:
        """The words worth asking the index about (not `de`, nor `rue` unless alone)."""
        useful = [w for w in self.words if looked_up(w)]
        named = [w for w in useful if w not in STREET_TYPES]
        return sorted(set(named or useful))


def parse_query(text: str) -> Query:
    """Takes a typed address apart: `12 bis r de la Poterie 35500` -> 12, bis, words."""
    words = words_of(text)
    number, rep, postcode, rest = None, "", "", []
    i = 0
    while i < len(words):
        word = words[i]
        match = _NUMBER.match(word)
        after = words[i + 1] if i + 1 < len(words) else ""
        # A house number leads the address or comes just before the street's type:
        # "rue du 8 mai 1945" has none, "devant le 12 rue Pasteur" has 12.
        if match and number is None and (i == 0 or after in STREET_TYPES or after in REPS):
            suffix = match.group(2)
            if suffix in REPS or not suffix:
                number, rep = int(match.group(1)), REPS.get(suffix, "")
                if not rep and after in REPS and i + 2 < len(words):
                    rep, i = REPS[after], i + 1
                i += 1
                continue
        if _POSTCODE.match(word) and not postcode:
            postcode = word
        else:
            rest.append(word)
        i += 1
    return Query(tuple(rest), number, rep, postcode)


# --- scoring ---------------------------------------------------------------------------


def _match(query: list[str], street: list[str], city: list[str]) -> tuple[float, float]:
    """(part of the query matched, part of the street's name matched), by weight.

    Each query word takes at most one word of the street or city, best pairs first; a
    city word counts for the query (`rue de Vitré`) but is not needed from it.
    """
    pairs = []
    for qi, q in enumerate(query):
        for ti, t in enumerate(street + city):
            likeness = word_likeness(q, t)
            if likeness:
                pairs.append((-likeness, ti >= len(street), qi, ti))
    pairs.sort()
    used_q: set[int] = set()
    used_t: set[int] = set()
    got_q = got_s = 0.0
    for neg, _is_city, qi, ti in pairs:
        if qi in used_q or ti in used_t:
            continue
        used_q.add(qi)
        used_t.add(ti)
        got_q += -neg * _weight(query[qi])
        if ti < len(street):
            got_s += -neg * _weight(street[ti])
    total_q = sum(_weight(w) for w in query) or 1.0
    total_s = sum(_weight(w) for w in street) or 1.0
    return got_q / total_q, got_s / total_s


def text_score(query: Query, street: list[str], city: list[str], postcode: str) -> float:
    """How well the typed words name this street (0..1): all of the query, most of it."""
    if not query.words:
        return 0.0
    got_query, got_street = _match(list(query.words), street, city)
    score = got_query * math.sqrt(got_street)
    # Another commune's postcode: that commune's street of the same name comes first.
    return score * WRONG_POSTCODE if query.postcode and query.postcode != postcode else score


def _nearness(citycode: str, lat: float, lon: float, town: Town) -> float:
    """1 inside the town, less further away: what makes the town's street come first."""
    if citycode in town.codes:
        return 1.0
    if not town.center:
        return 0.0 if town.codes else 1.0
    km = _metres(town.center[0], town.center[1], lat, lon) / 1000
    return max(0.0, 1 - km / 100)


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _final(text: float, near: float) -> float:
    # addok weighs the text 0.9 and the distance to the town 0.1, on the same 0..1 scale.
    return round(0.9 * text + 0.1 * near, 4)


# --- the geocoder ----------------------------------------------------------------------


class LocalGeocoder:
    """GEOCODER=local: searches the imported BAN addresses in the database; no network."""

    enabled = True
    needs_network = False

    def __init__(self, db: Database) -> None:
        self.db = db

    def search(self, text: str, town: Town) -> Found:
        """Finds a typed address in the town (or says which commune it is in)."""
        query = parse_query(text)
        with self.db.reading() as session:
            places = self._places(session, query, town)
        return _keep_in_town(places, town)

    def reverse(self, lat: float, lon: float) -> Place | None:
        """Names a pin: the nearest imported address within REVERSE_METRES."""
        with self.db.reading() as session:
            near = addresses_near(session, lat, lon, REVERSE_METRES)
        best = None
        for address, street in near:
            metres = _metres(lat, lon, address.lat, address.lon)
            key = (metres, address.number or 0, address.rep)
            if metres <= REVERSE_METRES and (best is None or key < best[0]):
                best = (key, address, street)
        if best is None:
            return None
        (metres, *_), address, street = best
        return _place_of(street, address, round(1 - metres / (2 * REVERSE_METRES), 4))

    def _places(self, session: Session, query: Query, town: Town) -> list[Place]:
        lookup = query.lookup_words
        # Each database shortlists the vocabulary its own way (SQLite: the words sharing
        # most trigrams; PostgreSQL: the most similar). Keeping the words alike by our
        # measure that share a trigram (what SQLite can find) makes the rest the same.
        alike = [id_ for id_, word in words_like(session, lookup, WORD_CANDIDATES)
                 if any(word_likeness(typed, word) and trigrams(typed) & trigrams(word)
                        for typed in lookup)]  # fmt: skip
        # "rue de" is no street in particular: no use looking for it in other communes.
        elsewhere = ELSEWHERE_CANDIDATES if set(lookup) - STREET_TYPES else 0
        streets = streets_with_words(session, alike, town.codes, IN_TOWN_CANDIDATES,
                                     elsewhere)  # fmt: skip
        scored = []
        for street in streets:
            text = text_score(query, street.search.split(), _city_words(street.city),
                              street.postcode)  # fmt: skip
            if text >= MIN_TEXT:
                scored.append((text, street))
        places = self._numbered(session, query, scored, town)
        if _names_a_commune(query, [s.city for s in streets] + [town.name]):
            places += self._communes(session, query, {s.citycode for s in streets}, town)
        return sorted(places, key=lambda p: (-p.score, p.citycode not in town.codes, p.label))

    def _numbered(self, session: Session, query: Query, scored: list, town: Town) -> list:
        """The streets found, at the house number asked for when they have it."""
        at: dict[int, Address] = {}
        if query.number is not None:
            for address in numbers_on(session, [s.id for _t, s in scored], query.number):
                if _same_rep(address.rep, query.rep) and address.street_id not in at:
                    at[address.street_id] = address
        places = []
        for text, street in scored:
            address = at.get(street.id)
            if query.number is not None and address is None:
                text -= MISSING_NUMBER
            lat, lon = (address.lat, address.lon) if address else (street.lat, street.lon)
            score = _final(text, _nearness(street.citycode, lat, lon, town))
            places.append(_place_of(street, address, score))
        return places

    def _communes(self, session: Session, query: Query, seen: set[str], town: Town) -> list:
        """The commune itself when only its name was typed ("Vitré"), as addok answers."""
        codes = seen | town.codes
        places = []
        for commune in communes(session, codes):
            words = list(query.words) + ([query.postcode] if query.postcode else [])
            name = words_of(commune.city) + ([commune.postcode] if query.postcode else [])
            got_query, got_name = _match(words, name, [])
            if got_query < 0.9:
                continue
            score = _final(got_query * math.sqrt(got_name),
                           _nearness(commune.citycode, commune.lat, commune.lon, town))  # fmt: skip
            places.append(Place(commune.city, commune.lat, commune.lon, score, commune.city,
                                commune.citycode, "municipality"))  # fmt: skip
        return places


@lru_cache(maxsize=4096)
def _city_words(city: str) -> list[str]:
    return words_of(city)


def _names_a_commune(query: Query, cities: list[str]) -> bool:
    """Whether every word typed is (like) a word of one of these communes' names."""
    names = {w for city in cities for w in _city_words(city)}
    return (
        query.number is None
        and bool(query.words)
        and all(any(word_likeness(word, name) for name in names) for word in query.words)
    )


def _same_rep(stored: str, asked: str) -> bool:
    return REPS.get(fold(stored), fold(stored)) == asked


def _place_of(street: Street, address: Address | None, score: float) -> Place:
    """A Place labelled as addok labels it: `12 bis Rue de la Poterie 35500 Vitré`."""
    tail = f"{street.name} {street.postcode} {street.city}".replace("  ", " ")
    if address is not None and address.number is not None:
        number = f"{address.number} {address.rep}".strip()
        return Place(f"{number} {tail}", address.lat, address.lon, score, street.city,
                     street.citycode, "housenumber")  # fmt: skip
    lat, lon = (address.lat, address.lon) if address is not None else (street.lat, street.lon)
    return Place(tail, lat, lon, score, street.city, street.citycode, "street")


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
