"""A report's public change -> one personalised message per follower, in the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_date
from sqlmodel import Session

from models.catalog import Category, Service
from models.citizen import Citizen, State, citizens_by_id, park_idle_conversations
from models.messaging import PRIORITY_NOTIFICATION, queue_messages
from models.report import Report, ReportEvent, follower_ids
from services.texts import N_, translate
from services.town_clock import in_town

# The message a follower gets when a report reaches a status.
STATUS_TEMPLATES = {
    "acknowledged": N_(
        "{greeting} your report {ref} ({about}) has been received by the {service} service."
    ),
    "in_progress": N_(
        "{greeting} work on your report {ref} ({about}) has started: the "
        "{service} service is on it."
    ),
    "resolved": N_(
        "{greeting} your report {ref} ({about}) has been resolved by the {service} "
        "service. Thank you for reporting it!"
    ),
    "closed": N_(
        "{greeting} your report {ref} ({about}) has been closed by the {service} service."
    ),
    "duplicate": N_(
        "{greeting} your report {ref} ({about}) is the same problem as {other}: "
        "you will now get the updates of {other}."
    ),
}
IS_IT_FIXED = N_("Is it really fixed?")
FIXED_CHOICES = [("yes", N_("Yes, fixed")), ("no", N_("No")), ("partly", N_("Partly"))]
REMINDER_TEMPLATE = N_("{greeting} your report {ref} ({about}) is still being handled by the "
                       "{service} service. We expect to deal with it by {date}.")  # fmt: skip
REPLY_TEMPLATE = N_("{greeting} news from the {service} service about your report {ref} ({about}).")
AGENT_WORDS = N_("Their message: {message}")


def expected_by(report: Report, category: Category) -> datetime:
    """When the service should be done, once a report has waited past its SLA."""
    return (report.last_public_update_at or report.created_at) + timedelta(hours=category.sla_hours)


def personalised_text(
    citizen: Citizen,
    report: Report,
    event: ReportEvent,
    category: Category,
    service: Service,
) -> str:
    """Writes the update for one follower, in their language, with their name."""
    lang = citizen.language
    greeting = (
        translate(lang, "Hello {name},", name=citizen.display_name)
        if citizen.display_name
        else translate(lang, "Hello,")
    )
    about = category.name(lang)
    if report.address:
        about += f", {report.address}"
    template = STATUS_TEMPLATES.get(event.to_status or "", REPLY_TEMPLATE)
    if event.kind == "reminder":
        template = REMINDER_TEMPLATE
    text = translate(
        lang,
        template,
        greeting=greeting,
        ref=report.ref,
        about=about,
        service=service.name(lang),
        other=f"#{report.duplicate_of_id}" if report.duplicate_of_id else "",
        date=format_date(in_town(expected_by(report, category)), format="long", locale=lang)
        if event.kind == "reminder"
        else "",
    )
    if event.public_message:
        text += "\n" + translate(lang, AGENT_WORDS, message=event.public_message.strip())
    return text


def queue_for_followers(session: Session, report: Report, event: ReportEvent) -> int:
    """Queues the update for every follower who can receive it; returns how many."""
    citizens = citizens_by_id(session, follower_ids(session, report.id))
    category = session.get(Category, report.category_id)
    service = session.get(Service, report.service_id)
    rows = []
    for citizen in citizens.values():
        if not citizen.can_receive:
            continue
        rows.append(
            {
                "citizen_id": citizen.id,
                "channel": citizen.channel,
                "address": citizen.address,
                "payload": {"text": personalised_text(citizen, report, event, category, service)},
                "priority": PRIORITY_NOTIFICATION,
                "report_id": report.id,
                "event_id": event.id,
            }
        )
    if event.to_status == "resolved" and category.ask_if_fixed:
        _ask_if_fixed(session, report, rows, citizens)
    queue_messages(session, rows)
    return len(rows)


def fixed_choices(report_id: int, language: str) -> list[list[str]]:
    return [[f"fixed:{report_id}:{value}", translate(language, label)]
            for value, label in FIXED_CHOICES]  # fmt: skip


def _ask_if_fixed(session: Session, report: Report, rows: list[dict], citizens: dict) -> None:
    """Asks each follower whether it is really fixed (buttons, or 1/2/3 by text)."""
    by_language: dict[str, list[int]] = {}
    for row in rows:
        language = citizens[row["citizen_id"]].language
        choices = fixed_choices(report.id, language)
        row["payload"]["text"] += "\n" + translate(language, IS_IT_FIXED)
        row["payload"]["choices"] = choices
        by_language.setdefault(language, []).append(row["citizen_id"])
    # A typed "1" must mean "yes" for that report: the conversation remembers the choices.
    for language, ids in by_language.items():
        draft = {"report": report.id, "_offered": fixed_choices(report.id, language)}
        park_idle_conversations(session, ids, State.IS_FIXED, draft)
