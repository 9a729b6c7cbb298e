"""The flow table, its states and its diagram agree with what the steps really return.

The steps' code is read with `ast`: every `Outcome(replies, State.X)` a step builds, and
the states of the steps it calls, give the states it can move to. The Mermaid diagram
in bot/flow.py must show exactly those moves (commands and fallbacks apart).
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from bot import flow
from models.citizen import State

ROOT = Path(__file__).resolve().parent.parent
STEP_DIRS = [ROOT / "handlers", ROOT / "bot", ROOT / "services"]


def test_every_state_has_its_row_and_every_row_is_a_state() -> None:
    assert set(flow.FLOW) == set(State)


def test_an_unknown_state_raises_instead_of_falling_back() -> None:
    with pytest.raises(flow.UnknownState, match="tea_time"):
        flow.row_of("tea_time")


def _outcome_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Outcome":
            state = node.args[1] if len(node.args) > 1 else None
            for keyword in node.keywords:
                if keyword.arg == "state":
                    state = keyword.value
            yield node, state


def test_no_step_returns_a_state_as_a_bare_string() -> None:
    bare = []
    for folder in STEP_DIRS:
        for path in folder.glob("*.py"):
            for node, state in _outcome_calls(ast.parse(path.read_text())):
                if isinstance(state, ast.Constant):
                    bare.append(f"{path.name}:{node.lineno}: {state.value!r}")
    assert bare == []


def _states_each_function_returns() -> dict[str, set[str]]:
    """module.function -> the states it (or what it calls) can return."""
    direct: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    modules = {p.stem: p for p in (ROOT / "handlers").glob("*.py")}
    for module, path in modules.items():
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            name = f"{module}.{node.name}"
            direct[name] = {
                state.attr.lower()
                for _, state in _outcome_calls(node)
                if isinstance(state, ast.Attribute) and getattr(state.value, "id", "") == "State"
            }
            calls[name] = set()
            for call in ast.walk(node):
                if not isinstance(call, ast.Call):
                    continue
                func = call.func
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                    calls[name].add(f"{func.value.id}.{func.attr}")
                elif isinstance(func, ast.Name):
                    calls[name].add(f"{module}.{func.id}")
    reach = {name: set(states) for name, states in direct.items()}
    changed = True
    while changed:  # transitive closure over the calls between steps
        changed = False
        for name, callees in calls.items():
            for callee in callees & reach.keys():
                if not reach[callee] <= reach[name]:
                    reach[name] |= reach[callee]
                    changed = True
    return reach


def _diagram_edges() -> set[tuple[str, str]]:
    edges = set()
    for line in (flow.__doc__ or "").splitlines():
        match = re.match(r"\s*(\[\*\]|\w+) --> (\w+)", line)
        if match:
            edges.add((match.group(1), match.group(2)))
    return edges


def _table_edges() -> set[tuple[str, str]]:
    reach = _states_each_function_returns()
    edges = set()
    for state, row in flow.FLOW.items():
        for step in row.accepts.values():
            name = f"{step.__module__.rsplit('.', 1)[-1]}.{step.__name__}"
            edges |= {(str(state), target) for target in reach[name] if target != state}
    return edges


def test_the_diagram_shows_every_move_the_steps_make_and_no_other() -> None:
    diagram = _diagram_edges()
    states = {str(s) for s in State}
    named = {a for a, _ in diagram} | {b for _, b in diagram}
    assert named - states - {"[*]"} == set(), "the diagram names states that do not exist"
    drawn = {(a, b) for a, b in diagram if a != "[*]" and a != b}
    table = _table_edges() | {(str(a), str(b)) for a, b in flow.OTHER_MOVES}
    assert sorted(table - drawn) == [], "moves the steps make, missing from the diagram"
    assert sorted(drawn - table) == [], "moves drawn in the diagram that no step makes"


def test_the_step_reading_sees_the_steps() -> None:
    """The reading above is not vacuous: it finds the moves of a step it is shown."""
    reach = _states_each_function_returns()
    assert reach["location.take_address"] >= {"location", "location_confirm", "confirm"}
    assert inspect.getsource(flow).count("-->") >= len(_diagram_edges())


def test_a_reports_status_is_written_in_one_function_only() -> None:
    """Every status change goes through services/reports.py move_status (the transition table)."""
    writers = []
    for folder in ("bot", "services", "handlers", "console", "webhooks", "api", "models"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef):
                    for target in (
                        t for n in ast.walk(node) if isinstance(n, ast.Assign) for t in n.targets
                    ):
                        if (
                            isinstance(target, ast.Attribute)
                            and target.attr == "status"
                            and getattr(target.value, "id", "") == "report"
                        ):
                            writers.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert writers == ["services/reports.py:move_status"]


def test_no_product_code_names_a_status_or_an_event_kind_as_a_bare_string() -> None:
    """Statuses, event kinds and states are named by their enums (Status.RESOLVED,
    EventKind.GEOCODED, State.START), so a typo fails at import and grep finds every
    reader: no bare "resolved" compared to a report's status or an event's kind, as a
    label table's keys, in a list of kinds, or as a status=/kind=/state= argument."""
    from models.report import EventKind, Status

    statuses, kinds, states = {*map(str, Status)}, {*map(str, EventKind)}, {*map(str, State)}
    by_attribute = {"status": statuses, "from_status": statuses, "to_status": statuses,
                    "kind": kinds}  # fmt: skip
    by_keyword = {**by_attribute, "state": states}

    def strings(node) -> list[str]:
        items = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
        return [n.value for n in items if isinstance(n, ast.Constant) and isinstance(n.value, str)]

    def named(node) -> set[str]:  # what a compared side is: x.status, kind
        if isinstance(node, ast.Attribute):
            return by_attribute.get(node.attr, set())
        return kinds if isinstance(node, ast.Name) and node.id == "kind" else set()

    def bare_in(tree: ast.AST) -> list[tuple[int, str]]:
        found = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                names = set().union(*map(named, sides))
                found += [(node.lineno, s) for side in sides for s in strings(side) if s in names]
            elif isinstance(node, ast.Dict):
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                for vocabulary in (statuses, kinds):
                    if len(keys) >= 2 and sum(k in vocabulary for k in keys) * 2 > len(keys):
                        found += [(node.lineno, k) for k in keys if k in vocabulary]
            elif isinstance(node, ast.Call):
                for keyword in node.keywords:
                    said = strings(keyword.value) if isinstance(keyword.value, ast.Constant) else []
                    found += [
                        (node.lineno, s) for s in said if s in by_keyword.get(keyword.arg, ())
                    ]
            elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                said = strings(node)
                for vocabulary in (statuses, kinds):
                    if len(said) >= 2 and len(said) == len(node.elts) and set(said) <= vocabulary:
                        found += [(node.lineno, s) for s in said]
        return sorted(set(found))

    # The reading is not vacuous: it finds each shape it looks for.
    sample = ('if e.kind == "geocoded" or r.status in ("new", "closed"): pass\n'
              'LABELS = {"new": 1, "resolved": 2}\nKINDS = ("note", "reply")\n'
              'q.values(state="start", status="resolved")\n'
              'if zone.kind == "commune" or far.status == "open": pass\n')  # fmt: skip
    assert [s for _, s in bare_in(ast.parse(sample))] == [
        "closed", "geocoded", "new", "new", "resolved", "note", "reply", "resolved", "start",
    ]  # fmt: skip
    bare = []
    for folder in ("bot", "handlers", "services", "models", "webhooks", "api", "console", "public"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" not in path.parts:
                where = path.relative_to(ROOT)
                bare += [
                    f"{where}:{line}: {s!r}" for line, s in bare_in(ast.parse(path.read_text()))
                ]
    assert bare == []
