"""What anyone may see of a report: one public view, for Open311's keyless reads and the
public site.

It holds no name, phone number, chat id or e-mail address, and no address a person typed
that a geocoder never gave: the place is the pin and, when a geocoder named it, its
street without the house number. The agents' words are there without the greeting and
the personal details the console's response templates ({name}, {address}) or the agent
put in them. The citizen's description is there only when the town made it public (the
category's default, or an agent published it or wrote its public text), and redacted like
the agents' words; the messages citizens added later never are. A photo is there once an
agent approved it. A hidden report has no public view at all (the site answers 404).

The agents' words are stored as the followers received them, so their public form is
derived here, each time, from what the report knows of its people (the names, chat ids
and phone numbers of its author, its followers and whoever wrote on it) and from the
shapes of phone numbers and e-mail addresses. A name the agent typed that the report does
not know (a neighbour's) cannot be recognised: agents write public messages knowing that.

It belongs in services/ and moves there when that package exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from models.catalog import Category, Service
from models.citizen import Citizen
from models.public_queries import (
    approved_photos,
    people_of_reports,
    public_events,
    reports_with_catalog,
)
from models.report import Report, ReportEvent
from services.config import LANGUAGES
from services.texts import status_name

# Reports filed by the town's other tools (Open311): their address is that tool's text.
OTHER_TOOLS = frozenset({"open311"})
# How a report's placing on the map is written in its history (services/placing.py,
# models/report.py pin_report); tests/test_public_view.py files both for real.
TYPED_AND_PLACED = re.compile(
    r"^Placed on the map from the typed address: (?P<label>.+) \(score [\d.]+\)\.$"
)
PINNED_FROM_LINK = re.compile(
    r"^The citizen placed the pin from the link sent by SMS: .+ \(before: (?P<before>.+)\)\.$"
)
HOUSE_NUMBER = re.compile(
    r"^\s*\d+(?:\s*[-/]\s*\d+)?(?:\s*(?:bis|ter|quater|[a-d])\b)?[\s,]*", re.IGNORECASE
)
# "Bonjour Hugo Lemoine," "Hello," "Madame," at the start of a message: the greeting and
# the few words of a name after it, up to its punctuation or the end of its line.
GREETING = re.compile(
    r"^\s*(?:bonjour|bonsoir|salut|hello|hi|dear|good (?:morning|afternoon|evening)"
    r"|cher|chère|chers|chères|madame|monsieur|mesdames|messieurs)\b"
    r"(?:[ \t]+[^\s,;:.!?]+){0,4}[ \t]*[\n,;:.!?]+\s*",
    re.IGNORECASE,
)
PHONE_NUMBER = re.compile(
    r"(?<![\w+])0[1-9](?:[ .-]?\d{2}){4}(?!\w)"  # French: 06 12 34 56 78
    r"|(?<!\w)(?:\+|00)[1-9](?:[ .-]?\d){7,14}(?!\w)"  # international: +33 6 12 34 56 78
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
REMOVED = "…"
# A name's parts shorter than this are only removed as the whole name ("Jo", not "jo").
SHORTEST_NAME_PART = 3


@dataclass(frozen=True)
class PublicPlace:
    lat: float | None
    lon: float | None
    label: str | None  # a geocoder's street without the house number; never typed text


@dataclass(frozen=True)
class PublicEvent:
    at: datetime
    status: str | None  # the status reached; None when an agent wrote without changing it
    words: str | None  # the agent's public words, un-personalised


@dataclass(frozen=True)
class PublicReport:
    number: int
    category_code: str
    category_names: dict[str, str]  # by language
    service_code: str
    service_names: dict[str, str]
    status: str
    status_names: dict[str, str]
    created_at: datetime
    updated_at: datetime  # the last public change (status, agent's words, place)
    expected_at: datetime | None  # when the service should be done (open reports)
    place: PublicPlace
    history: tuple[PublicEvent, ...]
    description: str | None = None  # the citizen's words, once public, redacted
    media_ids: tuple[int, ...] = ()  # the photos an agent approved
    commune: str | None = None  # several communes: the one holding it (INSEE code)

    @property
    def ref(self) -> str:
        return f"#{self.number}"

    @property
    def latest_words(self) -> str | None:
        """The agents' latest public words (Open311's status_notes)."""
        return next((event.words for event in reversed(self.history) if event.words), None)


def public_report(session: Session, number: int) -> PublicReport | None:
    """The public view of one report, or None when there is no such report or it is hidden."""
    views = public_reports(session, reports_with_catalog(session, [number]))
    return views[0] if views else None


def public_reports(
    session: Session, rows: list[tuple[Report, Category, Service]]
) -> list[PublicReport]:
    """The public views of reports already read with their category and service, in order;
    the hidden ones are left out."""
    rows = [row for row in rows if not row[0].hidden]
    numbers = [report.id for report, _, _ in rows]
    events = public_events(session, numbers)
    people = people_of_reports(session, numbers)
    photos = approved_photos(session, numbers)
    return [view_of(*row, events[row[0].id], people[row[0].id], photos[row[0].id]) for row in rows]


def description_is_public(report: Report, category: Category) -> bool:
    """Whether the citizen's words may be shown: the agent's choice, else the category's."""
    if report.text_public is not None:
        return report.text_public
    return category.description_public


def view_of(
    report: Report,
    category: Category,
    service: Service,
    events: list[ReportEvent],
    people: list[Citizen],
    photos: list[int] | tuple[int, ...] = (),
) -> PublicReport:
    """Makes the public view of a report from its public events and the people it names."""
    label, private = public_place_and_redaction(report, category, service, events, people)
    history = tuple(_public_event(event, private) for event in events if event.kind != "geocoded")
    expected = report.created_at + timedelta(hours=category.sla_hours)
    description = None
    if description_is_public(report, category):
        description = private.remove(report.public_text or report.description)
    return PublicReport(
        number=report.id,
        category_code=category.code,
        category_names={language: category.name(language) for language in LANGUAGES},
        service_code=service.code,
        service_names={language: service.name(language) for language in LANGUAGES},
        status=report.status,
        status_names={language: status_name(language, report.status) for language in LANGUAGES},
        created_at=report.created_at,
        updated_at=max([report.created_at, *(event.created_at for event in events)]),
        expected_at=expected if report.is_open else None,
        place=PublicPlace(report.lat, report.lon, label),
        history=history,
        description=description,
        media_ids=tuple(photos),
        commune=report.commune,
    )


def public_place_and_redaction(
    report: Report,
    category: Category,
    service: Service,
    events: list[ReportEvent],
    people: list[Citizen],
) -> tuple[str | None, Redaction]:
    """The place anyone may read, and what to take out of any text shown beside it."""
    placings = [event.internal_note or "" for event in events if event.kind == "geocoded"]
    label = public_label(report, placings)
    private = Redaction(
        people,
        report.address,
        label,
        private_texts=[report.description, report.address or ""],
        public_words=[
            label or "",
            category.name_fr,
            category.name_en,
            service.name_fr,
            service.name_en,
        ],
    )
    return label, private


def _public_event(event: ReportEvent, private: Redaction) -> PublicEvent:
    # Only an agent's status change or reply carries public words; a reopening carries
    # the citizen's, which stay out.
    words = private.remove(event.public_message) if event.kind in ("status", "reply") else None
    return PublicEvent(event.created_at, event.to_status, words)


# --- the place ------------------------------------------------------------------------


def public_label(report: Report, placings: list[str]) -> str | None:
    """The place's name anyone may read: a geocoder's label without the house number."""
    if report.lat is None or report.lon is None:
        return None
    label = _geocoders_label(report, placings)
    return street_of(label) if label else None


def _geocoders_label(report: Report, placings: list[str]) -> str | None:
    """The label a geocoder gave this place, when the history shows there is one.

    `placings` are the notes of the report's later placings on the map, oldest first.
    """
    if report.channel in OTHER_TOOLS and not placings:
        return None
    if not placings:
        # Placed in the chat: a pin named by the geocoder, or a search result the citizen
        # confirmed. An address kept as typed is not geolocated.
        return report.address if report.geolocated else None
    typed = TYPED_AND_PLACED.match(placings[-1])
    if typed:
        return typed["label"]
    pinned = PINNED_FROM_LINK.match(placings[-1])
    if pinned and len(placings) == 1 and pinned["before"] != "none":
        # A pin moved from the link: the address is the chat's label or the new pin's name.
        return report.address if report.channel not in OTHER_TOOLS else None
    # Otherwise the address may still be the text typed before the report was placed.
    return None


def street_of(label: str) -> str | None:
    """The label without its house number: "12 bis Rue X 35500 Vitré" -> "Rue X 35500 Vitré"."""
    return HOUSE_NUMBER.sub("", label, count=1).strip() or None


# --- the agents' words -----------------------------------------------------------------


class Redaction:
    """Takes out of a text the personal details of a report's people and its address."""

    def __init__(
        self,
        people: list[Citizen],
        address: str | None,
        label: str | None,
        *,
        private_texts: list[str] = (),
        public_words: list[str] = (),
    ) -> None:
        self.address = address if address and address != label else None
        self.label = label
        names, identities = set(), set()
        # A name the citizen wrote (their own, a neighbour's, "chez Hugo Lemoine") is a
        # capitalised word inside a sentence of their private texts; it is taken out of
        # every public text, unless the public place or the catalog says it too.
        allowed = {w.casefold() for text in public_words for w in WORD.findall(text)}
        for text in private_texts:
            names.update(w for w in proper_nouns(text) if w.casefold() not in allowed)
        for citizen in people:
            if citizen.erased_at is None:
                identities.update(_identities(citizen))
            name = (citizen.display_name or "").strip()
            if len(name) >= 2:
                names.add(name)
                names.update(p for p in re.split(r"[\s,]+", name) if len(p) >= SHORTEST_NAME_PART)
        # Longest first, so "Hugo Lemoine" goes before "Hugo".
        known = sorted(names | identities, key=len, reverse=True)
        self.known = (
            re.compile(
                r"(?<!\w)(?:" + "|".join(re.escape(k) for k in known) + r")(?!\w)", re.IGNORECASE
            )
            if known
            else None
        )

    def remove(self, text: str | None) -> str | None:
        """The text without greeting, names, numbers or unconfirmed address; None if empty."""
        if not text:
            return None
        text = GREETING.sub("", text.strip(), count=1)
        if self.address:
            replacement = self.label or REMOVED
            text = re.sub(re.escape(self.address), replacement, text, flags=re.IGNORECASE)
        # E-mail addresses first: a name inside one would leave the rest of it behind.
        text = EMAIL.sub(REMOVED, text)
        text = PHONE_NUMBER.sub(REMOVED, text)
        if self.known is not None:
            text = self.known.sub(REMOVED, text)
        return _tidy(text)


WORD = re.compile(r"[^\W\d_][\w'’-]*")
SENTENCE_END = '.!?\n:;«"“('


def proper_nouns(text: str | None) -> set[str]:
    """The capitalised words of a text that do not start a sentence (names, places)."""
    found = set()
    for match in WORD.finditer(text or ""):
        word = match.group()
        before = text[: match.start()].rstrip(" \t")
        starts_sentence = not before or before[-1] in SENTENCE_END
        if len(word) >= SHORTEST_NAME_PART and word[0].isupper() and not starts_sentence:
            found.add(word)
    return found


def _identities(citizen: Citizen) -> set[str]:
    """How a citizen's channel identity may be written: a chat id, a phone number."""
    address = citizen.address.strip()
    forms = {address} if len(address) >= 4 else set()
    if address.startswith("+33"):
        forms.add("0" + address[3:])  # the national form of a French number
    return forms


def _tidy(text: str) -> str | None:
    text = re.sub(rf"{REMOVED}(?:[\s,]*{REMOVED})+", REMOVED, text)
    text = re.sub(r"[ \t]*,[ \t]*\)", ")", text)  # "(Nid-de-poule, )": an empty placeholder
    text = re.sub(r"[ \t]+([,.)])", r"\1", text)  # French puts a space before ; : ! ?
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    if not text.strip(f" {REMOVED},.;:!?"):
        return None
    return text[0].upper() + text[1:]
