"""Delivery and the citizens' verdicts, as the console shows them: messages not delivered,
reports waiting for a reopening's answer, reminded without news."""

from __future__ import annotations

from sqlalchemy import (
    select,
)
from sqlmodel import Session

from models.messaging import UNDELIVERED, Outbox, dead_messages
from models.report import EventKind, Report, ReportEvent
from models.scope import AgentScope, in_scope

# --- delivery and the citizens' verdicts ---------------------------------------------

# The events that answer a citizen's reopening, and the reopening itself.
REOPEN_ANSWERS = (EventKind.REOPENED, EventKind.STATUS, EventKind.REPLY)


def undelivered_messages(session: Session, scope: AgentScope, limit: int = 100) -> list[Outbox]:
    """Dead or failed messages, newest first; an agent's only about the reports they see.

    An admin also sees the messages of a conversation, which belong to no report.
    """
    if scope.services is None and not scope.communes:
        return dead_messages(session, limit)
    if scope.services == ():
        return []
    stmt = (
        select(Outbox)
        .join(Report, Report.id == Outbox.report_id)
        .where(Outbox.status.in_(UNDELIVERED), *in_scope(scope))
        .order_by(Outbox.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def awaiting_after_reopening(session: Session, numbers: list[int]) -> set[int]:
    """Of these reports, those a citizen reopened ("not fixed") with no answer since.

    The service answers with a status change or a reply to the citizen; until then the
    queue flags the report.
    """
    last = _last_event_kinds(session, numbers, REOPEN_ANSWERS)
    return {number for number, kind in last.items() if kind == EventKind.REOPENED}


def _last_event_kinds(session: Session, numbers: list[int], kinds: tuple[str, ...]) -> dict:
    """Report number -> the kind of its latest event among `kinds`."""
    if not numbers:
        return {}
    stmt = (
        select(ReportEvent.report_id, ReportEvent.kind)
        .where(ReportEvent.report_id.in_(numbers), ReportEvent.kind.in_(kinds))
        .order_by(ReportEvent.report_id, ReportEvent.created_at, ReportEvent.id)
    )
    return dict(session.execute(stmt).all())  # later rows overwrite earlier ones


# The events that are news for the citizen, and the watchdog's automatic reminder.
NEWS_OR_REMINDER = (EventKind.STATUS, EventKind.REPLY, EventKind.REMINDER)


def reminded_without_news(session: Session, numbers: list[int]) -> set[int]:
    """Of these reports, those whose last news to the citizen is the watchdog's reminder.

    The silence watchdog (services/feedback.py) tells followers a report past its SLA is still
    being handled; the queue flags it until an agent says something real.
    """
    last = _last_event_kinds(session, numbers, NEWS_OR_REMINDER)
    return {number for number, kind in last.items() if kind == EventKind.REMINDER}
