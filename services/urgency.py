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
from dataclasses import dataclass

from sqlmodel import Session

from models.question import Answer, Kind, Question
from models.report import Priority, Report
from models.settings import get_setting, set_setting
from services import audit
from services.audit import Actor
from services.catalog import CategoryInfo
from services.nlu.reader import sounds_like_emergency
from services.nlu.text import words
from services.reports import set_priority

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
    audit.record(session, actor, audit.Thing.CATEGORY, "danger words", audit.Action.UPDATED,
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
