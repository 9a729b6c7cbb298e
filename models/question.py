"""A category's short questions (at most two), kept as JSON on the category, and the
answers, kept as JSON on the report.

A question is data: its code (stable, the Open311 attribute's code), its kind, its
French and English wording, its options (a choice) and what makes an answer urgent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

MAX_QUESTIONS = 2


class Kind(StrEnum):
    YES_NO = "yesno"
    CHOICE = "choice"
    NUMBER = "number"
    TEXT = "text"


@dataclass(frozen=True)
class Option:
    code: str
    fr: str
    en: str

    def label(self, language: str) -> str:
        return self.en if language == "en" else self.fr


@dataclass(frozen=True)
class Question:
    code: str
    kind: Kind
    fr: str
    en: str
    options: tuple[Option, ...] = ()
    # What makes the report urgent: "yes" (yes/no), a number above this, these options.
    urgent_if_yes: bool = False
    urgent_above: float | None = None
    urgent_options: tuple[str, ...] = field(default_factory=tuple)

    def wording(self, language: str) -> str:
        return self.en if language == "en" else self.fr

    def option(self, code: str) -> Option | None:
        return next((o for o in self.options if o.code == code), None)

    @property
    def has_rule(self) -> bool:
        return self.urgent_if_yes or self.urgent_above is not None or bool(self.urgent_options)

    def to_json(self) -> dict:
        data = asdict(self)
        data["kind"] = str(self.kind)
        data["options"] = [asdict(o) for o in self.options]
        data["urgent_options"] = list(self.urgent_options)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Question:
        return cls(
            code=data["code"],
            kind=Kind(data["kind"]),
            fr=data.get("fr") or "",
            en=data.get("en") or data.get("fr") or "",
            options=tuple(Option(**o) for o in data.get("options") or ()),
            urgent_if_yes=bool(data.get("urgent_if_yes")),
            urgent_above=data.get("urgent_above"),
            urgent_options=tuple(data.get("urgent_options") or ()),
        )


def questions_of(stored: list | None) -> tuple[Question, ...]:
    """The questions a category's JSON column holds, in the order they are asked."""
    return tuple(Question.from_json(q) for q in (stored or ())[:MAX_QUESTIONS])


@dataclass(frozen=True)
class Answer:
    """One answer as the report keeps it: the question's wording at the time, the value
    (yes/no, an option's code, a number, words) and, for a choice, the option's labels."""

    code: str
    kind: str
    fr: str
    en: str
    value: str | float
    label_fr: str = ""
    label_en: str = ""

    def question(self, language: str) -> str:
        return self.en if language == "en" else self.fr


def answers_of(stored: list | None) -> list[Answer]:
    return [Answer(**a) for a in stored or ()]
