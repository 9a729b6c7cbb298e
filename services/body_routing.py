"""Routing a report to other bodies when it is filed or gets its place (services/bodies.py
explains bodies; this part is apart so that services/reports.py, which calls it, and
services/bodies.py, which moves statuses through services/reports.py, import no circle).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from models.body import (
    Body,
    BodyForward,
    BodyKind,
    BodyRoute,
    forwards_of_report,
    routes_of_category,
)
from models.db import utcnow
from models.jobs import JobKind, queue_job
from models.report import EventKind, Report, ReportEvent
from models.zone import Zone
from services.open311_queue import Open311Target, enqueue_push

log = logging.getLogger(__name__)


# --- routing a report --------------------------------------------------------------------


def route_report(session: Session, report: Report) -> list[BodyForward]:
    """Forwards a report to the bodies its category's rules name, once.

    A rule within a zone needs the report's point: while a report waiting for its place
    (a typed address the worker geocodes) could match one, nothing is decided; the call
    made when the place settles decides. A zone's rules, when the point is inside, come
    before the rules that hold anywhere."""
    rules = routes_of_category(session, report.category_id)
    if not rules or forwards_of_report(session, report.id):
        return []
    zoned = [rule for rule in rules if rule.zone_id is not None]
    if zoned and report.lat is None:
        return []
    chosen = [rule for rule in zoned if _inside(session, rule.zone_id, report)]
    chosen = chosen or [rule for rule in rules if rule.zone_id is None]
    return [_forward(session, report, rule) for rule in chosen]


def _inside(session: Session, zone_id: int, report: Report) -> bool:
    zone = session.get(Zone, zone_id)
    if zone is None or not zone.active:
        return False
    from shapely.geometry import Point, shape  # only when a rule has a zone

    return shape(zone.geometry).covers(Point(report.lon, report.lat))  # shapely: (lon, lat)


def _forward(session: Session, report: Report, rule: BodyRoute) -> BodyForward:
    body = session.get(Body, rule.body_id)
    now = utcnow()
    forward = BodyForward(report_id=report.id, body_id=body.id, also=rule.also, created_at=now)
    session.add(forward)
    if not rule.also:
        report.with_body = True
        session.add(report)
    session.flush()
    body_event(session, report, body, "forwarded", now)
    if body.kind == BodyKind.OPEN311:
        # The Open311 client's worker pushes it and pulls the answers; handed over now.
        target = Open311Target(
            body.code, body.endpoint, body.api_key, dict(body.service_codes or {})
        )
        enqueue_push(session, report, target)
        forward.sent_at = now
    else:
        queue_job(session, JobKind.FORWARD_BODY, {"forward": forward.id}, report_id=report.id)
    session.add(forward)
    session.flush()
    return forward


def body_event(session: Session, report: Report, body: Body, what: str, at: datetime, *,
           old: str | None = None, new: str | None = None,
           reason: str | None = None) -> ReportEvent:  # fmt: skip
    """One row of the report's history about a body; its detail keeps body and what."""
    event = ReportEvent(
        report_id=report.id,
        kind=EventKind.BODY,
        from_status=old,
        to_status=new,
        public_message=reason,
        detail={"body": body.code, "name": body.name, "answer": what},
        created_at=at,
    )
    session.add(event)
    session.flush()
    return event
