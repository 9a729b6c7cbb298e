"""SMS text: GSM-7 or UCS-2, how many segments a text costs, and making it fit.

An SMS is 160 GSM-7 characters, or 70 UCS-2 ones as soon as one character is outside
the GSM 03.38 alphabet; a concatenated message loses 7 septets (3 UCS-2 units) per part
to its header, hence 153 and 67. French needs only a few characters GSM-7 lacks
(î ê â ô û ç ë ï œ ’ « »): they are written with their closest GSM-7 form, so a French
message costs the same as an English one. é è à ù É are GSM-7 and stay.
"""

from __future__ import annotations

import unicodedata

# GSM 03.38 default alphabet (ESC excluded: it only introduces the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs two septets (ESC + character).
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
GSM7_SINGLE, GSM7_MULTI = 160, 153  # septets
UCS2_SINGLE, UCS2_MULTI = 70, 67  # UTF-16 code units

# Characters French (and agents' keyboards) use that GSM-7 lacks -> their GSM-7 form.
# Anything else is tried through its Unicode decomposition (ő -> o) before giving up.
TRANSLITERATION = {
    "â": "a", "ê": "e", "î": "i", "ô": "o", "û": "u",
    "Â": "A", "Ê": "E", "Î": "I", "Ô": "O", "Û": "U",
    "ë": "e", "ï": "i", "ÿ": "y", "Ë": "E", "Ï": "I", "Ÿ": "Y",
    "ç": "c",  # GSM-7's only cedilla is the capital Ç, shown lower-case on some phones
    "À": "A", "È": "E", "Ù": "U", "á": "a", "í": "i", "ó": "o", "ú": "u",
    "œ": "oe", "Œ": "OE", "æ": "ae",
    "’": "'", "‘": "'", "‚": "'", "ʼ": "'", "´": "'", "`": "'",
    "«": '"', "»": '"', "“": '"', "”": '"', "„": '"',
    "‹": "'", "›": "'",
    "…": "...", "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-",
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "\t": " ",
    "•": "-", "·": "-", "°": "o", "×": "x", "\u200b": "", "\ufeff": "",
}  # fmt: skip
ELLIPSIS = "..."


def is_gsm7(text: str) -> bool:
    """Tells whether every character of `text` exists in GSM-7 (basic or extension)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def to_gsm7(text: str) -> str:
    """Rewrites `text` in GSM-7 where a close form exists; other characters are kept.

    Pictographs (emoji) and their joiners are dropped: they would turn the whole
    message into UCS-2 and many phones show them as boxes anyway. A character with
    no GSM-7 form (Cyrillic, Arabic...) is kept, and the message is then sent in UCS-2.
    """
    return "".join(_gsm7_char(ch) for ch in text)


def _gsm7_char(ch: str) -> str:
    if ch in GSM7_BASIC or ch in GSM7_EXTENDED:
        return ch
    if ch in TRANSLITERATION:
        return TRANSLITERATION[ch]
    category = unicodedata.category(ch)
    if category in ("So", "Sk", "Cs", "Co") or ch in "\u200d\ufe0e\ufe0f":
        return ""
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return base if base and is_gsm7(base) else ch


def encoding(text: str) -> str:
    """Names the encoding Twilio will use for `text`: "GSM-7" or "UCS-2"."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def _costs(text: str) -> tuple[list[int], int, int]:
    if is_gsm7(text):
        return [2 if ch in GSM7_EXTENDED else 1 for ch in text], GSM7_SINGLE, GSM7_MULTI
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text], UCS2_SINGLE, UCS2_MULTI


def segments(text: str) -> int:
    """Counts the SMS parts `text` is billed as (an escape or surrogate pair is never split)."""
    if not text:
        return 1
    costs, single, multi = _costs(text)
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            parts, used = parts + 1, 0
        used += cost
    return parts


def fit(text: str, max_segments: int, *, fixed_tail: str = "") -> str:
    """Shortens `text` (then appends `fixed_tail`) until the whole fits in `max_segments`.

    The longest lines are shortened first, all to the same length, in their middle: the
    start of a line (a report number, "Description:") and its end (what happened, "by the
    Roads service") say the most. `fixed_tail` (numbered choices, a hint) is never cut.
    """

    def joined(lines: list[str]) -> str:
        body = "\n".join(lines)
        return f"{body}\n{fixed_tail}" if fixed_tail and body else body or fixed_tail

    originals = text.split("\n")
    lines = originals
    if segments(joined(lines)) <= max_segments:
        return joined(lines)
    # The largest common length that fits (binary search: elision only shrinks the text).
    low, high = MIN_LINE, max(len(line) for line in originals)
    while low < high:
        cap = (low + high + 1) // 2
        if segments(joined([elide_middle(line, cap) for line in originals])) <= max_segments:
            low = cap
        else:
            high = cap - 1
    lines = [elide_middle(line, low) for line in originals]
    result = joined(lines)
    while segments(result) > max_segments and len(result) > len(ELLIPSIS):
        result = result[: -len(ELLIPSIS) - 1].rstrip() + ELLIPSIS  # last resort: cut the end
    return result


# A line is never shortened below this (then the end of the message is cut instead).
MIN_LINE = 24


def elide_middle(line: str, limit: int) -> str:
    """Returns `line` within `limit` characters, its middle replaced by "..." at word edges."""
    if len(line) <= limit:
        return line
    room = max(limit - len(ELLIPSIS), 2)
    if line.endswith(ELLIPSIS):  # already cut at its end: its end says nothing, cut more there
        head = line[:room]
        cut = head.rfind(" ")
        return (head[:cut] if cut >= room - 8 else head).rstrip() + ELLIPSIS
    head_len = (room * 3 + 4) // 5  # three fifths for the start, the rest for the end
    tail_len = room - head_len
    head = line[:head_len]
    tail = line[len(line) - tail_len :] if tail_len else ""
    # Prefer whole words when that costs little.
    cut = head.rfind(" ")
    if cut >= head_len - 8 and cut > 0:
        head = head[:cut]
    space = tail.find(" ")
    if 0 <= space <= 8 and space < len(tail) - 1:
        tail = tail[space + 1 :]
    return f"{head.rstrip()}{ELLIPSIS}{tail.lstrip()}"
