"""Citizens' verdict on a resolved report, and the silence watchdog."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import Session

from models.citizen import Citizen
from models.db import utcnow
from models.report import EventKind, Report, ReportEvent, Status, lock_report, silent_reports
from services import notify
from services.reports import move_status
from services.runtime import Runtime

log = logging.getLogger(__name__)


def record_fixed(session: Session, report: Report, citizen: Citizen) -> None:
    """Records that a follower confirms the problem is fixed (satisfaction)."""
    session.add(ReportEvent(report_id=report.id, kind=EventKind.FEEDBACK, citizen_id=citizen.id,
                            public_message=None, detail={"verdict": "yes"}))  # fmt: skip


def reopen(session: Session, report: Report, citizen: Citizen, verdict: str, words: str) -> None:
    """Puts a resolved report back in its service's queue, flagged as reopened."""
    report = lock_report(session, report.id)
    if report is None or report.status != Status.RESOLVED:
        return
    now = utcnow()
    move_status(report, Status.IN_PROGRESS, now)
    report.resolved_at = None  # resolved again later, it is timed from then
    session.add(report)
    session.add(
        ReportEvent(
            report_id=report.id,
            kind=EventKind.REOPENED,
            citizen_id=citizen.id,
            from_status=Status.RESOLVED,
            to_status=Status.IN_PROGRESS,
            public_message=words or None,
            detail={"verdict": verdict},
            created_at=now,
        )
    )
    session.flush()


def remind_silent_reports(rt: Runtime, limit: int = 500) -> int:
    """Tells followers of reports silent past their SLA that they are still handled.

    Each reminder counts as a public update, so the next one comes one SLA period later.
    Returns how many reports were reminded.
    """
    reminded = 0
    now = utcnow()
    with rt.db.reading() as session:
        candidates = [r.id for r in silent_reports(session, now, limit)]
    for number in candidates:
        with rt.db.transaction() as session:
            if _remind(session, number, now):
                reminded += 1
    return reminded


def _remind(session: Session, number: int, now) -> bool:
    from models.catalog import Category

    report = lock_report(session, number)  # re-checked under lock: several workers
    if report is None or not report.is_open:
        return False
    category = session.get(Category, report.category_id)
    last = report.last_public_update_at or report.created_at
    if last + timedelta(hours=category.sla_hours) > now:
        return False
    report.last_public_update_at = now
    session.add(report)
    event = ReportEvent(report_id=report.id, kind=EventKind.REMINDER, created_at=now)
    session.add(event)
    session.flush()
    notify.queue_for_followers(session, report, event)
    return True
