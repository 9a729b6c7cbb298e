"""Reading one message: which of the town's categories, how sure, and which place.

`read(session, catalog, text)` is what a conversation step calls. The model in use is
the active stored version (models/nlu.py), else one trained in memory from the shipped
examples and the categories' keywords (a few tenths of a second, once per process and
keywords' change). The town's streets are read once per process and `TTL_SECONDS`; which
version is active, every `VERSION_TTL_SECONDS` (at once in the process that activates one).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum

from sqlmodel import Session

from models.address import streets_of_commune
from models.nlu import active_version, model_of_version
from services.nlu.classifier import EMERGENCY, NONE, CategoryWords, Model, training_set
from services.nlu.place import FoundPlace, Gazetteer, read_landmarks
from services.nlu.text import words

# The predicted category's probability from which one question confirms it (measured on
# bench/data/nlu_eval.tsv: of the messages at 0.5 or more, 97 % right).
SURE = 0.5
# An emergency is answered from this probability up, or when it sounds like one (the
# rule below catches the plain ones: gas, fire, hurt, cable down). Measured: from 0.35 to
# 0.5 the model alone also answered "before someone gets hurt" and "electric car
# chargers" with the numbers; at 0.6, no report was, and no emergency was missed.
EMERGENCY_FROM = 0.6
# Unsure, and "not a report" this likely: the welcome and the menu, not a guess.
NONE_FROM = 0.2
# How many categories an unsure guess offers.
OFFERED = 3
TTL_SECONDS = 300.0
# Which stored version is active is asked again after this long: not a query for every
# message read; another process (the console's, the CLI's) activating a version is seen
# within it, as a catalog change is (services/catalog.py).
VERSION_TTL_SECONDS = 30.0


class Verdict(StrEnum):
    SURE = "sure"  # one question confirms the category (and the place)
    UNSURE = "unsure"  # the likeliest categories are offered, then the menu
    NONE = "none"  # not a report: the welcome and the menu
    EMERGENCY = "emergency"  # the emergency numbers at once


@dataclass(frozen=True)
class Reading:
    verdict: Verdict
    # The town's categories, likeliest first, with the model's probability of each.
    ranked: list[tuple[str, float]] = field(default_factory=list)
    place: FoundPlace | None = None
    version: int | None = None  # the stored model's version, None: the shipped examples'

    @property
    def category(self) -> str | None:
        return self.ranked[0][0] if self.ranked else None

    @property
    def confidence(self) -> float:
        return self.ranked[0][1] if self.ranked else 0.0

    @property
    def offered(self) -> list[str]:
        return [code for code, _ in self.ranked[:OFFERED]]


# What an emergency sounds like, on the folded words: a rule on top of the model, so
# the obvious ones never depend on a probability.
_EMERGENCY = [
    re.compile(p)
    for p in (
        r"\b(odeur|sent|sens|sentir|fuite|smell|smells|leak)\b.*\b(gaz|gas)\b",
        r"\b(gaz|gas)\b.*\b(odeur|fuite|smell|leak|leaking)\b",
        r"\b(incendie|flammes?|fire|flames|smoke|brule|brulent)\b",
        r"\b(en|au|le|du) feu\b(?! (rouge|rouges|tricolore|tricolores|pieton|vert|orange))",
        r"(?<!soit )(?<!etre )\b(blesse|blessee|blesses|blessees|saigne|inconscient|injured|"
        r"bleeding|unconscious|collapsed)\b",
        r"\b(malaise|hurt)\b",
        r"\b(cables?|fils?|lignes?|poteau|wires?|power line)\b.*\b(electriques?|haute tension|"
        r"power|live)\b.*\b(tombe|tombes|terre|sol|arrache|pend|pendent|down|hanging|fallen)\b",
        r"\b(cables?|fils?|poteau) electriques? .*\b(tombe|terre|sol|arrache|pend)\b",
        r"\b(power line|live wires?|electric cable)\b",
        r"\bau secours\b",
    )
]


def sounds_like_emergency(text: str) -> bool:
    said = " ".join(words(text))
    return any(p.search(said) for p in _EMERGENCY)


def decide(ranked: list[tuple[str, float]], text: str, known: bool) -> Verdict:
    """The verdict for the model's ranking of all classes (categories, none, emergency)."""
    probability = dict(ranked)
    if sounds_like_emergency(text) or probability.get(EMERGENCY, 0.0) >= EMERGENCY_FROM:
        return Verdict.EMERGENCY
    if not known:
        return Verdict.NONE  # no word the model knows ("xqzvw", "hallo")
    top, p = next((c, p) for c, p in ranked if c != EMERGENCY)
    if top == NONE:
        return Verdict.NONE
    if p >= SURE:
        return Verdict.SURE
    if probability.get(NONE, 0.0) >= NONE_FROM:
        return Verdict.NONE
    return Verdict.UNSURE


class Reader:
    """A model and the town's places, ready to read messages."""

    def __init__(self, model: Model, gazetteer: Gazetteer, version: int | None) -> None:
        self.model = model
        self.gazetteer = gazetteer
        self.version = version

    def read(self, text: str, codes: set[str] | None = None) -> Reading:
        """Reads a message; `codes`: the categories offered now (others are not guessed)."""
        ranked, known = self.model.read(text)
        verdict = decide(ranked, text, known)
        categories = [
            (c, p)
            for c, p in ranked
            if c not in (NONE, EMERGENCY) and (codes is None or c in codes)
        ]
        if verdict == Verdict.SURE and (not categories or categories[0][0] != ranked_top(ranked)):
            verdict = Verdict.UNSURE  # its best guess is a category not offered now
        return Reading(verdict, categories, self.gazetteer.find(text), self.version)


def ranked_top(ranked: list[tuple[str, float]]) -> str:
    return next(c for c, _ in ranked if c != EMERGENCY)


# --- the process's reader ----------------------------------------------------------------

_lock = threading.Lock()
_models: dict[object, Model] = {}
_places: dict[tuple[str, ...], tuple[float, Gazetteer]] = {}
_active: list[tuple[float, int | None]] = []  # (when read, the active version)


def category_words(catalog) -> list[CategoryWords]:
    """The catalog snapshot's categories as the training needs them."""
    return [
        CategoryWords(c.code, c.name_fr, c.name_en, c.keywords, c.is_idea)
        for c in catalog.categories
    ]


def default_model(categories: list[CategoryWords]) -> Model:
    """The model trained from the shipped examples for these categories (kept per process)."""
    key = tuple(categories)
    with _lock:
        model = _models.get(key)
        if model is None:
            model = Model.train(*training_set(categories))
            _models[key] = model
        return model


def stored_model(session: Session, version: int) -> Model | None:
    with _lock:
        model = _models.get(("version", version))
        if model is None:
            row = model_of_version(session, version)
            if row is None:
                return None
            model = Model.from_bytes(row.data)
            _models[("version", version)] = model
        return model


def gazetteer(session: Session, citycodes: tuple[str, ...]) -> Gazetteer:
    """The streets of the town's communes (and their landmarks), read every TTL_SECONDS."""
    now = time.monotonic()
    with _lock:
        cached = _places.get(citycodes)
        if cached is not None and now - cached[0] < TTL_SECONDS:
            return cached[1]
    streets = [name for code in citycodes for name, _ in streets_of_commune(session, code)]
    landmarks = [lm for lm in read_landmarks() if lm.citycode in citycodes]
    found = Gazetteer(streets, landmarks)
    with _lock:
        _places[citycodes] = (now, found)
    return found


def reader(session: Session, catalog) -> Reader:
    """The reader in use: the active stored version, else the shipped examples'."""
    version = _active_version(session)
    model = stored_model(session, version) if version is not None else None
    if model is None:
        version, model = None, default_model(category_words(catalog))
    codes = tuple(sorted(catalog.town.codes))
    return Reader(model, gazetteer(session, codes), version)


def _active_version(session: Session) -> int | None:
    now = time.monotonic()
    with _lock:
        if _active and now - _active[0][0] < VERSION_TTL_SECONDS:
            return _active[0][1]
    version = active_version(session)
    with _lock:
        _active[:] = [(now, version)]
    return version


def version_changed() -> None:
    """Another version was activated: the next read asks which."""
    with _lock:
        _active.clear()


def read(session: Session, catalog, text: str) -> Reading:
    """Reads a resident's message against the town's categories and places."""
    offered = {c.code for c in catalog.offered_problems} | {c.code for c in catalog.offered_ideas}
    return reader(session, catalog).read(text, offered)


def catalog_changed() -> None:
    """A category changed (its keywords, its names): the models trained in memory for the
    old catalog are dropped, so the next message is read with a model trained for the new
    one (the stored versions stay: they are kept per version)."""
    with _lock:
        for key in [k for k in _models if not (isinstance(k, tuple) and k[:1] == ("version",))]:
            del _models[key]


def warm(db, catalog_cache) -> None:
    """Reads one message, so the first resident's is not the one that waits for the model
    to be trained or loaded and for the streets to be read (2-3 s once per process)."""
    with db.reading() as session:
        read(session, catalog_cache.get(session), "bonjour, le lampadaire est en panne")


def forget() -> None:
    """Drops the process's models and places (after a retraining, in tests)."""
    with _lock:
        _models.clear()
        _places.clear()
        _active.clear()
