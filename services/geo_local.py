"""GEOCODER=local: the communes' own addresses (the BAN's CSV), searched without network.

`services/ban_import.py` streams a BAN CSV extract into the street and address tables;
`services/address_text.py` says how typed words match a street. `LocalGeocoder` answers
like addok: the database's trigram index finds the street-name words like the typed ones,
then the streets that have them, and they are scored in Python, so that SQLite and
PostgreSQL give the same places and the same scores, on addok's scale (a right address,
abbreviated or misspelt, 0.5 and more; nonsense, nothing). It reads the database and
never writes: it can run inside a conversation step. Addresses never leave the server.
"""

from __future__ import annotations

import math
from functools import lru_cache

from sqlmodel import Session

from models.address import (
    Address,
    Street,
    addresses_near,
    communes,
    numbers_on,
    streets_with_words,
    trigrams,
    words_like,
)
from models.db import Database
from services.address_text import (
    REPS,
    STREET_TYPES,
    Query,
    final_score,
    match_words,
    metres_between,
    nearness,
    parse_query,
    text_score,
    word_likeness,
    words_of,
)
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
            metres = metres_between(lat, lon, address.lat, address.lon)
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
            score = final_score(text, nearness(street.citycode, lat, lon, town))
            places.append(_place_of(street, address, score))
        return places

    def _communes(self, session: Session, query: Query, seen: set[str], town: Town) -> list:
        """The commune itself when only its name was typed ("Vitré"), as addok answers."""
        codes = seen | town.codes
        places = []
        for commune in communes(session, codes):
            words = list(query.words) + ([query.postcode] if query.postcode else [])
            name = words_of(commune.city) + ([commune.postcode] if query.postcode else [])
            got_query, got_name = match_words(words, name, [])
            if got_query < 0.9:
                continue
            score = final_score(got_query * math.sqrt(got_name),
                           nearness(commune.citycode, commune.lat, commune.lon, town))  # fmt: skip
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
