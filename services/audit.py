"""The audit log: every agent action on a report, exported as CSV for the admins, and
every admin change to how the service runs, written where it is saved.

Each action on a report already is a row of the report's history (ReportEvent: who,
when, from, to, the public message, the internal note); this module selects and formats
them. An admin change (a role, a service, a category, a zone, the pilot, an API key, a
template) writes an AdminChange row through `record`, in the change's own transaction:
when the row cannot be written, the change is not saved either.
"""

from __future__ import annotations

import csv
import getpass
import io
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import IO

from sqlmodel import Session

from models.audit import AdminChange, add_admin_change
from models.catalog import all_categories, all_services
from models.console_queries import agents_by_id
from models.crew import field_event_ids
from models.privacy_queries import agent_events
from models.report import EventKind, ReportEvent

# What agents do (an action made from the CLI has no agent but is one all the same).
AGENT_KINDS = (
    EventKind.STATUS,
    EventKind.REPLY,
    EventKind.NOTE,
    EventKind.PUBLIC_NOTE,
    EventKind.ASSIGNED,
    EventKind.RECATEGORISED,
    EventKind.MODERATED,
    EventKind.PAGED,
    EventKind.ESCALATED,
    EventKind.PAGE_ACKNOWLEDGED,
)
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
    # Done from a field agent's chat.
    from_field = field_event_ids(session, [event.id for event, _ in events])
    return [
        AuditRow(
            when=event.created_at.astimezone(UTC).isoformat(timespec="seconds"),
            agent=agent.email if agent is not None else "(command line)",
            report=f"#{event.report_id}",
            action=f"{event.kind} (field)" if event.id in from_field else event.kind,
            from_status=event.from_status or "",
            to_status=event.to_status or "",
            public_message=event.public_message or "",
            internal_note=_note(event, names),
        )
        for event, agent in events
    ]


def write_csv(rows: Iterable[AuditRow], out: IO[str]) -> int:
    """Writes the rows as CSV (header first); returns how many were written."""
    writer = csv.writer(out)
    writer.writerow(HEADER)
    count = 0
    for row in rows:
        writer.writerow([spreadsheet_cell(value) for value in astuple(row)])
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


def _note(event: ReportEvent, names: dict[str, dict[int, str]]) -> str:
    """The agent's own note, then what the event did, spelled out from its detail: the
    codes and e-mails an assignment or a recategorisation moved between, "action:
    published" for a moderation."""
    detail = event.detail or {}
    if event.kind in (EventKind.ASSIGNED, EventKind.RECATEGORISED):
        said = _change(detail, names)
    else:
        said = [f"{key}: {value}" for key, value in detail.items()]
    return "; ".join([*([event.internal_note] if event.internal_note else []), *said])


def _change(change: dict, names: dict[str, dict[int, str]]) -> list[str]:
    parts = []
    for what in ("category", "service", "assignee"):
        if f"{what}_id" in change:
            old = names[what].get(change.get(f"from_{what}_id"), "none")
            new = names[what].get(change.get(f"{what}_id"), "none")
            if old != new:
                parts.append(f"{what}: {old} -> {new}")
    return parts


def spreadsheet_cell(value):
    """A CSV cell a spreadsheet shows as written: text starting like a formula is defused.

    Every CSV the product writes goes through here; an empty cell stays empty and a
    number, its sign included, stays a number.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_line(values: Iterable) -> str:
    """One CSV line, its line end included, every cell made safe for spreadsheets."""
    out = io.StringIO()
    csv.writer(out).writerow([spreadsheet_cell(v) for v in values])
    return out.getvalue()


def iter_lines(rows: list[AuditRow], header: Iterable[str] = HEADER) -> Iterator[str]:
    """Yields the CSV line by line (for a streamed download in the console, which names the
    columns in the admin's language)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in [list(header), *([spreadsheet_cell(v) for v in astuple(row)] for row in rows)]:
        writer.writerow(values)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)


# --- admin changes ---------------------------------------------------------------------


class Thing(StrEnum):
    """What an admin change is about."""

    SERVICE = "service"
    CATEGORY = "category"
    AGENT = "agent"
    TEMPLATE = "template"
    ZONE = "zone"
    PILOT = "pilot"
    INVITE_CODE = "invite code"
    ALLOWLIST = "allowlist"
    API_KEY = "api key"
    LOGO = "logo"
    READER = "reader"  # the free-text reader's model in use (services/nlu)
    BODY = "body"  # another body reports go to (services/bodies.py)
    BODY_ROUTE = "body route"  # a category (in a zone) sent to a body
    DANGER_WORDS = "danger words"  # what makes a report urgent (services/urgency.py)
    ONCALL = "on-call"  # a service's rota, hours and page delay (services/oncall.py)


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    REMOVED = "removed"


@dataclass(frozen=True)
class Actor:
    """Who makes an admin change: a console agent, or someone at the command line."""

    name: str
    agent_id: int | None = None

    @classmethod
    def agent(cls, agent) -> Actor:
        """The console's logged-in agent (anything with an id and an email)."""
        return cls(agent.email, agent.id)

    @classmethod
    def command_line(cls) -> Actor:
        """The shell user running `webleads` (the CLI has no login of its own)."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no login name in this environment
            user = "unknown user"
        return cls(f"command line ({user})")


def changed(before: dict, after: dict) -> dict[str, list]:
    """The fields whose value differs, as field -> [before, after]."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def record(
    session: Session, actor: Actor, thing: Thing, name: str, action: Action, changes: dict
) -> AdminChange | None:
    """Writes the audit row of an admin change in the caller's transaction (None: no change).

    Call it in the transaction that saves the change: it writes at once, so a row that
    cannot be written raises there and the whole change is rolled back with it.
    """
    if not changes:
        return None
    row = AdminChange(
        agent_id=actor.agent_id,
        actor=actor.name[:255],
        thing=str(thing),
        name=name[:255],
        action=str(action),
        changes=changes,
    )
    add_admin_change(session, row)
    return row


def remove(session: Session, actor: Actor, thing: Thing, name: str, row, changes: dict) -> None:
    """Deletes an admin's row (a rule, a shift, an allowlist entry) and records its removal
    in the same transaction; `changes` says what it held ({field: [old, None]})."""
    session.delete(row)
    session.flush()
    record(session, actor, thing, name, Action.REMOVED, changes)


def mask(address: str) -> str:
    """A citizen's address as the audit trail keeps it: its last two characters only."""
    if len(address) <= 4:
        return "•" * len(address)
    return "•" * (len(address) - 2) + address[-2:]
