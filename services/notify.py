"""A report's public change -> one personalised message per follower, in the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_date
from sqlmodel import Session

from models.catalog import Category, Service
from models.citizen import Citizen, State, park_idle_conversations
from models.messaging import PRIORITY_NOTIFICATION, queue_messages
from models.report import EventKind, Report, ReportEvent, Status
from services.audience import CitizenView, ReportViews, recipients
from services.public_view import GREETING
from services.texts import N_, translate
from services.town_clock import in_town

# The message the author gets when their report reaches a status.
STATUS_TEMPLATES = {
    Status.ACKNOWLEDGED: N_(
        "{greeting} your report {ref} ({about}) has been received by the {service} service."
    ),
    Status.IN_PROGRESS: N_(
        "{greeting} work on your report {ref} ({about}) has started: the "
        "{service} service is on it."
    ),
    Status.RESOLVED: N_(
        "{greeting} your report {ref} ({about}) has been resolved by the {service} "
        "service. Thank you for reporting it!"
    ),
    Status.CLOSED: N_(
        "{greeting} your report {ref} ({about}) has been closed by the {service} service."
    ),
    Status.DUPLICATE: N_(
        "{greeting} your report {ref} ({about}) is the same problem as {other}: "
        "you will now get the updates of {other}."
    ),
}
REMINDER_TEMPLATE = N_("{greeting} your report {ref} ({about}) is still being handled by the "
                       "{service} service. We expect to deal with it by {date}.")  # fmt: skip
REPLY_TEMPLATE = N_("{greeting} news from the {service} service about your report {ref} ({about}).")
# The same news for a follower who did not file the report: it is not theirs.
FOLLOWED_TEMPLATES = {
    Status.ACKNOWLEDGED: N_(
        "{greeting} the report {ref} you follow ({about}) has been received by the "
        "{service} service."
    ),
    Status.IN_PROGRESS: N_(
        "{greeting} work on the report {ref} you follow ({about}) has started: the "
        "{service} service is on it."
    ),
    Status.RESOLVED: N_(
        "{greeting} the report {ref} you follow ({about}) has been resolved by the "
        "{service} service."
    ),
    Status.CLOSED: N_(
        "{greeting} the report {ref} you follow ({about}) has been closed by the {service} service."
    ),
    Status.DUPLICATE: N_(
        "{greeting} the report {ref} you follow ({about}) is the same problem as "
        "{other}: you will now get the updates of {other}."
    ),
}
FOLLOWED_REMINDER = N_("{greeting} the report {ref} you follow ({about}) is still being "
                       "handled by the {service} service. We expect to deal with it by "
                       "{date}.")  # fmt: skip
FOLLOWED_REPLY = N_(
    "{greeting} news from the {service} service about the report {ref} you follow ({about})."
)
# Another body's answer (services/bodies.py), by answer; {body} is its name.
BODY_TEMPLATES = {
    "taken": N_("{greeting} {body} has taken charge of your report {ref} ({about})."),
    "done": N_("{greeting} {body} says it has dealt with your report {ref} ({about})."),
    "not_ours": N_(
        "{greeting} {body} says it is not responsible for your report {ref} ({about}): "
        "{reason}\nThe {service} service takes it back."
    ),
}
FOLLOWED_BODY_TEMPLATES = {
    "taken": N_("{greeting} {body} has taken charge of the report {ref} you follow ({about})."),
    "done": N_("{greeting} {body} says it has dealt with the report {ref} you follow ({about})."),
    "not_ours": N_(
        "{greeting} {body} says it is not responsible for the report {ref} you follow "
        "({about}): {reason}\nThe {service} service takes it back."
    ),
}
IS_IT_FIXED = N_("Is it really fixed?")
FIXED_CHOICES = [("yes", N_("Yes, fixed")), ("no", N_("No")), ("partly", N_("Partly"))]
# Whose words they are, said where they are read (not "their message": whose?).
AGENT_WORDS = N_("Message from the {service} service: {message}")


def expected_by(report: Report, category: Category) -> datetime:
    """When the service should be done, once a report has waited past its SLA."""
    return (report.last_public_update_at or report.created_at) + timedelta(hours=category.sla_hours)


def _template(event: ReportEvent, view: CitizenView) -> str:
    if view.is_author:
        statuses, reminder, reply = STATUS_TEMPLATES, REMINDER_TEMPLATE, REPLY_TEMPLATE
    else:
        statuses, reminder, reply = FOLLOWED_TEMPLATES, FOLLOWED_REMINDER, FOLLOWED_REPLY
    if event.kind == EventKind.REMINDER:
        return reminder
    if event.kind == EventKind.BODY:
        templates = BODY_TEMPLATES if view.is_author else FOLLOWED_BODY_TEMPLATES
        return templates[_body_note(event)["answer"]]
    return statuses.get(event.to_status or "", reply)


def personalised_text(
    citizen: Citizen,
    view: CitizenView,
    report: Report,
    event: ReportEvent,
    category: Category,
    service: Service,
) -> str:
    """Writes the update for one follower, in their language, with their name, from the
    view of the report their audience may read (services/audience.py)."""
    lang = citizen.language
    words = view.words(event.public_message)
    body, reason = (_body_note(event) if event.kind == EventKind.BODY else {}), ""
    if body:  # a body's reason is part of its sentence, not "a message from the service"
        reason, words = words or "", None
    greeting = (
        translate(lang, "Hello {name},", name=citizen.display_name)
        if citizen.display_name
        else translate(lang, "Hello,")
    )
    if words and GREETING.match(words):
        greeting = ""  # the agent greets them already: never "Bonjour" twice
    about = category.name(lang)
    if view.place:
        about += f", {view.place}"
    text = translate(
        lang,
        _template(event, view),
        greeting=greeting,
        ref=report.ref,
        about=about,
        service=service.name(lang),
        other=f"#{report.duplicate_of_id}" if report.duplicate_of_id else "",
        date=format_date(in_town(expected_by(report, category)), format="long", locale=lang)
        if event.kind == EventKind.REMINDER
        else "",
        body=body.get("name", ""),
        reason=reason,
    )
    text = text.strip()
    text = text[:1].upper() + text[1:]
    if words:
        text += "\n" + translate(lang, AGENT_WORDS, service=service.name(lang), message=words)
    return text


def _body_note(event: ReportEvent) -> dict:
    """Which body and which answer an event of kind "body" records (services/bodies)."""
    return event.detail or {}


def queue_for_followers(session: Session, report: Report, event: ReportEvent) -> int:
    """Queues the update for every follower who may receive it; returns how many. Only
    the author is asked whether a resolved report is really fixed."""
    category = session.get(Category, report.category_id)
    service = session.get(Service, report.service_id)
    views = ReportViews(session, report, category, service)
    rows, authors = [], {}
    for citizen, audience in recipients(session, report):
        view = views.for_audience(audience)
        if view is None:
            continue
        text = personalised_text(citizen, view, report, event, category, service)
        rows.append(
            {
                "citizen_id": citizen.id,
                "channel": citizen.channel,
                "address": citizen.address,
                "payload": {"text": text},
                "priority": PRIORITY_NOTIFICATION,
                "report_id": report.id,
                "event_id": event.id,
            }
        )
        if view.is_author:
            authors[citizen.id] = citizen
    if event.to_status == Status.RESOLVED and category.ask_if_fixed:
        _ask_if_fixed(session, report, [r for r in rows if r["citizen_id"] in authors], authors)
    queue_messages(session, rows)
    return len(rows)


def fixed_choices(report_id: int, language: str) -> list[list[str]]:
    return [[f"fixed:{report_id}:{value}", translate(language, label)]
            for value, label in FIXED_CHOICES]  # fmt: skip


def _ask_if_fixed(session: Session, report: Report, rows: list[dict], citizens: dict) -> None:
    """Asks the author whether it is really fixed (buttons, or 1/2/3 by text)."""
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
