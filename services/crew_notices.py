"""What reaches a field agent's linked chat when a report is assigned to them: the
report's card (reference, category, place, description, map, time left), the citizen's
photo, and the buttons to take it or hand it back. Called by services/reports.py's
`assign`, so below services/crews.py (which works the report from the chat)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from models.agent import Agent
from models.catalog import Category
from models.citizen import Citizen, citizens_by_id
from models.crew import AgentChat, chat_of_agent
from models.db import utcnow
from models.messaging import PRIORITY_NOTIFICATION, queue_messages
from models.report import Report, media_of_report
from services import access, channels
from services.texts import N_, translate
from services.types import Reply


def linked_chat(session: Session, agent_id: int) -> tuple[AgentChat, Citizen] | None:
    link = chat_of_agent(session, agent_id)
    if link is None:
        return None
    chat = citizens_by_id(session, [link.citizen_id]).get(link.citizen_id)
    return (link, chat) if chat is not None else None


def due_at(session: Session, report: Report) -> datetime:
    category = session.get(Category, report.category_id)
    return report.created_at + timedelta(hours=category.sla_hours if category else 72)


# --- messages to the agent's chat -----------------------------------------------------

ASSIGNED = N_("New report for you: {ref}, {category}")
WHERE = N_("Where: {place}")
MAP = N_("Map: {url}")
SLA_LEFT = N_("Time left: {hours} h")
SLA_OVER = N_("Overdue by {hours} h")
TAKE = N_("I'm on it")
DECLINE = N_("Not for us")


def osm_link(lat: float, lon: float) -> str:
    """The place on OpenStreetMap's site, zoomed to the street (what a phone opens)."""
    return (
        f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=19/{lat:.6f}/{lon:.6f}"
    )


def card_lines(session: Session, report: Report, lang: str, title: str, *,
               longest: int = 500) -> list[str]:  # fmt: skip
    """A report in a few lines for an agent's chat: the title (a msgid with {ref} and
    {category}), the place, the description, the map link."""
    category = session.get(Category, report.category_id)
    lines = [translate(lang, title, ref=report.ref, category=category.name(lang))]
    if report.address or report.lat is not None:
        place = report.address or f"{report.lat:.5f}, {report.lon:.5f}"
        lines.append(translate(lang, WHERE, place=place))
    lines.append(report.description[:longest])
    if report.lat is not None:
        lines.append(translate(lang, MAP, url=osm_link(report.lat, report.lon)))
    return lines


def card(session: Session, report: Report, lang: str) -> str:
    """An assigned report: its card, and the time left before its deadline."""
    lines = card_lines(session, report, lang, ASSIGNED)
    hours = (due_at(session, report) - utcnow()).total_seconds() / 3600
    if hours >= 0:
        lines.append(translate(lang, SLA_LEFT, hours=int(hours)))
    else:
        lines.append(translate(lang, SLA_OVER, hours=int(-hours) or 1))
    return "\n".join(lines)


def work_choices(number: int, lang: str) -> list[tuple[str, str]]:
    return [
        (f"crew:take:{number}", translate(lang, TAKE)),
        (f"crew:back:{number}", translate(lang, DECLINE)),
    ]


def tell_assignee(session: Session, report: Report, assignee_id: int | None) -> bool:
    """Sends a new assignment to the agent's linked chat at once (with the citizen's photo)."""
    if assignee_id is None:
        return False
    found = linked_chat(session, assignee_id)
    agent = session.get(Agent, assignee_id)
    if found is None or agent is None or not access.sees(access.scope_of(session, agent), report):
        return False  # no card of a report the agent does not see (another commune's)
    _link, chat = found
    if not chat.can_receive:
        return False
    lang = chat.language
    text = card(session, report, lang)
    photos = media_of_report(session, report.id)
    shows = channels.get(chat.channel).can_show_photos
    if channels.get(chat.channel).can_show_buttons:
        first = Reply(text, choices=work_choices(report.id, lang))
    else:
        hint = translate(lang, "Reply: JE PRENDS {n} or PAS POUR NOUS {n} + why", n=report.id)
        first = Reply(f"{text}\n{hint}")
    rows = (
        [Reply(translate(lang, "Photo of {ref}", ref=report.ref), photo=photos[0].path)]
        if (photos and shows)
        else []
    )
    queue_messages(
        session,
        [
            {
                "citizen_id": chat.id,
                "channel": chat.channel,
                "address": chat.address,
                "payload": reply.to_payload(),
                "priority": PRIORITY_NOTIFICATION,
                "report_id": report.id,
            }
            for reply in [*rows, first]
        ],
    )
    return True
