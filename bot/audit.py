"""The audit log: every agent action on a report, exported as CSV for the admins.

Each action already is a row of the report's history (ReportEvent: who, when, from, to,
the public message, the internal note); this module selects and formats them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime, time
from typing import IO

from sqlmodel import Session

from models.catalog import all_categories, all_services
from models.console_queries import agents_by_id
from models.privacy_queries import agent_events

# What agents do (an action made from the CLI has no agent but is one all the same).
AGENT_KINDS = ("status", "reply", "note", "assigned", "recategorised")
HEADER = ("when", "agent", "report", "action", "from", "to", "public_message", "internal_note")
# A cell starting with one of these is a formula to a spreadsheet: defuse it.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditRow:
    when: str
    agent: str
    report: str
    action: str
    from_status: str
    to_status: str
    public_message: str
    internal_note: str


def audit_rows(
    session: Session, since: date | datetime | None = None, until: date | datetime | None = None
) -> list[AuditRow]:
    """Agents' actions from `since` (included) to `until` (excluded), oldest first."""
    events = agent_events(session, since=_moment(since), until=_moment(until), kinds=AGENT_KINDS)
    names = _names(session)
    return [
        AuditRow(
            when=event.created_at.astimezone(UTC).isoformat(timespec="seconds"),
            agent=agent.email if agent is not None else "(command line)",
            report=f"#{event.report_id}",
            action=event.kind,
            from_status=event.from_status or "",
            to_status=event.to_status or "",
            public_message=event.public_message or "",
            internal_note=_note(event.kind, event.internal_note, names),
        )
        for event, agent in events
    ]


def write_csv(rows: Iterable[AuditRow], out: IO[str]) -> int:
    """Writes the rows as CSV (header first); returns how many were written."""
    writer = csv.writer(out)
    writer.writerow(HEADER)
    count = 0
    for row in rows:
        writer.writerow([_safe(value) for value in astuple(row)])
        count += 1
    return count


def export_csv(session: Session, out: IO[str], since=None, until=None) -> int:
    """The admin page's and the CLI's export: the audit log between two dates, as CSV."""
    return write_csv(audit_rows(session, since, until), out)


def _moment(value: date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def _names(session: Session) -> dict[str, dict[int, str]]:
    return {
        "service": {s.id: s.code for s in all_services(session)},
        "category": {c.id: c.code for c in all_categories(session)},
        "assignee": {a.id: a.email for a in agents_by_id(session).values()},
    }


def _note(kind: str, note: str | None, names: dict[str, dict[int, str]]) -> str:
    """Spells out what an assignment or a recategorisation changed (kept as JSON)."""
    if kind not in ("assigned", "recategorised") or not note:
        return note or ""
    try:
        change = json.loads(note)
    except ValueError:
        return note
    parts = []
    for what in ("category", "service", "assignee"):
        if f"{what}_id" in change:
            old = names[what].get(change.get(f"from_{what}_id"), "none")
            new = names[what].get(change.get(f"{what}_id"), "none")
            if old != new:
                parts.append(f"{what}: {old} -> {new}")
    return "; ".join(parts)


def _safe(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def iter_lines(rows: list[AuditRow]) -> Iterator[str]:
    """Yields the CSV line by line (for a streamed download in the console)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in [HEADER, *([_safe(v) for v in astuple(row)] for row in rows)]:
        writer.writerow(values)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
