"""The flow table, its states and its diagram agree with what the steps really return.

The steps' code is read with `ast`: every `Outcome(replies, State.X)` a step builds, every
`go_on(State.X)` (the report steps after X in REPORT_STEPS that may be asked next), and the
states of the steps it calls, give the states it can move to. The Mermaid diagram in
bot/flow.py must show exactly those moves (commands and fallbacks apart).
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
from pathlib import Path

import pytest

from bot import flow
from models.citizen import State
from services.types import InputKind, WorkerEvent

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


def _go_on_calls(tree: ast.AST):
    """The report step each `go_on(State.X, ...)` says is answered."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "go_on":
            after = node.args[0] if node.args else None
            if isinstance(after, ast.Attribute) and getattr(after.value, "id", "") == "State":
                yield node, after.attr.lower()
            else:
                yield node, None


def _asked_after(after: str) -> set[str]:
    """The report steps `flow.next_step` may ask after `after`: each one up to the first
    that is always asked (any before it may be skipped as already answered)."""
    states = [str(step.state) for step in flow.REPORT_STEPS]
    asked = set()
    for step in flow.REPORT_STEPS[states.index(after) + 1 :]:
        asked.add(str(step.state))
        if step.answered is None:
            break
    return asked


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
            for _, after in _go_on_calls(node):
                direct[name] |= _asked_after(after)
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


def test_the_report_goes_on_through_the_list_beside_the_diagram_only() -> None:
    """A report's order is REPORT_STEPS: a step says `go_on`, it never asks another step's
    question itself (the first step apart: the menu starts a report)."""
    owner = {str(s.state): s.ask.__module__.rsplit(".", 1)[-1] for s in flow.REPORT_STEPS}
    first = str(flow.REPORT_STEPS[0].state)
    found = []
    for path in sorted((ROOT / "handlers").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "next_step":
                found.append(f"{path.name}:{node.lineno}: a next_step of its own")
        for node, state in _outcome_calls(tree):
            name = state.attr.lower() if isinstance(state, ast.Attribute) else None
            if name in owner and name != first and owner[name] != path.stem:
                found.append(f"{path.name}:{node.lineno}: asks {name} ({owner[name]}.py's)")
        for node, after in _go_on_calls(tree):
            if after not in owner:
                found.append(f"{path.name}:{node.lineno}: go_on after {after}, not a report step")
    assert found == []


def test_the_report_steps_are_in_the_diagrams_order() -> None:
    steps = [str(step.state) for step in flow.REPORT_STEPS]
    assert steps[-1] == "confirm" and flow.REPORT_STEPS[-1].answered is None
    edges = _diagram_edges()
    assert [pair for pair in itertools.pairwise(steps) if pair not in edges] == []


def _is_a_kind(node: ast.AST) -> bool:
    """`x.kind`, `x.get("kind")` or `x["kind"]`."""
    if isinstance(node, ast.Attribute):
        return node.attr == "kind"
    if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "get" and node.args:
        return getattr(node.args[0], "value", None) == "kind"
    return isinstance(node, ast.Subscript) and getattr(node.slice, "value", None) == "kind"


def test_input_kinds_and_worker_events_are_named_not_bare_strings() -> None:
    inputs = {str(kind) for kind in InputKind}
    events = {str(kind) for kind in WorkerEvent}
    bare = []
    for folder in ("handlers", "bot"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                strings = []
                if isinstance(node, ast.Compare) and any(
                    _is_a_kind(side) for side in (node.left, *node.comparators)
                ):
                    strings = [n for side in (node.left, *node.comparators) for n in ast.walk(side)]
                    strings = [n for n in strings if getattr(n, "value", None) in inputs | events]
                elif isinstance(node, ast.Dict):
                    strings = [
                        value
                        for key, value in zip(node.keys, node.values, strict=True)
                        if getattr(key, "value", None) == "kind"
                        and getattr(value, "value", None) in events
                    ]
                bare += [f"{path.name}:{n.lineno}: {n.value!r}" for n in strings]
    assert bare == []


def test_who_answers_a_message_is_the_table_of_modes() -> None:
    """The engine walks bot/flow.py MODES: it names no mode's handler itself."""
    assert [mode.name for mode in flow.MODES] == ["crew", "outside_pilot", "conversation"]
    engine = ast.parse((ROOT / "bot" / "engine.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(engine)
        if isinstance(node, ast.ImportFrom) and node.module == "handlers"
        for alias in node.names
    }
    assert imported == set()


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
