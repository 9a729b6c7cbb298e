"""What anyone may see of a report: one public view, for Open311's keyless reads and the
public site.

It holds no name, phone number, chat id or e-mail address, and no address a person typed
that a geocoder never gave: the place is the pin and, when a geocoder named it, its
street without the house number. The agents' words are there without the greeting and
the personal details the console's response templates ({name}, {address}) or the agent
put in them. The citizen's description is there only when the town made it public (the
category's default once an agent has opened the report, or an agent published it or wrote
its public text), and redacted like the agents' words; the messages citizens added later
never are. A photo is there once an
agent approved it. A hidden report has no public view at all (the site answers 404).

The agents' words are stored as the followers received them, so their public form is
derived here, each time, from what the report knows of its people (the names, chat ids
and phone numbers of its author, its followers and whoever wrote on it, the names of the
agents who wrote on it, the names the citizen's own texts give) and from the shapes of
phone numbers and e-mail addresses. A name the agent typed that the report does not know
(a neighbour's) cannot be recognised: agents write public messages knowing that.

It belongs in services/ and moves there when that package exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from models.agent import agent_names
from models.catalog import Category, Service
from models.citizen import Citizen
from models.public_queries import (
    approved_photos,
    people_of_reports,
    public_events,
    reports_with_catalog,
)
from models.report import EventKind, Report, ReportEvent
from services.config import LANGUAGES
from services.texts import status_name

# The events the public history shows (a reply to the followers is private: never shown),
# and those that carry the agents' public words.
SHOWN_KINDS = frozenset(
    {EventKind.CREATED, EventKind.STATUS, EventKind.PUBLIC_NOTE, EventKind.REOPENED}
)
PUBLIC_WORDS = frozenset({EventKind.STATUS, EventKind.PUBLIC_NOTE})
# Reports filed by the town's other tools (Open311): their address is that tool's text.
OTHER_TOOLS = frozenset({"open311"})
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
    writers = {event.agent_id for found in events.values() for event in found if event.agent_id}
    names = agent_names(session, sorted(writers))
    return [
        view_of(
            *row,
            events[row[0].id],
            people[row[0].id],
            photos[row[0].id],
            agents=sorted({names[e.agent_id] for e in events[row[0].id] if e.agent_id in names}),
        )
        for row in rows
    ]


def description_is_public(report: Report, category: Category) -> bool:
    """Whether the citizen's words may be shown: the agent's choice, else the category's
    once an agent has seen the report (a new description waits for a human's eyes)."""
    if report.text_public is not None:
        return report.text_public
    return category.description_public and report.seen_by_agent_at is not None


def view_of(
    report: Report,
    category: Category,
    service: Service,
    events: list[ReportEvent],
    people: list[Citizen],
    photos: list[int] | tuple[int, ...] = (),
    *,
    agents: list[str] = (),
) -> PublicReport:
    """Makes the public view of a report from its public events and the people it names
    (`agents`: the display names of the agents who wrote on it)."""
    label, private = public_place_and_redaction(
        report, category, service, events, people, agents=agents
    )
    shown = [event for event in events if event.kind in SHOWN_KINDS]
    history = tuple(_public_event(event, private) for event in shown)
    expected = report.created_at + timedelta(hours=category.sla_hours)
    placings = [event for event in events if event.kind == EventKind.GEOCODED]
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
        updated_at=max([report.created_at, *(event.created_at for event in shown + placings)]),
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
    *,
    agents: list[str] = (),
) -> tuple[str | None, Redaction]:
    """The place anyone may read, and what to take out of any text shown beside it
    (`agents`: the display names of the agents who wrote on the report)."""
    placings = [event.detail or {} for event in events if event.kind == EventKind.GEOCODED]
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
        agents=agents,
    )
    return label, private


def _public_event(event: ReportEvent, private: Redaction) -> PublicEvent:
    # Only an agent's status change or public note carries public words; a reopening
    # carries the citizen's, which stay out.
    words = private.remove(event.public_message) if event.kind in PUBLIC_WORDS else None
    return PublicEvent(event.created_at, event.to_status, words)


def public_note_preview(
    session: Session, report: Report, text: str, *, writer: str | None = None
) -> str | None:
    """A public note as the public page would show it once published (`writer`: the
    display name of the agent about to publish it, taken out like the others')."""
    number = report.id
    events = public_events(session, [number])[number]
    names = agent_names(session, sorted({e.agent_id for e in events if e.agent_id}))
    _label, private = public_place_and_redaction(
        report,
        session.get(Category, report.category_id),
        session.get(Service, report.service_id),
        events,
        people_of_reports(session, [number])[number],
        agents=sorted({*names.values(), *([writer] if writer else [])}),
    )
    return private.remove(text)


# --- the place ------------------------------------------------------------------------


def public_label(report: Report, placings: list[dict]) -> str | None:
    """The place's name anyone may read: a geocoder's label without the house number."""
    if report.lat is None or report.lon is None:
        return None
    label = _geocoders_label(report, placings)
    return street_of(label) if label else None


def _geocoders_label(report: Report, placings: list[dict]) -> str | None:
    """The label a geocoder gave this place, when the history shows there is one.

    `placings` are the details of the report's later placings on the map, oldest first
    (services/placing.py, models/report.py pin_report; tests/test_public_view.py files
    both for real).
    """
    if report.channel in OTHER_TOOLS and not placings:
        return None
    if not placings:
        # Placed in the chat: a pin named by the geocoder, or a search result the citizen
        # confirmed. An address kept as typed is not geolocated.
        return report.address if report.geolocated else None
    last = placings[-1]
    if last.get("source") == "typed":
        return last.get("label")
    if last.get("source") == "link" and len(placings) == 1 and last.get("before"):
        # A pin moved from the link: the address is the chat's label or the new pin's name.
        return report.address if report.channel not in OTHER_TOOLS else None
    # Otherwise the address may still be the text typed before the report was placed.
    return None


def street_of(label: str) -> str | None:
    """The label without its house number: "12 bis Rue X 35500 Vitré" -> "Rue X 35500 Vitré"."""
    return HOUSE_NUMBER.sub("", label, count=1).strip() or None


# --- the agents' words -----------------------------------------------------------------

SPACE = "[ \t\u00a0\u202f]"  # French typography puts (narrow) no-break spaces in numbers
_PAREN = rf"\({SPACE}?\+?\d{{1,4}}{SPACE}?\)"  # "(0)", "(+33)", "(555)"
# Digits in groups joined by a space, ".", "-" or "/", or by a parenthesised group: a
# phone number in any spelling ("06/11/22/33/44", "0611 223 344", "+33 (0)6 11 22 33 44",
# "(+33) 6 11 22 33 44"), a date, a house number. _number decides which it is.
DIGIT_RUN = re.compile(
    rf"(?<![\d#])(?:{_PAREN}|\+?\d+)"
    rf"(?:(?:{SPACE}{{1,2}}|{SPACE}?[./-]{SPACE}?)\d+|{SPACE}{{0,2}}{_PAREN}{SPACE}{{0,2}}\d+)*"
    r"(?!\d)"
)
# A date with its year ("12/03/2026", "12.03.2026", "2026-03-12") is not a phone number.
DATE = re.compile(
    r"(?:0?[1-9]|[12]\d|3[01])([./-])(?:0?[1-9]|1[0-2])\1(?:19|20)\d\d"
    r"|(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
)
# Any run of this many digits goes (a phone number with or without its 0, a customer
# number, an IBAN's digits); an international one ("+352 26 12 34") from fewer.
LONGEST_KEPT_RUN = 7
SHORTEST_INTERNATIONAL = 6
# E-mail addresses, obfuscated ones too: "hugo.lemoine at gmail.com", "hugo [at] gmail
# [dot] com", "hugo(at)gmail.com", "hugo @ gmail . com", "hugo arobase gmail point fr".
_AT = r"(?:\s*@\s*|\s*[\[({<]\s*(?:at|@|arobase)\s*[\])}>]\s*|[ \t]+(?:at|arobase)[ \t]+)"
_SPELLED_DOT = r"(?:\s*[\[({<]\s*(?:dot|point|\.)\s*[\])}>]\s*|[ \t]+(?:dot|point)[ \t]+"
_SPELLED_DOT += r"|[ \t]+\.[ \t]*|\.[ \t]+)"  # each spelling one way only: no backtracking
_TLDS = r"(?:com|fr|net|org|eu|info|be|ch|lu|de|uk|io|me|biz|bzh)"
_LABEL = r"[^\W_][\w-]*"
EMAIL = re.compile(
    rf"(?<![\w.+-])[\w.+-]++{_AT}{_LABEL}(?:(?:\.|{_SPELLED_DOT}){_LABEL})*"
    rf"(?:\.[^\W\d_]{{2,}}|{_SPELLED_DOT}{_TLDS})(?![\w-])",
    re.IGNORECASE,
)
REMOVED = "…"
# A name's parts shorter than this are only removed as the whole name ("Jo", not "jo").
SHORTEST_NAME_PART = 3


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
        agents: list[str] = (),
    ) -> None:
        self.address = address if address and address != label else None
        self.label = label
        names, identities = set(), set()
        # A name the citizen wrote (their own, a neighbour's, "chez marie dupont", a
        # street's) is taken out of every public text, unless the public place or the
        # catalog says it too.
        allowed = allowed_words(public_words)
        for text in private_texts:
            names.update(names_in(text, allowed))
        for citizen in people:
            if citizen.erased_at is None:
                identities.update(_identities(citizen))
            name = (citizen.display_name or "").strip()
            if len(name) >= 2:
                names.add(name)
                names.update(p for p in re.split(r"[\s,]+", name) if len(p) >= SHORTEST_NAME_PART)
        # The agents who wrote on the report sign with their name ("Sophie, voirie").
        for name in agents:
            names.add(name.strip())
            names.update(p for p in re.split(r"[\s,._]+", name) if _may_be_name(p, allowed))
        # Longest first, so "Hugo Lemoine" goes before "Hugo".
        known = sorted((n for n in names | identities if n), key=len, reverse=True)
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
        text = DIGIT_RUN.sub(_number, text)
        if self.known is not None:
            text = self.known.sub(REMOVED, text)
        return _tidy(text)


def _number(match: re.Match) -> str:
    """A run of digits as the public may read it: a date or a house number stays, a phone
    number (8 digits or more, or international) goes."""
    run = match.group()
    date = DATE.match(run)
    if date and date.end() == len(run):
        return run
    if date and run[date.end()].isspace():  # "12/03/2026 14 h", "le 12/03/2026 06 11 …"
        return run[: date.end()] + DIGIT_RUN.sub(_number, run[date.end() :])
    digits = sum(c.isdigit() for c in run)
    international = run.lstrip("( ").startswith("+")
    if digits > LONGEST_KEPT_RUN or (international and digits >= SHORTEST_INTERNATIONAL):
        return REMOVED
    return run


# --- names -----------------------------------------------------------------------------

WORD = re.compile(r"[^\W\d_][\w'’-]*")
SENTENCE_END = '.!?\n:;«"“('


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words that announce a person's name, whatever its case: "chez marie dupont", "M.
# dupont", "je m'appelle hugo". After the weak ones ("je suis passé", "i am sorry") the
# words are a name only when punctuation, "et" or the end follows them.
NAME_CUES = frozenset({
    "chez", "madame", "monsieur", "mademoiselle", "mme", "mlle", "mr", "mrs", "ms", "miss",
    "mister", "famille", "je m'appelle", "je m’appelle", "my name is", "de la part de",
    "signé", "m", "dr", "docteur",
})  # fmt: skip
WEAK_NAME_CUES = frozenset({"je suis", "moi c'est", "moi c’est", "i am", "i'm", "i’m"})
# What follows a weak cue is a state, not a name, when it ends so ("désolé", "vraiment").
STATE_ENDINGS = ("é", "ée", "és", "ées", "ment", "ed", "ing")
# Cues that are names only with their dot ("M. dupont", not "3 m de large").
DOTTED_CUES = frozenset({"m", "dr"})
# Words that are never a name: a cue's or a first name's words stop at them.
NOT_NAMES = _word_set("""
    a à ai as au aux avec avant après c ce ces cet cette ceux chez dans de des devant
    derrière du elle elles en entre est et eu eux il ils j je l la le les leur leurs lui
    m ma mais me mes moi mon n ne ni nos notre nous on ou où par pas pour près qu que qui
    sa se ses si son sous sur ta te tes toi ton tous tout toute toutes tu un une vers vos
    votre vous y ça là ici très trop plus moins bien mal déjà encore toujours jamais aussi
    même depuis pendant sans car donc puis alors quand comme ok merci svp stp bonjour
    bonsoir oui non rien personne quelqu'un voisin voisine voisins maire mairie service
    propriétaire locataire riverain riveraine habitant habitante école
    rue avenue boulevard bd place impasse allée chemin route quai square cours passage
    lotissement résidence hameau lieu-dit parking parc pont sentier venelle ruelle
    the an and or of in on at to for with by from my your his her our their me you he she
    we they it is am are was were be been not no yes please thanks hello sorry
    hier demain aujourd'hui matin soir midi minuit nuit lundi mardi mercredi jeudi vendredi
    samedi dimanche semaine mois année tôt tard maintenant today yesterday tomorrow
""")
# First names often given in France: one on its own at a sentence's start ("Marie a
# appelé") or lowercase ("j'ai vu jean") is a name. Those that are also words ("pierre",
# "rose") count only capitalised.
FIRST_NAMES = _word_set("""
    adam adrien agnès alain alexandre alexis alice alicia amandine amélie anaïs andré
    andrée anne annie antoine arnaud arthur audrey aurélie aurélien baptiste benjamin
    benoît bernard bertrand brigitte bruno camille caroline catherine cécile céline
    charles charlotte chantal chloé christian christiane christine christophe clara
    claude clément colette corinne cyril damien daniel danielle david delphine denis
    denise didier dominique dylan éliane élise élodie emma emmanuel emmanuelle enzo éric
    estelle étienne eugénie éva fabien fabienne fabrice florence florian francis franck
    françois françoise frédéric frédérique gabriel gaël gérard germaine ghislaine gilbert
    gilles ginette guillaume guy hélène henri hervé hugo inès isabelle jacqueline jacques
    jean jeanne jérôme joël joëlle jonathan josé joseph josette julie julien juliette
    justine karine kévin laetitia laura laure laurence laurent léa léo léon lina louis
    louise luc lucas lucie lucien lucienne lydie madeleine manon marc marcel marguerite
    maria marie martine mathieu mathilde matthieu maxime mélanie michel michèle micheline
    mickaël monique morgane muriel mylène nadine nathalie nicolas nicole noah noémie
    océane odette olivier pascal pascale patrice patricia patrick paul paulette philippe
    quentin raphaël raymond régis rémi renée richard robert roger romain sabine sandrine
    sarah sébastien serge simon simone solange sophie stéphane stéphanie suzanne sylvain
    sylvie thérèse thierry thomas valérie vanessa véronique vincent virginie xavier yann
    yannick yves yvette yvonne zoé
    pierre rose claire olive aurore france marine jade ambre
""")
COMMON_WORD_NAMES = _word_set("pierre rose claire olive aurore france marine jade ambre")
# A street's name in a citizen's text ("3 impasse des lilas", "rue de la paix") is private
# unless the public place says it: after one of these, with a house number before it or
# "de", "des"... after it.
STREET_KINDS = _word_set("""
    rue avenue boulevard bd place impasse allée chemin route quai square cours passage
    lotissement résidence hameau venelle ruelle sentier lieu-dit
""")
STREET_PARTICLES = frozenset({"de", "du", "des", "la", "le", "les"})
HOUSE_NUMBER_BEFORE = re.compile(r"\d+(?:[ \t]*(?:bis|ter|[a-d]))?[ \t,]*$", re.IGNORECASE)


def allowed_words(public_words: list[str]) -> set[str]:
    """The words the public may read anyway (catalog, public place), casefolded, and the
    parts of their compounds ("nid-de-poule": nid, poule)."""
    allowed = set()
    for text in public_words:
        for word in WORD.findall(text or ""):
            allowed.add(word.casefold())
            allowed.update(p for p in re.split(r"['’-]", word.casefold()) if len(p) >= 3)
    return allowed


def _may_be_name(word: str, allowed: set[str]) -> bool:
    folded = word.casefold()
    parts = [p for p in re.split(r"['’-]", folded) if len(p) >= SHORTEST_NAME_PART]
    return (
        len(word) >= SHORTEST_NAME_PART
        and not any(c.isdigit() for c in word)
        and folded not in NOT_NAMES
        and folded not in allowed
        and not any(part in allowed for part in parts)
    )


def names_in(text: str | None, allowed: set[str] = frozenset()) -> set[str]:
    """The names (people's, streets') a citizen's text gives, in any case.

    A capitalised word inside a sentence; a sentence's first word before one ("Marie
    Dupont a appelé"); a first name anywhere; the words after a cue ("chez", "M.", "je
    m'appelle"); a street's name after a house number or "rue de". `allowed` (casefolded)
    are words the public may read (the catalog's, the public place's): never names.
    """
    return _NameFinder(text or "", allowed).names()


def _starts_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip(" \t")
    return not before or before[-1] in SENTENCE_END


class _NameFinder:
    def __init__(self, text: str, allowed: set[str]) -> None:
        self.text, self.allowed = text, allowed
        self.words = list(WORD.finditer(text))
        self.found: set[str] = set()

    def names(self) -> set[str]:
        for index, match in enumerate(self.words):
            word = match.group()
            folded = word.casefold()
            capitalised = word[0].isupper()
            if capitalised and self.may_be_name(index):
                if not _starts_sentence(self.text, match.start()):
                    self.found.add(word)  # "devant chez Hugo", "rue Jourdan"
                elif self.next_is_capitalised_name(index):
                    self.found.add(word)  # "Marie Dupont a appelé"
            first_name = capitalised or folded not in COMMON_WORD_NAMES
            if folded in FIRST_NAMES and first_name and self.may_be_name(index):
                self.found.add(word)
                self.take_after(index, 1, capitalised=capitalised)  # the surname
            cue = self.cue_ending_at(index)
            if cue is not None:
                self.take_after(index, 2, weak=cue in WEAK_NAME_CUES)
            if folded in STREET_KINDS:
                self.street_name(index)
        return self.found

    def may_be_name(self, index: int) -> bool:
        return _may_be_name(self.words[index].group(), self.allowed)

    def joined(self, index: int, *, dot: bool = False) -> bool:
        """Whether the word follows the one before it with only spaces (a dot) between."""
        if index == 0 or index >= len(self.words):
            return False
        between = self.text[self.words[index - 1].end() : self.words[index].start()]
        return bool(re.fullmatch(r"\.?[ \t]+" if dot else r"[ \t]+", between))

    def next_is_capitalised_name(self, index: int) -> bool:
        following = index + 1
        return (
            self.joined(following)
            and self.words[following].group()[0].isupper()
            and self.may_be_name(following)
        )

    def cue_ending_at(self, index: int) -> str | None:
        """The cue ("chez", "je m'appelle", "my name is") whose last word this is."""
        for length in (4, 3, 2, 1):
            first = index - length + 1
            if first < 0 or not all(self.joined(i) for i in range(first + 1, index + 1)):
                continue
            phrase = " ".join(w.group().casefold() for w in self.words[first : index + 1])
            if phrase in DOTTED_CUES and not self.text.startswith(".", self.words[index].end()):
                continue
            if phrase in NAME_CUES or phrase in WEAK_NAME_CUES:
                return phrase
        return None

    def take_after(
        self, index: int, most: int, *, weak: bool = False, capitalised: bool | None = None
    ) -> None:
        """Takes the name of at most `most` words that follows the word at `index`."""
        taken = []
        for following in range(index + 1, index + 1 + most):
            if not self.joined(following, dot=following == index + 1 and capitalised is None):
                break
            word = self.words[following].group()
            if not self.may_be_name(following):
                break
            if capitalised is not None and word[0].isupper() != capitalised:
                break  # "Marie Dupont", "marie dupont"; not "Pierre tombée"
            taken.append(word)
        if taken and weak and not self.looks_like_a_name(index + len(taken), taken):
            return  # "je suis passé devant", "je suis inquiet.", "je suis vraiment désolé"
        self.found.update(taken)

    def looks_like_a_name(self, last: int, taken: list[str]) -> bool:
        """Whether the words after a weak cue are a name: a first and last name, or
        capitalised, with nothing but punctuation, "et" or the end after them."""
        rest = self.text[self.words[last].end() :].lstrip(" \t")
        if rest[:1].isalnum() and not re.match(r"(?:et|and)\b", rest, re.IGNORECASE):
            return False
        if any(word.casefold().endswith(STATE_ENDINGS) for word in taken):
            return False
        return len(taken) > 1 or taken[0][0].isupper()

    def street_name(self, index: int) -> None:
        """A street's name after its kind: "3 impasse des lilas", "rue de la paix"."""
        start = self.words[index].start()
        numbered = bool(HOUSE_NUMBER_BEFORE.search(self.text[max(0, start - 24) : start]))
        following = index + 1
        while (
            self.joined(following) and self.words[following].group().casefold() in STREET_PARTICLES
        ):
            following += 1
        if numbered or following > index + 1:
            for name in range(following, following + 3):
                if not self.joined(name) or not self.may_be_name(name):
                    break
                self.found.add(self.words[name].group())


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
