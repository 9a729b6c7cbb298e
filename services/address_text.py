"""How a typed address matches a street of the BAN: its words (abbreviations, misspellings,
sounds), the query taken apart (number, rep, postcode), and the text score on addok's scale.

Pure functions over strings: the local geocoder (services/geo_local.py) and the reader of
one sentence (services/nlu/place.py) share them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from services.geo import Town
from services.texts import fold

# Words of the street names looked at, per word typed; then the streets that have them:
# in the town, and anywhere (to say "that is in another commune").
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


def match_words(query: list[str], street: list[str], city: list[str]) -> tuple[float, float]:
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
    got_query, got_street = match_words(list(query.words), street, city)
    score = got_query * math.sqrt(got_street)
    # Another commune's postcode: that commune's street of the same name comes first.
    return score * WRONG_POSTCODE if query.postcode and query.postcode != postcode else score


def nearness(citycode: str, lat: float, lon: float, town: Town) -> float:
    """1 inside the town, less further away: what makes the town's street come first."""
    if citycode in town.codes:
        return 1.0
    if not town.center:
        return 0.0 if town.codes else 1.0
    km = metres_between(town.center[0], town.center[1], lat, lon) / 1000
    return max(0.0, 1 - km / 100)


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def final_score(text: float, near: float) -> float:
    # addok weighs the text 0.9 and the distance to the town 0.1, on the same 0..1 scale.
    return round(0.9 * text + 0.1 * near, 4)
