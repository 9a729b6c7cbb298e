"""Mutants of real payloads, field by field, for the fuzz tests of every inbound endpoint.

`json_mutants(payload)` enumerates, for every value at every depth of a JSON payload
(the root included): the value replaced by each of `WRONG_VALUES`, its key removed,
an unknown key added beside it (dicts), control characters and NUL put into it
(strings). `form_mutants(form)` does the same for a flat form (Twilio, Open311, the
link page): each value emptied, made very long, given control characters, made
non-numeric (or out of range) where a number is expected, repeated (a list), removed,
plus unknown keys. The `*_combos` strategies apply several such changes at once,
with values drawn by hypothesis, for what one change at a time cannot reach.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

Path = tuple[str | int, ...]

LONG = "x" * 5000
CONTROL = "\x00\x07\x1b\r\n\t\u202e\ufeff\ud7ff"
UNKNOWN_KEY = "zz_unknown"
HUGE_INT = 10**30  # wider than any column or 64-bit id
# What a value of the wrong JSON type looks like, in each JSON type.
WRONG_VALUES: tuple[Any, ...] = (None, True, 0, -1, HUGE_INT, 1e308, "", LONG, ["x"], {"x": 1})
# Form fields Twilio (or a client) sends as numbers; other fields get a few of these too.
NUMERIC_FIELDS = frozenset(
    {"NumMedia", "NumSegments", "ErrorCode", "Latitude", "Longitude", "lat", "lon", "long"}
)
NOT_NUMBERS = ("abc", "-1", "1e308", "NaN", "inf", "99999999999999999999", "1,5", " 3 ")
# Fields a form may lack that change what the endpoint does when present.
EXTRA_FORM_FIELDS = {"Latitude": "abc", "Longitude": "", "MediaUrl0": LONG, "NumMedia": "5"}


@dataclass(frozen=True)
class Mutant:
    """One changed payload and a label saying what was changed."""

    label: str
    body: Any

    def __repr__(self) -> str:  # the label is what a failure report should show
        return f"Mutant({self.label})"


# --- JSON --------------------------------------------------------------------------------


def walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) of a JSON document, the root first."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from walk(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from walk(child, (*path, index))


def get_at(document: Any, path: Path) -> Any:
    for step in path:
        document = document[step]
    return document


def resolves(document: Any, path: Path) -> bool:
    """Tells whether `path` still leads somewhere (an earlier change may have cut it)."""
    for step in path:
        in_dict = isinstance(document, dict) and step in document
        in_list = isinstance(document, list) and isinstance(step, int) and step < len(document)
        if not (in_dict or in_list):
            return False
        document = document[step]
    return True


def replaced(document: Any, path: Path, value: Any) -> Any:
    """A copy of `document` with the value at `path` replaced."""
    if not path:
        return copy.deepcopy(value)
    result = copy.deepcopy(document)
    get_at(result, path[:-1])[path[-1]] = copy.deepcopy(value)
    return result


def removed(document: Any, path: Path) -> Any:
    """A copy of `document` without the key (or list item) at `path`."""
    result = copy.deepcopy(document)
    del get_at(result, path[:-1])[path[-1]]
    return result


def name(path: Path) -> str:
    return ".".join(str(step) for step in path) or "<root>"


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type (True == 1 in Python, not in JSON)."""
    return type(a) is type(b) and a == b


def with_control(text: str) -> str:
    """The text with control characters in its middle and a NUL at its end."""
    middle = len(text) // 2
    return text[:middle] + CONTROL + text[middle:] + "\x00"


def json_mutants(payload: Any) -> Iterator[Mutant]:
    """Every single-change mutant of a JSON payload, field by field, recursively."""
    for path, value in walk(payload):
        where = name(path)
        for wrong in WRONG_VALUES:
            if not same(wrong, value):
                yield Mutant(f"{where} -> {_short(wrong)}", replaced(payload, path, wrong))
        if path:
            yield Mutant(f"{where} removed", removed(payload, path))
        if isinstance(value, dict):
            yield Mutant(
                f"{where} + unknown key", replaced(payload, path, {**value, UNKNOWN_KEY: [{}]})
            )
        elif isinstance(value, str):
            yield Mutant(f"{where} + control chars", replaced(payload, path, with_control(value)))
        elif isinstance(value, list) and value:
            yield Mutant(f"{where} -> []", replaced(payload, path, []))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 20 else f"{text[:8]}...({len(text)} chars)"


json_values = st.recursive(
    st.sampled_from(WRONG_VALUES)
    | st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def json_combos(draw, payload: Any, max_changes: int = 4) -> Mutant:
    """Several changes at once: values replaced by anything, keys removed or added."""
    paths = [path for path, _ in walk(payload)]
    document, labels = copy.deepcopy(payload), []
    for _ in range(draw(st.integers(1, max_changes))):
        path = draw(st.sampled_from(paths))
        if not resolves(document, path):
            continue
        action = draw(st.sampled_from(["replace", "remove", "add", "control"]))
        target = get_at(document, path)
        if action == "remove" and path:
            document = removed(document, path)
        elif action == "add" and isinstance(target, dict):
            key = draw(st.text(max_size=8))
            document = replaced(document, path, {**target, key: draw(json_values)})
        elif action == "control" and isinstance(target, str):
            document = replaced(document, path, with_control(target))
        else:
            action = "replace"
            document = replaced(document, path, draw(json_values))
        labels.append(f"{name(path)} {action}")
    return Mutant(", ".join(labels) or "unchanged", document)


# --- forms (flat maps of strings) ------------------------------------------------------------

FormValue = str | list[str]


def form_mutants(
    form: dict[str, str], numeric: frozenset[str] = NUMERIC_FIELDS
) -> Iterator[Mutant]:
    """Every single-change mutant of a flat form; a list value is a repeated field."""
    for key, value in form.items():
        changes: list[tuple[str, FormValue]] = [
            ("empty", ""),
            ("long", LONG),
            ("control chars", with_control(value)),
            ("repeated", [value, "other"]),
        ]
        if key in numeric or _looks_numeric(value):
            changes += [(f"-> {wrong!r}", wrong) for wrong in NOT_NUMBERS]
        for label, wrong in changes:
            if wrong != value:
                yield Mutant(f"{key} {label}", {**form, key: wrong})
        yield Mutant(f"{key} removed", {k: v for k, v in form.items() if k != key})
    yield Mutant("+ unknown key", {**form, UNKNOWN_KEY: "x"})
    for key, value in EXTRA_FORM_FIELDS.items():
        if key not in form:
            yield Mutant(f"+ {key}={_short(value)}", {**form, key: value})


def _looks_numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


form_values = st.one_of(
    st.sampled_from(["", LONG, *NOT_NUMBERS]),
    st.text(max_size=40),
    st.lists(st.text(max_size=10), min_size=2, max_size=3),
)


@st.composite
def form_combos(draw, form: dict[str, str], max_changes: int = 4) -> Mutant:
    """Several form fields changed at once: values drawn by hypothesis, keys removed, added."""
    keys = sorted({*form, *EXTRA_FORM_FIELDS, UNKNOWN_KEY})
    result: dict[str, FormValue] = dict(form)
    labels = []
    for _ in range(draw(st.integers(1, max_changes))):
        key = draw(st.sampled_from(keys))
        if key in result and draw(st.booleans()):
            del result[key]
            labels.append(f"{key} removed")
        else:
            result[key] = draw(form_values)
            labels.append(f"{key} replaced")
    return Mutant(", ".join(labels), result)
