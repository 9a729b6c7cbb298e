"""A town's examples of one sentence, to export and to import into another town.

What the reader learns from (services/nlu/training.py): the shipped examples the town's
categories take through their keywords (source `shipped`), the reports an agent has seen,
their category kept (`confirmed`) or changed (`corrected`), and the examples the town
imported (models/nlu.py `nlu_example`, with the source they had where they came from).
The residents' words leave the town as the public site would show them: without phone
numbers, e-mail addresses or names.

The file is TSV, UTF-8, with a header: text, category (the town's category code, or
`none` / `emergency`), language (fr, en), source; the console writes them in French
(texte, catégorie, langue, source), as its other downloads, and either is read.
Importing checks each row: a category this town does not have, an unknown language or an
empty text is reported with its line and skipped; an example the town already has (same
words, same category) is skipped.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlmodel import Session

from models.nlu import add_examples, imported_examples, seen_reports_examples
from services.config import LANGUAGES
from services.nlu.classifier import BUILT_IN, key_owners, read_examples_with_language
from services.nlu.reader import category_words
from services.public_view import Redaction
from services.texts import N_, fold

HEADER = ("text", "category", "language", "source")
HEADERS = {"en": HEADER, "fr": ("texte", "catégorie", "langue", "source")}
# Each column's name in either language -> the name used here.
COLUMNS = {n: en for names in HEADERS.values() for n, en in zip(names, HEADER, strict=True)}
COLUMNS["categorie"] = "category"
SHIPPED, CONFIRMED, CORRECTED, IMPORTED = "shipped", "confirmed", "corrected", "imported"
SOURCES = (SHIPPED, CONFIRMED, CORRECTED, IMPORTED)
# The longest example kept (a resident's message is shorter) and the largest file read.
MAX_TEXT = 1000
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Example:
    text: str
    category: str
    language: str
    source: str


class ExamplesError(Exception):
    """The file cannot be read as examples at all (its rows are never half-imported)."""

    def __init__(self, text: str, **values) -> None:
        super().__init__(text % values if values else text)
        self.text, self.values = text, values


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str  # a msgid with %(value)s
    value: str
    text: str


@dataclass
class Imported:
    added: int = 0
    duplicates: int = 0
    bad: list[BadRow] = field(default_factory=list)


def town_examples(session: Session, catalog, language: str = "fr") -> list[Example]:
    """Every example the town's reader learns from, shipped ones first (`language`: the
    town's, for a report whose citizen is gone)."""
    categories = category_words(catalog)
    shipped = read_examples_with_language()
    owner = key_owners(categories, {key for _, key, _ in shipped})
    found = [
        Example(text, owner[key], lang, SHIPPED) for text, key, lang in shipped if key in owner
    ]
    allowed = [word for c in categories for word in (c.name_fr, c.name_en, c.keywords)]
    for text, code, said_in, corrected in seen_reports_examples(session):
        words = _without_personal(text, allowed)
        if words:
            source = CORRECTED if corrected else CONFIRMED
            found.append(Example(words, code, said_in or language, source))
    found += [
        Example(row.text, row.category_code, row.language, row.source)
        for row in imported_examples(session)
    ]
    return found


def _without_personal(text: str | None, allowed: list[str]) -> str | None:
    """A resident's words as they may leave the town: without the phone numbers, e-mail
    addresses and names (people's, streets') they give, as the public site shows them."""
    if not text or not text.strip():
        return None
    redaction = Redaction([], None, None, private_texts=[text], public_words=allowed)
    return redaction.remove(" ".join(text.split()))


def to_tsv(examples: list[Example], header: tuple[str, ...] = HEADER) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(header)
    for example in examples:
        writer.writerow((example.text, example.category, example.language, example.source))
    return buffer.getvalue()


def import_tsv(session: Session, catalog, data: bytes | str, language: str = "fr") -> Imported:
    """Adds the file's new examples to the town's; reports what it skipped and why
    (`language`: the town's, for a row that names none)."""
    rows = _read(data)
    codes = {c.code for c in catalog.categories} | set(BUILT_IN)
    known = {_same(e.text, e.category) for e in town_examples(session, catalog, language)}
    result, new = Imported(), []
    default = language
    for line, row in rows:
        text = " ".join((row.get("text") or "").split())
        code = (row.get("category") or "").strip()
        said_in = (row.get("language") or "").strip().lower() or default
        source = (row.get("source") or "").strip().lower()
        problem = None
        if not text:
            problem = (N_("no text"), "")
        elif len(text) > MAX_TEXT:
            problem = (N_("longer than %(value)s characters"), str(MAX_TEXT))
        elif code not in codes:
            problem = (N_("unknown category “%(value)s”"), code)
        elif said_in not in LANGUAGES:
            problem = (N_("unknown language “%(value)s”"), said_in)
        if problem is not None:
            result.bad.append(BadRow(line, problem[0], problem[1], text[:80]))
            continue
        if _same(text, code) in known:
            result.duplicates += 1
            continue
        known.add(_same(text, code))
        new.append((text, code, said_in, source if source in SOURCES else IMPORTED))
    add_examples(session, new)
    result.added = len(new)
    return result


def _same(text: str, code: str) -> tuple[str, str]:
    return " ".join(fold(text).split()), code


def _read(data: bytes | str) -> list[tuple[int, dict]]:
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            raise ExamplesError(
                N_("The file is larger than %(mb)d MB."), mb=MAX_FILE_BYTES // 1024 // 1024
            )
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ExamplesError(N_("The file is not UTF-8 text (save it as UTF-8).")) from exc
    reader = csv.DictReader(io.StringIO(data, newline=""), delimiter="\t")
    named = [name.strip().lower() for name in reader.fieldnames or []]
    columns = [COLUMNS.get(name, name) for name in named]
    if "text" not in columns or "category" not in columns:
        raise ExamplesError(
            N_(
                "The first line must name the columns, separated by tabs: text, category, "
                "language, source (found: %(found)s)."
            ),
            found=", ".join(named) or "—",
        )
    reader.fieldnames = columns
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise ExamplesError(
            N_("Line %(line)d cannot be read: %(error)s."), line=reader.line_num, error=str(exc)
        ) from exc
