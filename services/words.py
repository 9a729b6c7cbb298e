"""Recognises the commands a citizen may send at any step, on any channel."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.texts import fold

# Whole messages (accents, case and a leading '/' ignored) -> command.
COMMAND_WORDS: dict[str, str] = {
    **dict.fromkeys(["aide", "help", "?", "info"], "help"),
    **dict.fromkeys(["annuler", "cancel", "annule"], "cancel"),
    **dict.fromkeys(
        ["mesdemandes", "mes demandes", "mes signalements", "myreports", "my reports"],
        "my_reports",
    ),
    **dict.fromkeys(["langue", "language", "lang"], "language"),
    # Carrier opt-out words (France and Twilio's defaults): honoured before anything else.
    **dict.fromkeys(["stop", "arret", "stopall", "unsubscribe", "end", "quit"], "stop"),
    **dict.fromkeys(["start", "unstop", "demarrer"], "start"),
    **dict.fromkeys(["menu", "nouveau", "signaler", "new"], "menu"),
    **dict.fromkeys(["suivi", "status", "statut"], "status"),
    # Erase my data (GDPR), confirmed before anything is removed.
    **dict.fromkeys(["supprimer", "delete", "effacer"], "erase"),
    # Follow a report (the public site's buttons): SUIVRE 1042, FOLLOW 1042.
    **dict.fromkeys(["suivre", "follow"], "follow"),
}
DIRECT_LANGUAGE = {"english": "en", "anglais": "en", "francais": "fr", "french": "fr"}
STATUS_RE = re.compile(
    r"^(?:/?(?:suivi|status|statut)\s*)?#\s*(\d{1,9})$|^/?(?:suivi|status|statut)\s+(\d{1,9})$"
)

# SUIVRE 1042, FOLLOW #1042, and Telegram's deep link from the public site: /start follow_1042.
FOLLOW_RE = re.compile(
    r"^/?(?:suivre|follow)(?:@\w+)?\s*#?\s*(\d{1,9})$|^/start(?:@\w+)?\s+follow_(\d{1,9})$"
)


@dataclass(frozen=True)
class Command:
    name: str
    arg: str | None = None


def parse(text: str | None) -> Command | None:
    """Returns the command a message is, or None for ordinary text."""
    if not text:
        return None
    words = fold(text).strip(" .!")
    if not words or len(words) > 40:
        return None
    match = STATUS_RE.match(words)
    if match:
        return Command("status", match.group(1) or match.group(2))
    match = FOLLOW_RE.match(words)
    if match:
        return Command("follow", match.group(1) or match.group(2))
    bare = words.lstrip("/")
    # Telegram: "/start CODE" (deep link), "/suivi@TownBot 1042".
    head, _, rest = bare.partition(" ")
    head = head.split("@", 1)[0]
    if words.startswith("/") and head in COMMAND_WORDS:
        return Command(COMMAND_WORDS[head], rest.strip() or None)
    if bare in DIRECT_LANGUAGE:
        return Command("language", DIRECT_LANGUAGE[bare])
    if bare in COMMAND_WORDS:
        return Command(COMMAND_WORDS[bare])
    return None
