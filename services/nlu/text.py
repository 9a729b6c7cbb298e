"""What a resident wrote, made comparable: folded, SMS spellings spelt out, lemmatised.

`lampadère HS devant chez moi 😩` and `Les lampadaires sont hors service` should look
alike to the classifier: accents and case go (many phones type none), the common SMS
spellings and misspellings are spelt out, and simplemma (its data ships in the wheel,
nothing is downloaded) reduces each word to its lemma in French or English.
"""

from __future__ import annotations

import re
from functools import lru_cache

from services.texts import fold

# How residents abbreviate and misspell, folded; the character n-grams catch the rest.
SMS = {
    "bjr": "bonjour", "bsr": "bonsoir", "slt": "salut", "cc": "coucou", "stp": "s il te plait",
    "svp": "s il vous plait", "pb": "probleme", "pbm": "probleme", "prblm": "probleme",
    "ya": "il y a", "yen": "il y en", "jai": "j ai", "ke": "que", "koi": "quoi",
    "pr": "pour", "ds": "dans", "tt": "tout", "bcp": "beaucoup", "mm": "meme",
    "auj": "aujourd hui", "qd": "quand", "pk": "pourquoi", "pq": "pourquoi",
    "tro": "trou", "trotoir": "trottoir", "trotoire": "trottoir", "lampadere": "lampadaire",
    "lamp": "lampe", "poubele": "poubelle", "grafiti": "graffiti", "grafitis": "graffiti",
    "graff": "graffiti", "pannneau": "panneau", "hs": "hors service", "mr": "monsieur",
    "mme": "madame", "cmt": "comment", "dsl": "desole", "mrc": "merci", "msg": "message",
    "bd": "boulevard", "av": "avenue", "pl": "place", "r": "rue",
    "crame": "brule", "nid-de-poule": "nid de poule", "nids": "nid",
}  # fmt: skip
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_LANGS = ("fr", "en")


def words(text: str) -> list[str]:
    """The folded words of a message, SMS spellings spelt out (`ya un tro` -> il y a un trou)."""
    folded = fold(text).replace("œ", "oe").replace("æ", "ae").replace("'", " ")
    out: list[str] = []
    for word in _NOT_WORD.sub(" ", folded).split():
        out.extend(SMS.get(word, word).split())
    return out


@lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """The word's lemma in French or English (folded again: simplemma may add accents)."""
    if len(word) < 3 or word.isdigit():
        return word
    import simplemma  # its data takes a tenth of a second to load: on the first word read

    return fold(simplemma.lemmatize(word, lang=_LANGS))


# Politeness says nothing of the problem: "Bonjour, ... Merci" around a report is dropped,
# unless the message is nothing else (then it is what the message is: a greeting).
POLITE = frozenset(
    {
        "bonjour", "bonsoir", "salut", "coucou", "hello", "hi", "merci", "thanks", "thank",
        "madame", "monsieur", "mesdames", "messieurs", "maire", "cordialement", "cordial",
        "salutation", "respectueusement", "distingue", "voila", "svp", "please", "dear",
    }
)  # fmt: skip
# How many other words a message needs for its politeness to be dropped.
CONTENT_WORDS = 3


def only_politeness(text: str) -> bool:
    """Whether the message greets or thanks and says nothing else (`Bonjour !`, `bjr`,
    `merci madame`): there is no report in it to read, and no model to run."""
    said = words(text)
    return bool(said) and all(lemma(word) in POLITE for word in said)


def normalise(text: str) -> str:
    """The message as the classifier reads it: folded lemmas, one space apart."""
    lemmas = [lemma(word) for word in words(text)]
    content = [w for w in lemmas if w not in POLITE]
    return " ".join(content if len(content) >= CONTENT_WORDS else lemmas)
