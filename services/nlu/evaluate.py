"""Scores a reader on labelled messages (`text`, `category`, optional `street`).

The label read for a message is `emergency` when the numbers were given, `none` when
the welcome and menu were, else the likeliest category. Top-3: that, or the category
among the three offered when unsure.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.nlu.classifier import EMERGENCY, NONE
from services.nlu.reader import Reader, Reading, Verdict
from services.texts import fold


@dataclass(frozen=True)
class Labelled:
    text: str
    category: str
    street: str = ""


def read_labelled(path: str | Path) -> list[Labelled]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            Labelled(row["text"], row["category"].strip(), (row.get("street") or "").strip())
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def label_of(reading: Reading) -> str:
    if reading.verdict == Verdict.EMERGENCY:
        return EMERGENCY
    if reading.verdict == Verdict.NONE or reading.category is None:
        return NONE
    return reading.category


@dataclass
class Scores:
    total: int = 0
    top1: int = 0
    top3: int = 0
    named: int = 0  # messages that name a place
    place_found: int = 0
    place_right: int = 0
    non_reports: int = 0
    non_reports_taken: int = 0  # a non-report offered a category instead of the menu
    emergencies: int = 0
    emergencies_answered: int = 0
    false_alarms: int = 0  # a report answered with the emergency numbers
    sure: int = 0
    sure_right: int = 0
    # expected -> read -> count
    confusion: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def rate(self, part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    def as_dict(self) -> dict:
        return {
            "messages": self.total,
            "top1": round(self.rate(self.top1, self.total), 4),
            "top3": round(self.rate(self.top3, self.total), 4),
            "place_found": round(self.rate(self.place_found, self.named), 4),
            "place_right": round(self.rate(self.place_right, self.named), 4),
            "non_reports_taken": self.non_reports_taken,
            "emergencies_answered": f"{self.emergencies_answered}/{self.emergencies}",
            "false_alarms": self.false_alarms,
            "sure": round(self.rate(self.sure, self.total), 4),
            "sure_right": round(self.rate(self.sure_right, self.sure), 4),
        }


def score(reader: Reader, rows: Iterable[Labelled], codes: set[str] | None = None) -> Scores:
    scores = Scores()
    for row in rows:
        reading = reader.read(row.text, codes)
        add(scores, row, reading)
    return scores


def add(scores: Scores, row: Labelled, reading: Reading) -> None:
    read = label_of(reading)
    scores.total += 1
    scores.confusion[row.category][read] += 1
    hit = read == row.category
    scores.top1 += hit
    offered = reading.verdict in (Verdict.SURE, Verdict.UNSURE)
    scores.top3 += hit or (offered and row.category in reading.offered)
    if reading.verdict == Verdict.SURE:
        scores.sure += 1
        scores.sure_right += hit
    if row.category == NONE:
        scores.non_reports += 1
        scores.non_reports_taken += offered
    elif row.category == EMERGENCY:
        scores.emergencies += 1
        scores.emergencies_answered += reading.verdict == Verdict.EMERGENCY
    elif reading.verdict == Verdict.EMERGENCY:
        scores.false_alarms += 1
    if row.street:
        scores.named += 1
        if reading.place is not None:
            scores.place_found += 1
            found = reading.place.street or reading.place.label
            scores.place_right += fold(found) == fold(row.street)


def confusion_lines(scores: Scores, labels: Sequence[str] | None = None) -> list[str]:
    """One line per expected label: how many, how many right, what it was read as."""
    lines = []
    for expected in labels or sorted(scores.confusion):
        read = scores.confusion.get(expected, Counter())
        total = sum(read.values())
        wrong = ", ".join(f"{label} {n}" for label, n in read.most_common() if label != expected)
        lines.append(f"{expected:<16} {read[expected]:>4}/{total:<4} {wrong}")
    return lines
