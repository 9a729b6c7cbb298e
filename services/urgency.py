"""What makes a report urgent, and the answers to a category's questions.

A report is urgent when its category says so, when an answer says so (a question's rule:
yes, a number above N, one of the listed choices), or when its description names a danger:
the town's danger words (editable in the console), or what the free-text reader already
treats as a danger to people (services/nlu reader.sounds_like_emergency: gas, fire, someone
hurt, a fallen electric cable), for which the emergency numbers come first. Every path goes
through services.reports.set_priority, with the reason kept in the report's history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sqlmodel import Session

from models.question import Answer, Kind, Option, Question
from models.report import Priority, Report
from models.settings import get_setting, set_setting
from services import audit
from services.audit import Actor
from services.catalog import CategoryInfo
from services.nlu.reader import sounds_like_emergency
from services.nlu.text import words
from services.reports import set_priority
from services.texts import N_, fold

DANGER_WORDS = "danger_words"  # the town setting: a list of phrases
# Dangers that are not an emergency call but should not wait their turn. Gas, fire, an
# injured person, a fallen electric cable: the reader's own rule (above) catches those.
SHIPPED_DANGER_WORDS = (
    "arbre tombé",
    "branche tombée",
    "câble à terre",
    "fil à terre",
    "poteau tombé",
    "plaque ouverte",
    "regard ouvert",
    "bouche d'égout ouverte",
    "inondation",
    "inondé",
    "chaussée effondrée",
    "fuite d'eau",
    "fallen tree",
    "tree down",
    "cable down",
    "wire down",
    "open manhole",
    "manhole cover missing",
    "flooding",
    "flooded",
    "sinkhole",
)
MAX_DANGER_WORDS = 100
MAX_TEXT_ANSWER = 100
# Reasons kept in the report's history (the event's JSON) when it becomes urgent.
CATEGORY, ANSWER, DANGER, PEOPLE = "category", "answer", "danger_words", "danger_to_people"
# A number, then perhaps a unit or a few words ("15", "12,5 cm", "about 20"; not "dix").
NUMBER_RE = re.compile(r"^\D{0,12}?([+-]?\d+(?:[.,]\d+)?)\s*[^\d\s]{0,12}(?:\s+\D*)?$")


# --- danger words ----------------------------------------------------------------------


def danger_words(settings: dict) -> list[str]:
    """The town's danger words (a catalog snapshot's settings), or the shipped ones."""
    stored = settings.get(DANGER_WORDS)
    return list(stored) if isinstance(stored, list) else list(SHIPPED_DANGER_WORDS)


def set_danger_words(session: Session, actor: Actor, text: str) -> list[str]:
    """Saves the town's danger words (one per line or comma-separated), audited."""
    phrases = [p.strip() for p in re.split(r"[\n,;]", text) if p.strip()]
    phrases = list(dict.fromkeys(p[:80] for p in phrases))[:MAX_DANGER_WORDS]
    before = danger_words({DANGER_WORDS: get_setting(session, DANGER_WORDS)})
    set_setting(session, DANGER_WORDS, phrases)
    audit.record(session, actor, audit.Thing.DANGER_WORDS, "town", audit.Action.UPDATED,
                 audit.changed({DANGER_WORDS: before}, {DANGER_WORDS: phrases}))  # fmt: skip
    return phrases


def _phrase_words(phrase: str) -> list[str]:
    return [w for w in words(phrase) if len(w) > 2] or words(phrase)


def names_a_danger(text: str, phrases: list[str]) -> str | None:
    """The first danger phrase the text contains: its words in order, each the start of a
    word said (`arbre tombé` in "un arbre est tombé", `plaque ouverte` in "plaque d'égout
    ouverte"), at most three words apart."""
    said = words(text)
    for phrase in phrases:
        wanted = _phrase_words(phrase)
        if wanted and _in_order(said, wanted):
            return phrase
    return None


def _in_order(said: list[str], wanted: list[str]) -> bool:
    for start, word in enumerate(said):
        if not word.startswith(wanted[0]):
            continue
        at, found = start, True
        for next_word in wanted[1:]:
            window = range(at + 1, min(at + 5, len(said)))
            at = next((i for i in window if said[i].startswith(next_word)), -1)
            if at < 0:
                found = False
                break
        if found:
            return True
    return False


def danger_to_people(text: str) -> bool:
    """Whether the words say people are in danger: the emergency numbers come first."""
    return sounds_like_emergency(text)


# --- answers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """An answer read: its value, or None when it does not fit (then re-asked)."""

    value: str | float | None


def read_number(text: str) -> float | None:
    """A number as residents type it ("12", "12,5", "15 cm"); None if there is none."""
    match = NUMBER_RE.match((text or "").strip())
    if match is None:
        return None
    number = float(match.group(1).replace(",", "."))
    return int(number) if number.is_integer() else number


def check(question: Question, text: str | None = None, choice: str | None = None) -> Checked:
    """Reads an answer for a question: a choice's value or typed words."""
    if question.kind == Kind.YES_NO:
        return Checked(choice if choice in ("yes", "no") else None)
    if question.kind == Kind.CHOICE:
        return Checked(choice if choice and question.option(choice) else None)
    if question.kind == Kind.NUMBER:
        return Checked(read_number(text or ""))
    words_typed = (text or "").strip()
    return Checked(words_typed[:MAX_TEXT_ANSWER] if words_typed else None)


def answer_of(question: Question, value: str | float) -> dict:
    """The answer as the report keeps it (models/question.py Answer)."""
    option = question.option(str(value)) if question.kind == Kind.CHOICE else None
    return Answer(
        code=question.code,
        kind=str(question.kind),
        fr=question.fr,
        en=question.en,
        value=value,
        label_fr=option.fr if option else "",
        label_en=option.en if option else "",
    ).__dict__


def makes_urgent(question: Question, value) -> bool:
    if question.kind == Kind.YES_NO:
        return question.urgent_if_yes and value == "yes"
    if question.kind == Kind.NUMBER:
        return question.urgent_above is not None and float(value) > question.urgent_above
    if question.kind == Kind.CHOICE:
        return value in question.urgent_options
    return False


# --- the decision ------------------------------------------------------------------------


def reasons(category: CategoryInfo, answers: list[dict], description: str,
            phrases: list[str]) -> dict:  # fmt: skip
    """Why a new report is urgent (empty: it is not): the category, an answer, the words."""
    found: dict = {}
    if category.urgent_by_default:
        found[CATEGORY] = category.code
    by_code = {q.code: q for q in category.questions}
    urgent_answers = [
        a["code"]
        for a in answers
        if a["code"] in by_code and makes_urgent(by_code[a["code"]], a["value"])
    ]
    if urgent_answers:
        found[ANSWER] = urgent_answers
    if danger_to_people(description):
        found[PEOPLE] = True
    phrase = names_a_danger(description, phrases)
    if phrase:
        found[DANGER] = phrase
    return found


def make_urgent(session: Session, report: Report, why: dict) -> bool:
    """Makes a new report urgent through services.reports.set_priority (False: it was)."""
    if not why or report.priority == Priority.URGENT:
        return False
    set_priority(session, report.id, Priority.URGENT, agent_id=None, reason=why)
    return True


# --- the console's question form ----------------------------------------------------------


class QuestionError(ValueError):
    """A question the admin wrote that cannot be asked; `text` is a msgid (%(name)s)."""

    def __init__(self, text: str, **values) -> None:
        self.text, self.values = text, values
        super().__init__(text % values if values else text)


YES_TYPED = {"oui", "yes", "o", "y", "1", "true"}


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", fold(text)).strip("_")[:28] or "q"
    code, n = base, 2
    while code in taken:
        code, n = f"{base}_{n}", n + 1
    taken.add(code)
    return code


def build_questions(slots: list[dict], existing: tuple[Question, ...]) -> list[dict]:
    """The questions as the category keeps them, from the form's slots (kind, fr, en,
    options: one per line `Français / English`, urgent: when an answer makes it urgent).
    A slot keeps its code (the Open311 attribute's) while its kind stays the same."""
    questions: list[dict] = []
    taken: set[str] = set()
    for n, slot in enumerate(slots, 1):
        kind = (slot.get("kind") or "").strip()
        if not kind:
            continue
        fr, en = (slot.get("fr") or "").strip(), (slot.get("en") or "").strip()
        if not fr:
            raise QuestionError(N_("Question %(n)d needs its French wording."), n=n)
        before = existing[n - 1] if n <= len(existing) else None
        code = before.code if before is not None and before.kind == kind else None
        code = _slug(en or fr, taken) if code is None or code in taken else code
        taken.add(code)
        options = _options(slot.get("options") or "", n) if kind == Kind.CHOICE else ()
        question = Question(code, Kind(kind), fr, en or fr, options)
        questions.append(_with_rule(question, (slot.get("urgent") or "").strip(), n).to_json())
    return questions


def _options(text: str, n: int) -> tuple[Option, ...]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise QuestionError(N_("Question %(n)d needs at least two choices, one per line."), n=n)
    taken: set[str] = set()
    options = []
    for line in lines[:8]:
        fr, _, en = (part.strip() for part in line.partition("/"))
        options.append(Option(_slug(en or fr, taken), fr, en or fr))
    return tuple(options)


def _with_rule(question: Question, said: str, n: int) -> Question:
    """The question with the rule the admin typed in 'urgent when'."""
    if not said:
        return question
    if question.kind == Kind.YES_NO:
        if fold(said) not in YES_TYPED:
            raise QuestionError(N_("Question %(n)d: write “oui” to make a yes urgent."), n=n)
        return replace(question, urgent_if_yes=True)
    if question.kind == Kind.NUMBER:
        above = read_number(said)
        if above is None:
            raise QuestionError(N_("Question %(n)d: urgent above which number?"), n=n)
        return replace(question, urgent_above=above)
    if question.kind == Kind.CHOICE:
        codes = []
        for word in (w.strip() for w in said.split(",") if w.strip()):
            index = read_number(word)
            found = next(
                (
                    o.code
                    for i, o in enumerate(question.options, 1)
                    if index == i or fold(word) in (fold(o.fr), fold(o.en))
                ),
                None,
            )
            if found is None:
                raise QuestionError(
                    N_("Question %(n)d: “%(word)s” is not one of its choices."), n=n, word=word
                )
            codes.append(found)
        return replace(question, urgent_options=tuple(codes))
    raise QuestionError(N_("Question %(n)d: a short text cannot make a report urgent."), n=n)


def form_slots(questions: tuple[Question, ...]) -> list[dict]:
    """The category's questions as the console's form shows them (build_questions' input)."""
    slots = []
    for question in questions:
        if question.kind == Kind.YES_NO:
            urgent = "oui" if question.urgent_if_yes else ""
        elif question.kind == Kind.NUMBER:
            urgent = "" if question.urgent_above is None else f"{question.urgent_above:g}"
        else:
            urgent = ", ".join(o.fr for o in question.options if o.code in question.urgent_options)
        slots.append(
            {
                "kind": str(question.kind),
                "fr": question.fr,
                "en": question.en,
                "options": "\n".join(f"{o.fr} / {o.en}" for o in question.options),
                "urgent": urgent,
            }
        )
    return slots
