"""Urgent reports reach someone at 2 a.m.: the on-call rota (astreinte), pages,
acknowledgements and escalation.

An urgent report (services/reports.py calls `report_became_urgent` from `set_priority`,
and `report_filed` when a report is filed already urgent) pages, out of its service's
hours, the first agent of the rota on their linked chat, through the outbox at a priority
above every other message (models/messaging.py PRIORITY_PAGE). Only rows are written here,
in the caller's transaction; the worker sends them, and its periodic loop
(`run_escalations`) pages the next agent of the chain (the rota in order, then the
service's heads) when a page is not acknowledged within the service's delay. In hours,
the service's linked agents are pinged at once, one message each, with no escalation.
Every page, escalation and acknowledgement is a row of the report's history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from models.agent import Agent, services_of_agent
from models.catalog import Service
from models.db import utcnow
from models.messaging import PRIORITY_PAGE, queue_messages
from models.oncall import (
    MINUTES_PER_DAY,
    OnCallPage,
    OnCallService,
    OnCallShift,
    Pattern,
    active_agents,
    due_pages,
    head_ids,
    linked_agents_of_service,
    pages_of_report,
    setting_of,
    shifts_of_service,
)
from models.report import EventKind, Priority, Report, ReportEvent, get_report, media_of_report
from services import access, channels
from services.audit import Action, Actor, Thing, changed, record, remove
from services.crew_notices import card_lines, linked_chat
from services.texts import N_, translate
from services.town_clock import TOWN_ZONE, in_town
from services.types import Reply

# --- the town's calendar: service hours and public holidays --------------------------


def easter(year: int) -> date:
    """Easter Sunday (the Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * ell) // 433
    month = (h + ell - 7 * m + 90) // 25
    return date(year, month, (h + ell - 7 * m + 33 * month + 19) % 32)


def public_holidays(year: int) -> set[date]:
    """France's public holidays (jours fériés) of a year."""
    sunday = easter(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    moving = [sunday + timedelta(days=n) for n in (1, 39, 50)]  # Easter Monday, Ascension, Whit
    return {date(year, m, d) for m, d in fixed} | set(moving)


def in_service_hours(hours: OnCallService, moment: datetime) -> bool:
    """Whether the service is at work: a weekday that is not a holiday, between its hours."""
    local = in_town(moment)
    if local.weekday() >= 5 or local.date() in public_holidays(local.year):
        return False
    return hours.opens <= local.strftime("%H:%M") < hours.closes


# --- the rota --------------------------------------------------------------------------

DAYS = {
    **dict.fromkeys(("mon", "monday", "lun", "lundi"), 0),
    **dict.fromkeys(("tue", "tuesday", "mar", "mardi"), 1),
    **dict.fromkeys(("wed", "wednesday", "mer", "mercredi"), 2),
    **dict.fromkeys(("thu", "thursday", "jeu", "jeudi"), 3),
    **dict.fromkeys(("fri", "friday", "ven", "vendredi"), 4),
    **dict.fromkeys(("sat", "saturday", "sam", "samedi"), 5),
    **dict.fromkeys(("sun", "sunday", "dim", "dimanche"), 6),
}
TIME_RE = re.compile(r"^(\d{1,2})[:h](\d{2})$")
DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}[:h]\d{2}))?$")


class RotaError(ValueError):
    """A rota line that cannot be: `text` is an English msgid with %(name)s placeholders
    that `values` fill (str() is the English; the console says it in the agent's language,
    its catalog holds these msgids as services.reports.ReportError's)."""

    def __init__(self, text: str, **values) -> None:
        self.text, self.values = text, values
        super().__init__(text % values if values else text)


@dataclass(frozen=True)
class When:
    """One end of a shift as written: a date (and time), a weekday and time, or a time."""

    pattern: Pattern
    moment: datetime | None = None  # ONCE, UTC
    minute: int | None = None  # WEEKLY: of the week; DAILY: of the day


def parse_when(text: str) -> When:
    """Reads `2026-12-24 18:00` (once), `sat 18:00` / `samedi 18h00` (every week), or
    `18:00` (every day), in the town's time."""
    words = " ".join((text or "").lower().split())
    if match := DATE_RE.match(words):
        day = date.fromisoformat(match.group(1))
        hours, minutes = _time(match.group(2) or "00:00")
        local = datetime(day.year, day.month, day.day, hours, minutes, tzinfo=TOWN_ZONE)
        return When(Pattern.ONCE, moment=local.astimezone(UTC))
    day_word, _, rest = words.partition(" ")
    if day_word in DAYS:
        hours, minutes = _time(rest or "00:00")
        return When(Pattern.WEEKLY, minute=DAYS[day_word] * MINUTES_PER_DAY + hours * 60 + minutes)
    hours, minutes = _time(words)
    return When(Pattern.DAILY, minute=hours * 60 + minutes)


def _time(text: str) -> tuple[int, int]:
    match = TIME_RE.match(text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise RotaError(
            N_("“%(written)s” is not a moment (write 2026-12-24 18:00, sat 18:00 or 18:00)."),
            written=text,
        )
    return int(match.group(1)), int(match.group(2))


def add_shift(session: Session, actor: Actor, service: Service, agent: Agent, start: str,
              end: str, rank: int = 1) -> OnCallShift:  # fmt: skip
    """Puts the agent on the service's rota from `start` to `end` (audited)."""
    first, last = parse_when(start), parse_when(end)
    if first.pattern != last.pattern:
        raise RotaError(N_("Write both ends of a shift the same way: two dates, two "
                           "weekdays or two times."))  # fmt: skip
    if first.pattern == Pattern.ONCE and last.moment <= first.moment:
        raise RotaError(N_("A shift ends after it starts."))
    if first.pattern != Pattern.ONCE and first.minute == last.minute:
        raise RotaError(N_("A shift ends after it starts."))
    if rank < 1:
        raise RotaError(N_("The order starts at 1 (paged first)."))
    if not agent.active:
        raise RotaError(N_("%(email)s is deactivated."), email=agent.email)
    if agent.role != "admin" and service.id not in services_of_agent(session, agent.id):
        # Never paged (they cannot see its reports): a silent hole in the rota at 2 a.m.
        raise RotaError(N_("%(email)s is not an agent of this service."), email=agent.email)
    shift = OnCallShift(service_id=service.id, agent_id=agent.id, rank=rank,
                        pattern=first.pattern, starts_at=first.moment, ends_at=last.moment,
                        from_minute=first.minute, to_minute=last.minute)  # fmt: skip
    session.add(shift)
    session.flush()
    changes = {"from": [None, start.strip()], "to": [None, end.strip()], "order": [None, rank]}
    record(session, actor, Thing.ONCALL, f"{service.code}: {agent.email}", Action.CREATED, changes)
    return shift


def remove_shift(session: Session, actor: Actor, shift_id: int) -> bool:
    shift = session.get(OnCallShift, shift_id)
    if shift is None:
        return False
    service, agent = session.get(Service, shift.service_id), session.get(Agent, shift.agent_id)
    changes = {"when": [describe(shift), None], "order": [shift.rank, None]}
    remove(session, actor, Thing.ONCALL, f"{service.code}: {agent.email}", shift, changes)
    return True


def set_service_hours(session: Session, actor: Actor, service: Service, *, ack_minutes: int,
                      opens: str, closes: str) -> None:  # fmt: skip
    """Sets the service's hours and how long a page waits for an answer (audited)."""
    times = []
    for text in (opens, closes):
        hours, minutes = _time(text)
        times.append(f"{hours:02d}:{minutes:02d}")
    if not 1 <= ack_minutes <= 240:
        raise RotaError(N_("A page waits between 1 and 240 minutes for an answer."))
    if times[0] >= times[1]:
        raise RotaError(N_("A service opens before it closes."))
    row = session.get(OnCallService, service.id) or OnCallService(service_id=service.id)
    before = {"minutes": row.ack_minutes, "opens": row.opens, "closes": row.closes}
    row.ack_minutes, row.opens, row.closes = ack_minutes, *times
    session.add(row)
    after = {"minutes": row.ack_minutes, "opens": row.opens, "closes": row.closes}
    record(session, actor, Thing.ONCALL, service.code, Action.UPDATED, changed(before, after))
    session.flush()


WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def describe(shift: OnCallShift) -> str:
    """A shift's when, as the command line takes it (town time)."""
    if shift.pattern == Pattern.ONCE:
        return " -> ".join(in_town(m).strftime("%Y-%m-%d %H:%M")
                           for m in (shift.starts_at, shift.ends_at))  # fmt: skip

    def at(minute: int) -> str:
        day, rest = divmod(minute, MINUTES_PER_DAY)
        hhmm = f"{rest // 60:02d}:{rest % 60:02d}"
        return f"{WEEKDAY_NAMES[day]} {hhmm}" if shift.pattern == Pattern.WEEKLY else hhmm

    return f"{at(shift.from_minute)} -> {at(shift.to_minute)}"


def chain(session: Session, service_id: int, moment: datetime) -> list[int]:
    """Who is paged, in order: the rota's agents on call at `moment` (first, second...),
    then the service's heads; active agents, each once."""
    local = in_town(moment)
    on_call = [s.agent_id for s in shifts_of_service(session, service_id)
               if s.covers(moment, local)]  # fmt: skip
    ordered = list(dict.fromkeys([*on_call, *head_ids(session, service_id)]))
    active = active_agents(session, ordered)
    return [agent_id for agent_id in ordered if agent_id in active]


# --- paging ----------------------------------------------------------------------------

PAGE_TITLE = N_("URGENT {ref}: {category}")
ACK_BUTTON = N_("I'm handling it")
ACK_HINT = N_("Reply OK {number} to handle it.")
PHOTO = N_("Photo of {ref}")


def report_filed(session: Session, report: Report) -> None:
    """A report filed already urgent pages as one made urgent later (call it once filed)."""
    if report.priority == Priority.URGENT:
        report_became_urgent(session, report)


def report_became_urgent(session: Session, report: Report, now: datetime | None = None) -> int:
    """Pages the on-call chain (out of hours) or pings the service's linked agents (in
    hours) about an urgent report; rows only, in the caller's transaction. A report is
    paged once: made urgent again later, nobody is paged twice. Returns the pages queued."""
    if report.priority != Priority.URGENT or not report.is_open:
        return 0
    if pages_of_report(session, report.id):
        return 0
    now = now or utcnow()
    if in_service_hours(setting_of(session, report.service_id), now):
        linked = linked_agents_of_service(session, report.service_id)
        return sum(_page(session, report, agent_id, None, now) for agent_id in linked)
    return int(_page_from(session, report, 0, now))


def _page_from(session: Session, report: Report, step: int, now: datetime) -> bool:
    """Pages the first agent of the chain from `step` who can get it; False: nobody left."""
    agents = chain(session, report.service_id, now)
    for index in range(step, len(agents)):
        if _page(session, report, agents[index], index, now):
            return True
    return False


def _page(session: Session, report: Report, agent_id: int, step: int | None,
          now: datetime) -> bool:  # fmt: skip
    """Queues the report's card to the agent's linked chat, above every other message."""
    agent = session.get(Agent, agent_id)
    found = linked_chat(session, agent_id)
    if found is None or agent is None or not access.sees(access.scope_of(session, agent), report):
        return False
    _link, chat = found
    if not chat.can_receive:
        return False
    rows = [{"citizen_id": chat.id, "channel": chat.channel, "address": chat.address,
             "payload": reply.to_payload(), "priority": PRIORITY_PAGE, "report_id": report.id}
            for reply in page_card(session, report, chat.channel, chat.language)]  # fmt: skip
    queue_messages(session, rows)
    delay = timedelta(minutes=setting_of(session, report.service_id).ack_minutes)
    session.add(OnCallPage(report_id=report.id, service_id=report.service_id, agent_id=agent_id,
                           step=step, paged_at=now,
                           due_at=now + delay if step is not None else None))  # fmt: skip
    session.add(ReportEvent(report_id=report.id, kind=EventKind.PAGED, agent_id=agent_id,
                            created_at=now))  # fmt: skip
    session.flush()
    return True


def page_card(session: Session, report: Report, channel_name: str, lang: str) -> list[Reply]:
    """The page: the photo where the channel shows one, then the card (category, place,
    description, map link) with the button to acknowledge, or the words to type."""
    lines = card_lines(session, report, lang, PAGE_TITLE, longest=300)
    channel = channels.get(channel_name)
    if channel.can_show_buttons:
        card = Reply("\n".join(lines), choices=[(f"crew:ack:{report.id}",
                                                 translate(lang, ACK_BUTTON))])  # fmt: skip
    else:
        card = Reply("\n".join([*lines, translate(lang, ACK_HINT, number=report.id)]))
    photos = media_of_report(session, report.id) if channel.can_show_photos else []
    first = [Reply(translate(lang, PHOTO, ref=report.ref), photo=photos[0].path)] if photos else []
    return [*first, card]


def escalate_due(session: Session, now: datetime | None = None) -> int:
    """Pages the next agent of the chain for each page unanswered past its delay; returns
    how many pages were escalated."""
    now = now or utcnow()
    escalated = 0
    for page in due_pages(session, now):
        page.due_at = None
        session.add(page)
        report = get_report(session, page.report_id)
        answered = any(p.acknowledged_at for p in pages_of_report(session, page.report_id))
        if report is None or answered or not report.is_open or report.priority != Priority.URGENT:
            continue  # dealt with meanwhile: nobody else to wake
        page.escalated_at = now
        session.add(ReportEvent(report_id=report.id, kind=EventKind.ESCALATED,
                                agent_id=page.agent_id, created_at=now))  # fmt: skip
        _page_from(session, report, page.step + 1, now)
        escalated += 1
    session.flush()
    return escalated


def run_escalations(rt) -> int:
    """The worker's periodic task (app/background.py)."""
    with rt.db.transaction() as session:
        escalated = escalate_due(session)
    if escalated:
        rt.wake_worker()
    return escalated


# --- acknowledging ---------------------------------------------------------------------


class PageRefused(ValueError):
    """Why an acknowledgement is refused: "not_paged" or "answered" (`by`: who did)."""

    def __init__(self, reason: str, number: int, by: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.number, self.by = reason, number, by


def acknowledge(session: Session, agent: Agent, number: int) -> Report:
    """The agent answers a page ("Je m'en occupe"): nobody else is paged about it."""
    pages = pages_of_report(session, number)
    mine = [p for p in pages if p.agent_id == agent.id]
    report = get_report(session, number)
    if not mine or report is None or not access.sees(access.scope_of(session, agent), report):
        raise PageRefused("not_paged", number)
    answered = [p for p in pages if p.acknowledged_at is not None]
    if answered:
        by = session.get(Agent, answered[0].agent_id)
        raise PageRefused("answered", number, by.display_name if by else None)
    now = utcnow()
    mine[-1].acknowledged_at = now
    for page in pages:
        page.due_at = None
        session.add(page)
    session.add(ReportEvent(report_id=number, kind=EventKind.PAGE_ACKNOWLEDGED,
                            agent_id=agent.id, created_at=now))  # fmt: skip
    session.flush()
    return report
