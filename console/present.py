"""How the console shows things: status names, masked phones, SLA clocks, the thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from models.report import EventKind, Report, Status
from services import channels

STATUS_LABELS = {
    Status.NEW: _l("New"),
    Status.ACKNOWLEDGED: _l("Acknowledged"),
    Status.IN_PROGRESS: _l("In progress"),
    Status.RESOLVED: _l("Resolved"),
    Status.CLOSED: _l("Closed"),
    Status.DUPLICATE: _l("Duplicate"),
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
    EventKind.CREATED: _l("Report filed"),
    EventKind.CITIZEN_MESSAGE: _l("Citizen's message"),
    EventKind.STATUS: _l("Status change"),
    EventKind.REPLY: _l("Reply to the citizen"),
    EventKind.NOTE: _l("Internal note"),
    EventKind.FOLLOWER: _l("New follower"),
    EventKind.ASSIGNED: _l("Assignment"),
    EventKind.RECATEGORISED: _l("Category changed"),
    EventKind.REOPENED: _l("Reopened by the citizen"),
    EventKind.FEEDBACK: _l("Citizen's feedback"),
    EventKind.REMINDER: _l("Waiting message to the followers"),
    EventKind.GEOCODED: _l("Placed on the map"),
    EventKind.MODERATED: _l("Public site"),
    EventKind.BODY: _l("Other body"),
    # On call (services/oncall.py): the event's agent is the one paged, silent, or answering.
    EventKind.PAGED: _l("On-call agent paged"),
    EventKind.ESCALATED: _l("Page unanswered: the next one is paged"),
    EventKind.PAGE_ACKNOWLEDGED: _l("Page answered"),
}
# What happened with another body (services/bodies.py: the detail's "answer").
BODY_LABELS = {
    "forwarded": _l("Forwarded to %(body)s."),
    "reminded": _l("%(body)s reminded: no answer within its response time."),
    "taken": _l("%(body)s has taken it in hand."),
    "done": _l("%(body)s says it is done."),
    "not_ours": _l("%(body)s says it is not responsible: back with the town."),
}
# The public site's moderation (services/moderation.py: the detail's "action").
MODERATION_LABELS = {
    "published": _l("Published on the public site, with the citizen's words."),
    "hidden": _l("Hidden from the public site."),
    "text withheld": _l("The citizen's words withheld from the public site."),
    "public text written": _l("Public text written in place of the citizen's words."),
    "photo approved": _l("Photo approved for the public site."),
    "photo withdrawn": _l("Photo withdrawn from the public site."),
}
# The citizen's answer to "is it really fixed?" (the detail's "verdict").
VERDICT_LABELS = {
    "yes": _l("The citizen confirms it is fixed."),
    "no": _l("The citizen says it is not fixed."),
    "partly": _l("The citizen says it is only partly fixed."),
}
# How the console says a report's placing on the map (the detail's "source":
# services/placing.py, models/report.py pin_report).
PLACING_LABELS = {
    "typed": _l("Placed from the typed address: %(label)s."),
    "link": _l("The citizen placed the pin from the link sent by SMS (%(lat)s, %(lon)s)."),
}
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
    """Says in words what a citizen's verdict, a placing on the map, another body's answer
    or a moderation was; None for the other events."""
    detail = event.detail or {}
    if event.kind in (EventKind.FEEDBACK, EventKind.REOPENED):
        if event.internal_note:  # written over the verdict when the citizen was erased
            return event.internal_note
        default = "yes" if event.kind == EventKind.FEEDBACK else "no"
        verdict = detail.get("verdict") or default
        return str(VERDICT_LABELS.get(verdict, verdict))
    if event.kind == EventKind.GEOCODED:
        return _placing(detail) or event.internal_note or ""
    if event.kind == EventKind.BODY:
        label = BODY_LABELS.get(detail.get("answer", ""))
        return str(label) % {"body": detail.get("name", "")} if label else ""
    if event.kind == EventKind.MODERATED:
        action = detail.get("action", "")
        return str(MODERATION_LABELS.get(action, action))
    return None


def _placing(detail: dict) -> str | None:
    label = PLACING_LABELS.get(detail.get("source", ""))
    if label is None:
        return None
    if detail["source"] == "link":
        return str(label) % {"lat": f"{detail['lat']:.5f}", "lon": f"{detail['lon']:.5f}"}
    return str(label) % {"label": detail.get("label", "")}


def mask_address(channel: str, address: str) -> str:
    """What an agent may see of a message's address: all but its end hidden, by channel
    (each channel's spec says how; one nobody described is masked the strictest way)."""
    return channels.mask(channel, address)


def event_change(event) -> dict:
    """What an assignment or recategorisation changed (the event's detail)."""
    if event.kind not in (EventKind.ASSIGNED, EventKind.RECATEGORISED):
        return {}
    return event.detail or {}


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
    reason = (event.detail or {}).get("reason") or {}
    said = [str(label) for key, label in URGENT_REASONS.items() if key in reason]
    if reason.get("danger_words"):
        said.append(_("the words “%(words)s”", words=reason["danger_words"]))
    return ", ".join(said)
