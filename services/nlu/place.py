"""The place a message names: a street of the town (abbreviated, misspelt, unaccented),
with its house number when given, or a landmark (`devant la gare`, `près de l'église`).

Matched with rapidfuzz against the streets the product already imports for
GEOCODER=local (the BAN's, models/address.py) and a short list of landmarks per town
(`data/landmarks.tsv`: a landmark is a street, or its own coordinates). This finds
*which* place; the geocoder (the worker, as for a typed address) then places it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.address_text import STOPWORDS, STREET_TYPES, words_of

LANDMARKS_FILE = Path(__file__).parent / "data" / "landmarks.tsv"
# A street name's words against the message's, 0-100: from here they are the same words.
SAME_NAME = 82
# Without a street type before it ("rue", "bd"), a name alone must be long and near exact.
NAME_ALONE = 92
NAME_ALONE_LENGTH = 7
# A landmark's alias this long or longer may be misspelt; a shorter one ("gare") must be
# the run itself.
FUZZY_ALIAS_LENGTH = 6
_NUMBER = re.compile(r"^(\d{1,4})(bis|ter|[a-d])?$")


@dataclass(frozen=True)
class FoundPlace:
    """The place named: `label` as the citizen reads it, what to geocode, or where it is."""

    label: str
    street: str | None = None
    number: int | None = None
    lat: float | None = None
    lon: float | None = None
    score: float = 0.0

    @property
    def query(self) -> str:
        """What the geocoder is asked: `12 Rue de la Poterie`."""
        street = self.street or self.label
        return f"{self.number} {street}" if self.number else street

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("label", "street", "number", "lat", "lon", "score")}


@dataclass(frozen=True)
class Landmark:
    citycode: str
    name: str
    aliases: tuple[str, ...]
    street: str | None
    lat: float | None
    lon: float | None


def read_landmarks(path: Path = LANDMARKS_FILE) -> list[Landmark]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            Landmark(
                row["citycode"],
                row["name"],
                tuple(a for a in row["aliases"].split("|") if a),
                row["street"] or None,
                float(row["lat"]) if row["lat"] else None,
                float(row["lon"]) if row["lon"] else None,
            )
            for row in csv.DictReader(handle, delimiter="\t")
        ]


@dataclass(frozen=True)
class _Name:
    core: str  # the name's distinctive words: `poterie`, `general gaulle`
    size: int  # how many words
    kind: str | None  # the street's type: rue, boulevard...
    street: str | None
    landmark: Landmark | None = None


def _street_name(name: str) -> _Name | None:
    words = words_of(name)
    kind = words[0] if words and words[0] in STREET_TYPES else None
    core = [w for w in words if w not in STOPWORDS and w not in STREET_TYPES]
    if not core:
        return None
    return _Name(" ".join(core), len(core), kind, name)


def _alias(alias: str, landmark: Landmark) -> _Name:
    core = [w for w in words_of(alias) if w not in STOPWORDS]
    return _Name(" ".join(core), len(core), None, landmark.street, landmark)


class _Windows:
    """The message's runs of `size` consecutive content words, joined, each size built
    once per message (not once per street and landmark of the town)."""

    def __init__(self, content: list[tuple[int, str]]) -> None:
        self.content = content
        self.built: dict[int, list[str]] = {}

    def of(self, size: int) -> list[str]:
        runs = self.built.get(size)
        if runs is None:
            content = self.content
            runs = [
                " ".join(w for _, w in content[at : at + size])
                for at in range(len(content) - size + 1)
            ]
            self.built[size] = runs
        return runs


class Gazetteer:
    """The town's streets and landmarks, ready to be found in a message.

    The names are compared with the message's runs of words by rapidfuzz's `cdist`, all
    names of one length against all runs of that length in one call: a town's hundreds of
    streets cost one call per name length, not one Python loop turn per street and run."""

    def __init__(self, streets: Iterable[str], landmarks: Sequence[Landmark] = ()) -> None:
        self.streets = [n for n in map(_street_name, sorted(set(streets))) if n is not None]
        self.aliases = [_alias(a, lm) for lm in landmarks for a in lm.aliases]
        self._streets = _by_size(enumerate(self.streets))
        self._fuzzy_aliases = _by_size((o, n) for o, n in enumerate(self.aliases)
                                       if len(n.core) >= FUZZY_ALIAS_LENGTH)  # fmt: skip

    def find(self, text: str) -> FoundPlace | None:
        """The place the message most likely names, or None."""
        words = words_of(text)
        content = [(i, w) for i, w in enumerate(words) if w not in STOPWORDS]
        windows = _Windows(content)
        best: tuple[float, FoundPlace] | None = None
        for _, at, ratio, name in sorted(_matches(self._streets, windows, SAME_NAME)):
            found = _street_at(name, at, ratio, words, content)
            if found is not None and (best is None or found.score > best[0]):
                best = (found.score, found)
        fuzzy = {}
        for order, _, ratio, _ in _matches(self._fuzzy_aliases, windows, NAME_ALONE):
            fuzzy[order] = max(fuzzy.get(order, 0.0), ratio)
        for order, name in enumerate(self.aliases):
            if len(name.core) >= FUZZY_ALIAS_LENGTH:
                ratio = fuzzy.get(order, 0.0)
            else:
                ratio = 100.0 if name.core in windows.of(name.size) else 0.0
            found = _landmark(name, ratio)
            if found is not None and (best is None or found.score > best[0]):
                best = (found.score, found)
        return best[1] if best else None


def _by_size(names: Iterable[tuple[int, _Name]]) -> dict:
    """(place, name) pairs by the name's number of words: {size: (places, names, cores)}."""
    sizes: dict[int, tuple[list[int], list[_Name], list[str]]] = {}
    for order, name in names:
        orders, same, cores = sizes.setdefault(name.size, ([], [], []))
        orders.append(order)
        same.append(name)
        cores.append(name.core)
    return sizes


def _matches(sizes, windows: _Windows, cutoff: float):
    """(the name's place, the run's, the ratio, the name) of every name and run of the
    message alike at `cutoff` or more."""
    import numpy as np
    from rapidfuzz import fuzz, process  # imported by the first sentence read

    for size, (orders, names, cores) in sizes.items():
        runs = windows.of(size)
        if not runs:
            continue
        ratios = process.cdist(
            cores, runs, scorer=fuzz.ratio, score_cutoff=cutoff, dtype=np.float64
        )
        for row, at in zip(*np.nonzero(ratios), strict=True):
            yield orders[row], int(at), float(ratios[row, at]), names[row]


def _street_at(name: _Name, at: int, ratio: float, words: list[str],
               content: list[tuple[int, str]]) -> FoundPlace | None:  # fmt: skip
    """The street `name` found at the run of content words starting at `at`, scored."""
    before = content[at - 1] if at > 0 else None
    if before is not None and before[1] in STREET_TYPES:
        score = ratio + (10 if before[1] == name.kind else 5)
        return FoundPlace(
            name.street or "", name.street, _number_before(words, before[0]), score=score
        )
    if ratio >= NAME_ALONE and len(name.core) >= NAME_ALONE_LENGTH:
        return FoundPlace(name.street or "", name.street, score=ratio - 10)
    return None


def _landmark(name: _Name, best: float) -> FoundPlace | None:
    """The landmark `name` names, when a run of the message is it (`best`, 0-100)."""
    landmark = name.landmark
    assert landmark is not None
    if best < NAME_ALONE:
        return None
    label = landmark.street or landmark.name
    return FoundPlace(label, landmark.street, None, landmark.lat, landmark.lon,
                      score=best - 12 + 3 * name.size)  # fmt: skip


def _number_before(words: list[str], type_at: int) -> int | None:
    """The house number just before the street's type: `devant le 12 rue ...` -> 12."""
    if type_at == 0:
        return None
    match = _NUMBER.match(words[type_at - 1])
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None
