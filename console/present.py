"""How the console shows things: status names, masked phones, SLA clocks, the thread."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from models.report import Report
from services import channels

STATUS_LABELS = {
    "new": _l("New"),
    "acknowledged": _l("Acknowledged"),
    "in_progress": _l("In progress"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
    "duplicate": _l("Duplicate"),
}
# The outbox's words for where a message is: what the agent needs to know.
DELIVERY_LABELS = {
    "queued": _l("queued"),
    "sending": _l("sending"),
    "sent": _l("sent"),
    "delivered": _l("delivered"),
    "read": _l("read"),
    "held": _l("waiting for the citizen"),
    "failed": _l("failed"),
    "dead": _l("not delivered"),
    "cancelled": _l("cancelled"),
}
EVENT_LABELS = {
    "created": _l("Report filed"),
    "citizen_message": _l("Citizen's message"),
    "status": _l("Status change"),
    "reply": _l("Reply to the citizen"),
    "note": _l("Internal note"),
    "follower": _l("New follower"),
    "assigned": _l("Assignment"),
    "recategorised": _l("Category changed"),
    "reopened": _l("Reopened by the citizen"),
    "feedback": _l("Citizen's feedback"),
    "reminder": _l("Waiting message to the followers"),
    "geocoded": _l("Placed on the map"),
    "moderated": _l("Public site"),
    "body": _l("Other body"),
    # On call (services/oncall.py): the event's agent is the one paged, silent, or answering.
    "paged": _l("On-call agent paged"),
    "escalated": _l("Page unanswered: the next one is paged"),
    "page_acknowledged": _l("Page answered"),
}
# What happened with another body (services/bodies.py: the note's "answer").
BODY_LABELS = {
    "forwarded": _l("Forwarded to %(body)s."),
    "reminded": _l("%(body)s reminded: no answer within its response time."),
    "taken": _l("%(body)s has taken it in hand."),
    "done": _l("%(body)s says it is done."),
    "not_ours": _l("%(body)s says it is not responsible: back with the town."),
}
# The public site's moderation (services/moderation.py: the note's "action").
MODERATION_LABELS = {
    "published": _l("Published on the public site, with the citizen's words."),
    "hidden": _l("Hidden from the public site."),
    "text withheld": _l("The citizen's words withheld from the public site."),
    "public text written": _l("Public text written in place of the citizen's words."),
    "photo approved": _l("Photo approved for the public site."),
    "photo withdrawn": _l("Photo withdrawn from the public site."),
}
# The citizen's answer to "is it really fixed?" (kept as "fixed: <verdict>" in the note).
VERDICT_LABELS = {
    "yes": _l("The citizen confirms it is fixed."),
    "no": _l("The citizen says it is not fixed."),
    "partly": _l("The citizen says it is only partly fixed."),
}
# How the bot words a report's placing on the map (services/placing.py, models/report.py),
# and how the console says it; an unknown wording is shown as it is.
GEOCODED_NOTES = (
    (
        re.compile(r"^Placed on the map from the typed address: (?P<label>.+) \(score [\d.]+\)\.$"),
        _l("Placed from the typed address: %(label)s."),
    ),
    (
        re.compile(
            r"^The citizen placed the pin from the link sent by SMS: "
            r"(?P<lat>[-\d.]+), (?P<lon>[-\d.]+) \(before: .*\)\.$"
        ),
        _l("The citizen placed the pin from the link sent by SMS (%(lat)s, %(lon)s)."),
    ),
)
# Placeholders a response template may use, and what fills them.
PLACEHOLDERS = ("name", "ref", "category", "address", "service")


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def citizen_contact(citizen) -> str:
    """What the agent may see of how to reach the citizen."""
    if citizen is None:
        return _("(erased)")
    if citizen.erased_at:
        return _("(erased)")
    channel = channels.get(citizen.channel)
    if channel.mask is channels.mask_phone:  # a phone number: agents see its ends
        return channel.mask(citizen.address)
    return channel_label(citizen.channel)


def channel_label(name: str) -> str:
    """A channel's name as the console shows it, in the agent's language."""
    return channels.label(name, str(get_locale() or "en"))


def channel_labels() -> dict[str, str]:
    """Every registered channel's label (templates and filters)."""
    return {c.name: channel_label(c.name) for c in channels.all_channels()}


@dataclass(frozen=True)
class SlaClock:
    state: str  # "ok", "soon" (last quarter), "overdue", "met", "missed"
    deadline: datetime
    text: str


def sla_clock(report: Report, sla_hours: int, now: datetime) -> SlaClock:
    """Says where a report stands against its category's SLA."""
    deadline = report.created_at + timedelta(hours=sla_hours)
    if not report.is_open:
        done = report.resolved_at or report.closed_at or report.updated_at
        took = format_timedelta(done - report.created_at, threshold=1.1)
        if done <= deadline:
            return SlaClock("met", deadline, _("Dealt with in %(took)s (SLA met)", took=took))
        return SlaClock("missed", deadline, _("Dealt with in %(took)s (SLA missed)", took=took))
    left = deadline - now
    if left < timedelta(0):
        late = format_timedelta(-left, threshold=1.1)
        return SlaClock("overdue", deadline, _("Overdue by %(late)s", late=late))
    state = "soon" if left < timedelta(hours=sla_hours) / 4 else "ok"
    return SlaClock(state, deadline, _("%(left)s left", left=format_timedelta(left, threshold=1.1)))


def is_overdue(report: Report, sla_hours: int, now: datetime) -> bool:
    return report.is_open and now - report.created_at > timedelta(hours=sla_hours)


class _Blank(dict):
    """Leaves unknown placeholders as written, so a typo shows instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill_template(body: str, values: dict) -> str:
    """Fills a response template's placeholders ({name}, {ref}...) for one report."""
    try:
        return body.format_map(_Blank(values))
    except (ValueError, IndexError):  # a stray brace: show the template as it is
        return body


def event_detail(event) -> str | None:
    """Says in words what a citizen's verdict or a placing on the map was; None otherwise."""
    note = event.internal_note or ""
    if event.kind in ("feedback", "reopened"):
        default = "yes" if event.kind == "feedback" else "no"
        verdict = note.removeprefix("fixed:").strip() or default
        return str(VERDICT_LABELS.get(verdict, note))
    if event.kind == "geocoded":
        for pattern, text in GEOCODED_NOTES:
            match = pattern.match(note)
            if match:
                return str(text) % match.groupdict()
        return note
    if event.kind == "body":
        try:
            said = json.loads(note)
        except ValueError:
            return note
        label = BODY_LABELS.get(said.get("answer", ""))
        return str(label) % {"body": said.get("name", "")} if label else note
    if event.kind == "moderated":
        try:
            action = json.loads(note).get("action", "")
        except (ValueError, AttributeError):
            return note
        return str(MODERATION_LABELS.get(action, action))
    return None


def mask_address(channel: str, address: str) -> str:
    """What an agent may see of a message's address: all but its end hidden, by channel
    (each channel's spec says how; one nobody described is masked the strictest way)."""
    return channels.mask(channel, address)


def event_change(event) -> dict:
    """Reads what an assignment or recategorisation changed (kept as JSON in the note)."""
    if event.kind not in ("assigned", "recategorised") or not event.internal_note:
        return {}
    try:
        return json.loads(event.internal_note)
    except ValueError:
        return {}


# --- a category's questions and what made a report urgent (services/urgency.py) ---------

URGENT_REASONS = {
    "category": _l("urgent category"),
    "answer": _l("an answer to the questions"),
    "danger_to_people": _l("danger to people"),
}


def report_answers(report: Report) -> list[tuple[str, str]]:
    """The answers to the category's questions, as (question, answer) in the agent's
    language: the question's wording when the citizen answered it."""
    from models.question import answers_of

    lang = str(get_locale() or "fr")[:2]
    shown = []
    for answer in answers_of(report.answers):
        if answer.kind == "yesno":
            value = _("yes") if answer.value == "yes" else _("no")
        elif answer.kind == "choice":
            value = (answer.label_en if lang == "en" else answer.label_fr) or str(answer.value)
        elif isinstance(answer.value, float):
            value = f"{answer.value:g}"
        else:
            value = str(answer.value)
        shown.append((answer.question(lang), value))
    return shown


def urgency_reason(event) -> str:
    """Why the bot made a report urgent, read from its priority event ('' for an agent's)."""
    try:
        reason = json.loads(event.internal_note or "").get("reason") or {}
    except (ValueError, AttributeError):
        return ""
    said = [str(label) for key, label in URGENT_REASONS.items() if key in reason]
    if reason.get("danger_words"):
        said.append(_("the words “%(words)s”", words=reason["danger_words"]))
    return ", ".join(said)
