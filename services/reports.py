"""What happens to reports: filed, followed, commented, moved through their statuses."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from models.citizen import Citizen
from models.commune import routed_service
from models.db import read_number, utcnow
from models.report import (
    PRIORITIES,
    REASON_REQUIRED,
    STATUSES,
    TRANSITIONS,
    EventKind,
    Follower,
    Priority,
    Report,
    ReportEvent,
    Status,
    add_event,
    attach_media,
    can_transition,
    count_followed_open,
    count_follows_since,
    follower_ids,
    get_report,
    is_follower,
    is_open,
    lock_report,
)
from services import notify, oncall
from services.body_routing import route_report
from services.catalog import CategoryInfo
from services.crew_notices import tell_assignee
from services.texts import N_


class ReportError(ValueError):
    """A change that is not allowed; the message says why, for the agent.

    `text` is an English msgid with %(name)s placeholders and `values` fill them: str()
    gives the English (the command line), and the console says it in the agent's
    language (its catalog holds these msgids: console/babel.cfg reads this module).
    """

    def __init__(self, text: str, **values) -> None:
        self.text, self.values = text, values
        super().__init__(text % values if values else text)


def file_report(session: Session, citizen: Citizen | None, draft: dict, category: CategoryInfo,
                commune: str | None = None, *, channel: str | None = None,
                agent_id: int | None = None, note: str | None = None) -> Report:  # fmt: skip
    """Creates the report from a finished draft; its author follows it. In a deployment of
    several communes, `commune` (whose boundary holds the place) picks its own service for
    the category when it has one; otherwise the category's service (shared) takes it.

    An agent filing it for a resident (console/counter.py) names themselves (`agent_id`)
    and how it came (`channel`: the counter, a phone call); the resident may have no
    citizen to reach. Another tool's report (file_external_report) has no citizen either,
    and may bring an internal `note`."""
    now = utcnow()
    report = Report(
        category_id=category.id,
        service_id=routed_service(session, commune, category.id) or category.service_id,
        commune=commune,
        citizen_id=citizen.id if citizen else None,
        channel=channel or citizen.channel,  # type: ignore[union-attr]
        description=draft.get("description", ""),
        lat=draft.get("lat"),
        lon=draft.get("lon"),
        address=draft.get("address"),
        geolocated=bool(draft.get("geolocated")),
        status=Status.NEW,
        created_at=now,
        updated_at=now,
        answers=draft.get("answers") or None,  # the category's questions (handlers/questions)
    )
    session.add(report)
    session.flush()
    if citizen is not None:
        session.add(Follower(report_id=report.id, citizen_id=citizen.id, is_author=True))
    add_event(session, report, EventKind.CREATED, now, citizen_id=report.citizen_id,
              agent_id=agent_id, to_status=Status.NEW, internal_note=note)  # fmt: skip
    attach_media(session, draft.get("media_ids", []), report.id)
    session.flush()
    _route_to_bodies(session, report)
    oncall.report_filed(session, report)  # filed already urgent: pages as set_priority does
    return report


def _route_to_bodies(session: Session, report: Report) -> None:
    """Hands the report to the other bodies its category's rules name (services/bodies)."""
    route_report(session, report)


def join_report(session: Session, report: Report, citizen: Citizen, draft: dict) -> None:
    """Makes the citizen a follower of an existing report, with their words on it."""
    if not is_follower(session, report.id, citizen.id):
        session.add(Follower(report_id=report.id, citizen_id=citizen.id))
        session.add(
            ReportEvent(report_id=report.id, kind=EventKind.FOLLOWER, citizen_id=citizen.id)
        )
    add_citizen_message(
        session, report, citizen, draft.get("description", ""), draft.get("media_ids", [])
    )


# What following a report from a chat came to (handlers/commands.py words it).
FOLLOWED, ALREADY_FOLLOWING, NO_SUCH_REPORT, REPORT_CLOSED, TOO_MANY = (
    "followed",
    "already",
    "unknown",
    "closed",
    "too_many",
)
# Following is for the problems of one's street, not for collecting the town's reports:
# a chat follows at most this many open reports it did not file, and starts following at
# most this many an hour (each follower of an SMS report also costs the town a message).
MAX_FOLLOWED_OPEN = 20
MAX_FOLLOWS_PER_HOUR = 5


def follow_report(session: Session, number: int, citizen: Citizen):
    """Makes the citizen a follower of an open public report; returns (what happened, the
    report's public view or None). A hidden report is answered as an unknown one."""
    from services.public_view import public_report

    view = public_report(session, number)
    if view is None:
        return NO_SUCH_REPORT, None
    if view.expected_at is None:  # not open: dealt with, closed or merged
        return REPORT_CLOSED, view
    if is_follower(session, number, citizen.id):
        return ALREADY_FOLLOWING, view
    hour_ago = utcnow() - timedelta(hours=1)
    if (
        count_follows_since(session, citizen.id, hour_ago) >= MAX_FOLLOWS_PER_HOUR
        or count_followed_open(session, citizen.id) >= MAX_FOLLOWED_OPEN
    ):
        return TOO_MANY, view
    session.add(Follower(report_id=number, citizen_id=citizen.id))
    session.add(ReportEvent(report_id=number, kind=EventKind.FOLLOWER, citizen_id=citizen.id))
    session.flush()
    return FOLLOWED, view


def add_citizen_message(
    session: Session, report: Report, citizen: Citizen, text: str, media_ids: list[int]
) -> None:
    """Records what a citizen added to a report (words and photos) in its thread."""
    if text or media_ids:
        session.add(
            ReportEvent(
                report_id=report.id,
                kind=EventKind.CITIZEN_MESSAGE,
                citizen_id=citizen.id,
                public_message=text or None,
            )
        )
    attach_media(session, media_ids, report.id)
    session.flush()


def change_status(
    session: Session,
    number: int,
    status: str,
    *,
    message: str | None = None,
    note: str | None = None,
    agent_id: int | None = None,
    duplicate_of: int | None = None,
) -> ReportEvent:
    """Moves a report to a status, records the event and tells its followers."""
    report = report_or_error(session, number)
    if status not in STATUSES:
        raise ReportError(
            N_("Unknown status “%(status)s”; use one of: %(statuses)s."),
            status=status,
            statuses=", ".join(STATUSES),
        )
    check_transition(report, status)
    message = (message or "").strip() or None
    if status in REASON_REQUIRED and not message:
        raise ReportError(
            N_("Closing #%(number)d needs a public message saying why."), number=number
        )
    if status == Status.DUPLICATE:
        _merge_into(session, report, duplicate_of)
    now = utcnow()
    old = move_status(report, status, now)
    report.last_public_update_at = now
    event = add_event(session, report, EventKind.STATUS, now, agent_id=agent_id,
                      from_status=old, to_status=status, public_message=message,
                      internal_note=(note or "").strip() or None)  # fmt: skip
    notify.queue_for_followers(session, report, event)
    return event


def report_or_error(session: Session, number: int) -> Report:
    """The report, row-locked until commit (PostgreSQL), before changing it; raises
    ReportError("There is no report #N.") when there is none."""
    report = lock_report(session, number)
    if report is None:
        raise ReportError(N_("There is no report #%(number)d."), number=number)
    return report


def check_transition(report: Report, status: str) -> None:
    """Raises ReportError unless the transition table allows this move."""
    if not can_transition(report.status, status):
        allowed = ", ".join(sorted(TRANSITIONS[report.status])) or "none"
        raise ReportError(
            N_("Report #%(number)d is %(old)s: it cannot become %(new)s (allowed: %(allowed)s)."),
            number=report.id,
            old=report.status,
            new=status,
            allowed=allowed,
        )


def move_status(report: Report, status: str, now) -> str:
    """Moves a report along the transition table; returns the status it had.

    The one place a report's status changes (an agent's change, a citizen reopening):
    the step's timestamp is set the first time, and a report that comes back to an open
    status counts as reopened.
    """
    check_transition(report, status)
    old = report.status
    report.status = status
    report.updated_at = now
    column = STATUSES[status].timestamp_column
    if column and getattr(report, column) is None:
        setattr(report, column, now)
    if not is_open(old) and is_open(status):
        report.reopened_count += 1
    return old


def reply(
    session: Session, number: int, message: str, *, agent_id: int | None = None
) -> ReportEvent:
    """Sends the agent's words to the followers without changing the status."""
    report = report_or_error(session, number)
    message = (message or "").strip()
    if not message:
        raise ReportError(N_("A reply needs a message."))
    report.updated_at = report.last_public_update_at = utcnow()
    session.add(report)
    event = ReportEvent(
        report_id=report.id, kind=EventKind.REPLY, agent_id=agent_id, public_message=message
    )
    session.add(event)
    session.flush()
    notify.queue_for_followers(session, report, event)
    return event


def _merge_into(session: Session, report: Report, target_number: int | None) -> None:
    if target_number is None:
        raise ReportError(
            N_("Merging #%(number)d needs the number of the report it duplicates."),
            number=report.id,
        )
    target = get_report(session, target_number)
    if target is None or target.id == report.id:
        raise ReportError(N_("#%(number)d is not another report."), number=target_number)
    if target.status == Status.DUPLICATE:
        raise ReportError(
            N_("#%(number)d is itself merged into #%(into)d."),
            number=target.id,
            into=target.duplicate_of_id,
        )
    report.duplicate_of_id = target.id
    for citizen_id in follower_ids(session, report.id):
        if not is_follower(session, target.id, citizen_id):
            session.add(Follower(report_id=target.id, citizen_id=citizen_id))


def settle_commune(session: Session, report: Report, commune: str | None) -> None:
    """A report placed after it was filed (its typed address placed later, its pin from the
    SMS link) belongs to the commune holding the place; while still new and unassigned, it
    moves to that commune's own service for its category, if it has one."""
    _route_to_bodies(session, report)  # a zone's rule needed the place
    if commune is None or report.commune is not None:
        return
    report.commune = commune
    own = routed_service(session, commune, report.category_id)
    if own is not None and report.status == Status.NEW and report.assigned_agent_id is None:
        report.service_id = own
    session.add(report)


def parse_ref(ref: str) -> int:
    """Reads a report reference as agents and citizens write it: `1042` or `#1042`."""
    number = read_number(ref.strip().lstrip("#").strip())
    if number is None:
        raise ReportError(N_("“%(ref)s” is not a report number (write 1042 or #1042)."), ref=ref)
    return number


# --- console actions --------------------------------------------------------------


def add_note(session: Session, number: int, note: str, *, agent_id: int | None) -> ReportEvent:
    """Records an internal note on a report; nothing is sent to anyone."""
    report = report_or_error(session, number)
    note = (note or "").strip()
    if not note:
        raise ReportError(N_("A note needs some text."))
    return add_event(session, report, EventKind.NOTE, agent_id=agent_id, internal_note=note)


def assign(
    session: Session,
    number: int,
    *,
    service_id: int,
    assignee_id: int | None,
    agent_id: int | None,
) -> ReportEvent:
    """Hands a report to a service and, optionally, to one of its agents (internal).

    The event's detail keeps what changed (`service_id`, `from_service_id`, `assignee_id`,
    `from_assignee_id`), for the console to show in the thread.
    """
    from models.agent import Agent, services_of_agent
    from models.catalog import Service

    report = report_or_error(session, number)
    if session.get(Service, service_id) is None:
        raise ReportError(N_("There is no service %(id)d."), id=service_id)
    if assignee_id is not None:
        assignee = session.get(Agent, assignee_id)
        if assignee is None or not assignee.active:
            raise ReportError(N_("That agent does not exist or is deactivated."))
        if assignee.role != "admin" and service_id not in services_of_agent(session, assignee_id):
            raise ReportError(
                N_("%(name)s does not belong to that service."), name=assignee.display_name
            )
    change = {
        "service_id": service_id,
        "from_service_id": report.service_id,
        "assignee_id": assignee_id,
        "from_assignee_id": report.assigned_agent_id,
    }
    report.service_id, report.assigned_agent_id = service_id, assignee_id
    event = add_event(session, report, EventKind.ASSIGNED, agent_id=agent_id, detail=change)
    if assignee_id not in (None, agent_id, change["from_assignee_id"]):
        tell_assignee(session, report, assignee_id)  # on their phone, at once
    return event


def recategorise(
    session: Session, number: int, category_id: int, *, agent_id: int | None
) -> ReportEvent:
    """Moves a report to another category, and to that category's service (internal)."""
    from models.catalog import Category

    report = report_or_error(session, number)
    category = session.get(Category, category_id)
    if category is None:
        raise ReportError(N_("There is no category %(id)d."), id=category_id)
    if category.id == report.category_id:
        raise ReportError(N_("Report #%(number)d is already in that category."), number=number)
    change = {
        "category_id": category.id,
        "from_category_id": report.category_id,
        "service_id": category.service_id,
        "from_service_id": report.service_id,
    }
    report.category_id, report.service_id = category.id, category.service_id
    return add_event(session, report, EventKind.RECATEGORISED, agent_id=agent_id, detail=change)


def set_priority(
    session: Session, number: int, priority: str, *, agent_id: int | None, reason=None
) -> ReportEvent:
    """Sets how pressing a report is (the queue's first key); internal, kept in its history.

    The event's detail keeps the change (`priority`, `from_priority`, and
    `reason` when the bot made it urgent: services/urgency.py says why).
    """
    report = report_or_error(session, number)
    if priority not in PRIORITIES:
        raise ReportError(N_("Unknown priority “%(priority)s”."), priority=priority)
    if priority == report.priority:
        raise ReportError(N_("Report #%(number)d already has that priority."), number=number)
    change = {"priority": priority, "from_priority": report.priority}
    if reason:
        change["reason"] = reason
    report.priority = priority
    event = add_event(session, report, EventKind.PRIORITISED, agent_id=agent_id, detail=change)
    if priority == Priority.URGENT:
        oncall.report_became_urgent(session, report)  # rows only; the worker sends
    return event


# --- reports filed by the town's other tools (Open311) ----------------------------------


def file_external_report(
    session: Session,
    category: CategoryInfo,
    *,
    channel: str,
    description: str,
    lat: float | None,
    lon: float | None,
    address: str | None,
    note: str | None = None,
    commune: str | None = None,
    answers: list | None = None,
) -> Report:
    """Creates a report sent by another tool (no citizen follows it in the chat)."""
    draft = {
        "description": description,
        "lat": lat,
        "lon": lon,
        "address": address,
        "geolocated": lat is not None,
        "answers": answers,
    }
    return file_report(session, None, draft, category, commune, channel=channel, note=note)


def name_report_place(
    session: Session, number: int | None, lat: float, lon: float, label: str | None
) -> None:
    """Gives a pinned report the address the geocoder found, if the pin is still there."""
    report = lock_report(session, number) if number is not None else None
    if report is None or not label or (report.lat, report.lon) != (lat, lon):
        return
    report.address = label[:255]
    report.updated_at = utcnow()
    session.add(report)
