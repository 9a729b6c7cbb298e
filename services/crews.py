"""Field crews: an agent links their chat with a one-time code, then takes, closes and
hands back reports from the street, with the console's own permissions and writers.

Every action goes through services.reports (change_status -> move_status, assign,
add_note), so the followers are told exactly as from the console; each history row it
writes is marked as done from the field (models.crew.FieldAction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from models.agent import Agent
from models.catalog import Service
from models.citizen import citizens_by_id
from models.crew import (
    FieldAction,
    chat_of_agent,
    chat_of_citizen,
    field_event_ids,
    field_resolved_share,
    open_reports_in_box,
    open_reports_of_agent,
)
from models.db import utcnow
from models.messaging import PRIORITY_NOTIFICATION, queue_messages
from models.report import (
    METRES_PER_DEGREE,
    Report,
    ReportEvent,
    Status,
    add_media,
    attach_media,
    get_report,
    haversine_metres,
    mark_seen_by_agent,
    media_of_report,
)
from models.scope import Communes
from services import access, channels, links, reports
from services.audience import Audience, recipients
from services.crew_notices import (
    due_at,
)
from services.texts import N_, translate
from services.types import Reply, StoredPhoto

NEARBY_METRES = 300
NEARBY_LIMIT = 5
# Statuses a crew member takes a report from.
TAKEABLE = (Status.NEW, Status.ACKNOWLEDGED)


class CrewError(ValueError):
    """Why a crew action is refused: `reason` is a key the chat words politely."""

    def __init__(self, reason: str, number: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.number = number


def agent_of_chat(session: Session, chat_id: int) -> Agent | None:
    """The active agent this chat speaks for, or None (a citizen's chat)."""
    link = chat_of_citizen(session, chat_id)
    if link is None:
        return None
    agent = session.get(Agent, link.agent_id)
    return agent if agent is not None and agent.active else None


# --- permissions: the console's ------------------------------------------------------


def may_work(session: Session, agent: Agent, report: Report) -> bool:
    """As the console (services/access.py): an admin works every report, an agent those of
    their services in their communes, and their services' reports without a commune yet."""
    return access.sees(access.scope_of(session, agent), report)


def _workable(session: Session, agent: Agent, number: int) -> Report:
    report = get_report(session, number)
    if report is None or not may_work(session, agent, report):
        # Another service's or commune's report is not named to them, as in the console (404).
        raise CrewError("unknown", number)
    return report


def _mark(session: Session, agent: Agent, event: ReportEvent, channel: str) -> None:
    now = utcnow()
    mark_seen_by_agent(session, event.report_id)
    session.add(
        FieldAction(
            event_id=event.id,
            report_id=event.report_id,
            agent_id=agent.id,
            channel=channel,
            created_at=now,
        )
    )
    link = chat_of_agent(session, agent.id)
    if link is not None:
        link.last_field_action_at = now
        session.add(link)
    session.flush()


# --- actions -------------------------------------------------------------------------


def take(session: Session, agent: Agent, number: int, channel: str) -> Report:
    """ "Je prends": the report is the agent's and in progress; the followers are told."""
    report = _workable(session, agent, number)
    if report.status == Status.IN_PROGRESS and report.assigned_agent_id == agent.id:
        raise CrewError("already_yours", number)
    if report.status not in (*TAKEABLE, Status.IN_PROGRESS):
        raise CrewError("not_open", number)
    if report.assigned_agent_id != agent.id:
        event = reports.assign(
            session, number, service_id=report.service_id, assignee_id=agent.id, agent_id=agent.id
        )
        _mark(session, agent, event, channel)
    if report.status != Status.IN_PROGRESS:
        event = reports.change_status(session, number, Status.IN_PROGRESS, agent_id=agent.id)
        _mark(session, agent, event, channel)
    return report


def finish(
    session: Session, agent: Agent, number: int, channel: str, photo: StoredPhoto | None, rt
) -> Report:
    """Resolves the report; the after-photo is attached and shown to the followers."""
    report = _workable(session, agent, number)
    if not report.is_open:
        raise CrewError("not_open", number)
    media_id = add_media(session, photo, None) if photo is not None else None
    if media_id is not None:
        attach_media(session, [media_id], report.id)
    event = reports.change_status(session, number, Status.RESOLVED, agent_id=agent.id)
    _mark(session, agent, event, channel)
    if photo is not None:
        _show_photo(session, report, event, photo, rt)
    return report


# By audience (services/audience.py): the author's report, or one the citizen follows.
AFTER_PHOTO = {
    Audience.AUTHOR: N_("The work done on your report {ref}:"),
    Audience.FOLLOWER: N_("The work done on the report {ref} you follow:"),
}
AFTER_PHOTO_LINK = {
    Audience.AUTHOR: N_("See the photo of the work done on your report {ref}: {link}"),
    Audience.FOLLOWER: N_("See the photo of the work done on the report {ref} you follow: {link}"),
}


def _show_photo(session: Session, report: Report, event, photo: StoredPhoto, rt) -> None:
    """Sends the after-photo to each follower: in the chat, or as the report's link page."""
    rows = []
    for citizen, audience in recipients(session, report):
        if agent_of_chat(session, citizen.id) is not None:
            continue
        channel = channels.get(citizen.channel)
        if channel.can_show_photos:
            text = translate(citizen.language, AFTER_PHOTO[audience], ref=report.ref)
            payload = Reply(text, photo=photo.path).to_payload()
        else:  # SMS, WhatsApp (Twilio would need a public URL): the one-time page shows it
            settings = rt.settings
            # Read-only, for authors and followers alike (webhooks/link/after.py).
            link = links.after_photo_link(settings.PUBLIC_BASE_URL, settings.SECRET_KEY, report.id)
            payload = {"text": translate(citizen.language, AFTER_PHOTO_LINK[audience],
                                         ref=report.ref, link=link)}  # fmt: skip
        rows.append(
            {
                "citizen_id": citizen.id,
                "channel": citizen.channel,
                "address": citizen.address,
                "payload": payload,
                "priority": PRIORITY_NOTIFICATION,
                "report_id": report.id,
                "event_id": event.id,
            }
        )
    queue_messages(session, rows)


def after_photo(session: Session, number: int):
    """The latest photo a field agent attached to the report (no citizen's), or None."""
    mine = [m for m in media_of_report(session, number) if m.citizen_id is None]
    return max(mine, key=lambda m: m.id) if mine else None


def report_language(session: Session, number: int, default: str) -> str:
    report = get_report(session, number)
    author = (
        citizens_by_id(session, [report.citizen_id]).get(report.citizen_id)
        if (report is not None and report.citizen_id)
        else None
    )
    return author.language if author else default


def field_event_ids_of(session: Session, event_ids: list[int]) -> set[int]:
    """Which of these history rows were done from the field."""
    return field_event_ids(session, event_ids)


def resolved_from_field(
    session: Session, services: tuple[int, ...] | None = None, communes: Communes = ()
) -> dict[int, tuple[int, int]]:
    """Per service id: (reports resolved, of which from the field), of these services
    (None: all) and communes (empty: all)."""
    return field_resolved_share(session, services, communes)


def service_names(session: Session, ids: list[int], language: str) -> dict[int, str]:
    return {sid: session.get(Service, sid).name(language) for sid in ids}


def hand_back(session: Session, agent: Agent, number: int, note: str, channel: str) -> Report:
    """ "Pas pour nous": back to the service's queue, unassigned, with the agent's note."""
    report = _workable(session, agent, number)
    note = (note or "").strip()
    if not note:
        raise CrewError("note_needed", number)
    if not report.is_open:
        raise CrewError("not_open", number)
    event = reports.assign(
        session, number, service_id=report.service_id, assignee_id=None, agent_id=agent.id
    )
    _mark(session, agent, event, channel)
    event = reports.add_note(session, number, f"Pas pour nous : {note}", agent_id=agent.id)
    _mark(session, agent, event, channel)
    return report


def note(session: Session, agent: Agent, number: int, text: str, channel: str) -> Report:
    """An internal note from the field (never sent to the followers)."""
    report = _workable(session, agent, number)
    if not (text or "").strip():
        raise CrewError("note_needed", number)
    event = reports.add_note(session, number, text, agent_id=agent.id)
    _mark(session, agent, event, channel)
    return report


# --- what the agent sees -------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    report: Report
    due: datetime
    distance: float | None = None

    @property
    def overdue(self) -> bool:
        return self.due <= utcnow()


def tasks(session: Session, agent: Agent) -> list[Task]:
    """The agent's open reports, overdue first, then the soonest due."""
    found = [Task(r, due_at(session, r)) for r in _assigned(session, agent)]
    return sorted(found, key=lambda t: (not t.overdue, t.due, t.report.id))


def open_near(session: Session, agent: Agent, lat: float, lon: float) -> list[Task]:
    """Open reports the agent sees within NEARBY_METRES, nearest first."""
    dlat = NEARBY_METRES / METRES_PER_DEGREE
    dlon = NEARBY_METRES / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    box = (lat - dlat, lon - dlon, lat + dlat, lon + dlon)
    found = []
    for report in open_reports_in_box(session, access.scope_of(session, agent), box):
        distance = haversine_metres(lat, lon, report.lat, report.lon)
        if distance <= NEARBY_METRES:
            found.append(Task(report, due_at(session, report), distance))
    return sorted(found, key=lambda t: t.distance)[:NEARBY_LIMIT]


def the_report_in_progress(session: Session, agent: Agent) -> int | None:
    """The agent's one report in progress, when there is exactly one ("fait" alone)."""
    mine = [r for r in _assigned(session, agent) if r.status == Status.IN_PROGRESS]
    return mine[0].id if len(mine) == 1 else None


def the_one_to_take(session: Session, agent: Agent) -> int | None:
    """The agent's one assigned report not yet taken, when there is exactly one."""
    mine = [r for r in _assigned(session, agent) if r.status in TAKEABLE]
    return mine[0].id if len(mine) == 1 else None


def _assigned(session: Session, agent: Agent) -> list[Report]:
    """The open reports assigned to the agent that they see (one moved out of their
    services or communes since is not theirs to work from the field)."""
    return open_reports_of_agent(session, agent.id, access.scope_of(session, agent))
