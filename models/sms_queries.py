"""Named queries of the SMS channel: delivery receipts, replays, one-time links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session

from models.citizen import Citizen
from models.messaging import DELIVERED, FAILED, QUEUED, SENDING, SENT, InboundMessage, Outbox
from models.report import EventKind, Report, ReportEvent

# A receipt only moves a message forward: Twilio's callbacks may arrive out of order
# ("sent" after "delivered"), and a late one must not undo an earlier, later state.
DELIVERY_RANK = {QUEUED: 0, SENDING: 0, SENT: 1, DELIVERED: 2, FAILED: 2}


def outbox_by_provider_id(session: Session, provider_message_id: str) -> Outbox | None:
    """The outbound message the provider knows by this id (Twilio's MessageSid)."""
    return session.scalar(
        select(Outbox).where(Outbox.provider_message_id == provider_message_id).limit(1)
    )


def record_delivery(
    session: Session,
    provider_message_id: str,
    status: str,
    *,
    error: str | None = None,
    at: datetime,
) -> bool:
    """Records a delivery receipt; returns False when no message has this provider id."""
    message = outbox_by_provider_id(session, provider_message_id)
    if message is None:
        return False
    current = DELIVERY_RANK.get(message.status)
    if current is None or DELIVERY_RANK[status] <= current:
        return True  # dead, cancelled, or already further along: nothing to change
    values: dict = {"status": status}
    if status == DELIVERED:
        values["delivered_at"] = at
    if status == FAILED:
        values["last_error"] = (error or "failed")[:500]
    session.execute(update(Outbox).where(Outbox.id == message.id).values(**values))
    return True


def inbound_seen(session: Session, channel: str, external_id: str) -> bool:
    """Tells whether an inbound message id (or a used link's id) is already recorded."""
    return (
        session.scalar(
            select(InboundMessage.id).where(
                InboundMessage.channel == channel, InboundMessage.external_id == external_id
            )
        )
        is not None
    )


def citizen_language(session: Session, citizen_id: int) -> str | None:
    return session.scalar(select(Citizen.language).where(Citizen.id == citizen_id))


def report_author(session: Session, report: Report) -> Citizen | None:
    """The citizen who filed the report (None once erased)."""
    if report.citizen_id is None:
        return None
    return session.scalar(select(Citizen).where(Citizen.id == report.citizen_id))


def pin_report(
    session: Session,
    report: Report,
    lat: float,
    lon: float,
    address: str | None,
    citizen_id: int | None,
    at: datetime,
) -> None:
    """Places a report where its citizen dropped the pin, and says so in its history."""
    before = f"{report.lat:.5f}, {report.lon:.5f}" if report.lat is not None else "none"
    report.lat, report.lon, report.geolocated = lat, lon, True
    if address:
        report.address = address[:255]
    report.updated_at = at
    session.add(report)
    session.add(
        ReportEvent(
            report_id=report.id,
            # The kind bot.placing uses when a report gets its place on the map.
            kind=EventKind.GEOCODED,
            citizen_id=citizen_id,
            internal_note=(
                f"The citizen placed the pin from the link sent by SMS: {lat:.5f}, {lon:.5f} "
                f"(before: {before})."
            ),
            created_at=at,
        )
    )
    session.flush()
