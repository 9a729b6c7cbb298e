"""The service heads' morning digest: what is new, overdue and reopened in their service,
sent to their linked chat at the service's time (`webleads agent head`, `digest-time`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from models.catalog import Category, Service
from models.citizen import citizens_by_id
from models.crew import (
    DEFAULT_DIGEST_TIME,
    ServiceHead,
    digest_of,
    heads_with_chats,
    open_reports_of_service,
    services_with_heads,
)
from models.db import utcnow
from models.messaging import PRIORITY_NOTIFICATION, queue_messages
from services import access
from services.crew_notices import (
    due_at,
)
from services.texts import N_, translate
from services.town_clock import TOWN_ZONE

# --- the morning digest --------------------------------------------------------------

DIGEST = N_("Good morning. {service}: {new} new since yesterday, {overdue} overdue, "
            "{reopened} reopened.")  # fmt: skip
DIGEST_LINE = N_("{label} {ref}, {category}, {place}")
DIGEST_LABELS = {"new": N_("New:"), "overdue": N_("Overdue:"), "reopened": N_("Reopened:")}
DIGEST_MAX_LINES = 15


def set_head(session: Session, agent_id: int, service_id: int, head: bool = True) -> None:
    """Makes the agent a head of the service (gets its morning digest), or not."""
    existing = session.get(ServiceHead, (service_id, agent_id))
    if head and existing is None:
        session.add(ServiceHead(service_id=service_id, agent_id=agent_id))
    elif not head and existing is not None:
        session.delete(existing)
    session.flush()


def set_digest_time(session: Session, service_id: int, at: str) -> None:
    hours, _, minutes = at.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ValueError(f"{at!r} is not a time (write 08:00)")
    digest_of(session, service_id).digest_time = f"{int(hours):02d}:{int(minutes):02d}"
    session.flush()


def _digest_moment(day, at: str) -> datetime:
    hours, _, minutes = (at or DEFAULT_DIGEST_TIME).partition(":")
    return datetime(day.year, day.month, day.day, int(hours), int(minutes), tzinfo=TOWN_ZONE)


def send_due_digests(session: Session, now: datetime | None = None) -> int:
    """Queues each service's digest to its linked heads once its time has come today."""
    now = now or utcnow()
    local = now.astimezone(TOWN_ZONE)
    sent = 0
    for service_id in services_with_heads(session):
        digest = digest_of(session, service_id)
        moment = _digest_moment(local.date(), digest.digest_time)
        if local < moment or digest.last_sent_on == local.date():
            continue
        sent += _queue_digest(session, service_id, moment - timedelta(days=1), now)
        digest.last_sent_on = local.date()
        session.add(digest)
    session.flush()
    return sent


def _queue_digest(session: Session, service_id: int, since: datetime, now: datetime) -> int:
    """Queues the service's digest to each linked head: the reports they see (their
    communes), as in the console."""
    service = session.get(Service, service_id)
    rows = []
    for head, link in heads_with_chats(session, service_id):
        chat = citizens_by_id(session, [link.citizen_id]).get(link.citizen_id)
        if chat is None or not chat.can_receive:
            continue
        reports_open = open_reports_of_service(session, service_id, access.scope_of(session, head))
        groups = {
            "new": [r for r in reports_open if r.created_at >= since],
            "overdue": [r for r in reports_open if due_at(session, r) <= now],
            "reopened": [r for r in reports_open if r.reopened_count > 0],
        }
        lang = chat.language
        counts = {k: len(v) for k, v in groups.items()}
        lines = [translate(lang, DIGEST, service=service.name(lang), **counts)]
        for key, found in groups.items():
            for report in found[:DIGEST_MAX_LINES]:
                category = session.get(Category, report.category_id)
                lines.append(
                    translate(
                        lang,
                        DIGEST_LINE,
                        label=translate(lang, DIGEST_LABELS[key]),
                        ref=report.ref,
                        category=category.name(lang),
                        place=report.address or "",
                    ).rstrip(", ")
                )
        rows.append(
            {
                "citizen_id": chat.id,
                "channel": chat.channel,
                "address": chat.address,
                "payload": {"text": "\n".join(lines)},
                "priority": PRIORITY_NOTIFICATION,
            }
        )
    queue_messages(session, rows)
    return len(rows)


def run_digests(rt) -> int:
    """The worker's periodic task (app/background.py)."""
    with rt.db.transaction() as session:
        sent = send_due_digests(session)
    if sent:
        rt.wake_worker()
    return sent
