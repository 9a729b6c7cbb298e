"""User-facing text: English msgids, translated by gettext catalogs (Babel).

French is the default language of the bot; `services/translations/fr/LC_MESSAGES/messages.po`
holds the translations and `make messages` extracts and compiles them.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

from models.report import Status
from services.config import LANGUAGES

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"


def N_(msgid: str) -> str:
    """Marks a string for extraction; it is translated later, where it is used."""
    return msgid


@cache
def catalog(language: str) -> NullTranslations:
    if language == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [language], DOMAIN)


def translate(language: str, msgid: str, **values) -> str:
    """Returns the text in the citizen's language, with its placeholders filled."""
    text = catalog(language).gettext(msgid)
    return text.format(**values) if values else text


LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


def page_language(language: str) -> dict:
    """What a server-rendered page of the public site needs of its language: `lang`, the
    translator `t`, and the other language it switches to (`other_lang`, `other_lang_name`)."""
    other = "en" if language == "fr" else "fr"
    return {
        "lang": language,
        "t": lambda msgid, **values: translate(language, msgid, **values),
        "other_lang": other,
        "other_lang_name": LANGUAGE_NAMES[other],
    }


def pick_language(code: str | None, default: str) -> str:
    """Maps a client's language tag (Telegram `language_code`, 'fr-FR') to fr or en."""
    if code:
        short = code.split("-")[0].split("_")[0].lower()
        if short in LANGUAGES:
            return short
    return default


@lru_cache(maxsize=1024)
def fold(text: str) -> str:
    """Lower-cases and strips accents, for matching what citizens type. Kept for the
    latest texts: a message is folded by each matcher it meets (the crew's code, the
    commands, the offered choices), and the categories' names against every message."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


STATUS_NAMES = {
    Status.NEW: N_("registered"),
    Status.ACKNOWLEDGED: N_("acknowledged"),
    Status.IN_PROGRESS: N_("in progress"),
    Status.RESOLVED: N_("resolved"),
    Status.CLOSED: N_("closed"),
    Status.DUPLICATE: N_("merged with another report"),
}


def status_name(language: str, status: str) -> str:
    return translate(language, STATUS_NAMES[status])
