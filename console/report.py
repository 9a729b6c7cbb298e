"""A report's page (thread, photos, map, SLA, deliveries) and the actions on it."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import Session
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from console import bp
from console.counter import filed_by
from console.forms import (
    WORDS,
    AssignForm,
    MergeForm,
    NoteForm,
    PublicForm,
    RecategoriseForm,
    ReplyForm,
    StatusForm,
)
from console.present import (
    DELIVERY_LABELS,
    EVENT_LABELS,
    channel_labels,
    citizen_contact,
    event_change,
    event_detail,
    fill_template,
    sla_clock,
    status_label,
)
from console.queue import PRIORITY_LABELS, Lookups, lang, load_lookups
from models.catalog import sla_hours_for
from models.citizen import Citizen, citizens_by_id
from models.console import templates_for
from models.console_queries import follower_count, merged_into, service_ids_by_agent
from models.db import read_number, utcnow
from models.delivery_queries import awaiting_after_reopening, reminded_without_news
from models.messaging import DEAD, FAILED, messages_for_report
from models.report import (
    PRIORITIES,
    REASON_REQUIRED,
    TRANSITIONS,
    EventKind,
    Media,
    Report,
    Status,
    can_transition,
    get_report,
    mark_seen_by_agent,
    media_of_report,
    open_reports_near,
    report_events,
)
from services import crews, moderation, reports
from services.media import photo_response
from services.public_view import description_is_public, public_note_preview
from services.runtime import current_runtime


def visible_report(db, number: int) -> Report:
    """The report, if this agent may see it; 404 otherwise (its existence stays private)."""
    report = get_report(db, number)
    if report is None or not current_user.can_see(report):
        abort(404)
    return report


@bp.get("/reports/<int:number>")
def report_page(number: int):
    """Shows everything about one report, and the forms to act on it."""
    return _render_report(number)


def _render_report(number: int, **extra):
    """The report's page; `extra` replaces a form or adds what it shows (a preview)."""
    rt = current_runtime()
    now = utcnow()
    with rt.db.reading() as db:
        report = visible_report(db, number)
        lookups = load_lookups(db)
        citizen = db.get(Citizen, report.citizen_id) if report.citizen_id else None
        events = report_events(db, number)
        messages = messages_for_report(db, number)
        recipients = citizens_by_id(db, sorted({m.citizen_id for m in messages}))
        event_citizens = citizens_by_id(db, sorted({e.citizen_id for e in events if e.citizen_id}))
        context = {
            "report": report,
            "citizen": citizen,
            "contact": citizen_contact(citizen),
            "events": events,
            "from_field": crews.field_event_ids_of(db, [e.id for e in events]),
            "messages_by_event": _group(messages, lambda m: m.event_id),
            "messages": messages,
            "recipients": recipients,
            "event_citizens": event_citizens,
            "photos": media_of_report(db, number),
            "followers": follower_count(db, number),
            "duplicates": merged_into(db, number),
            "templates": _templates(db, report, citizen, lookups),
            "agent_services": service_ids_by_agent(db),
            "awaiting_reopen": bool(
                report.reopened_count and awaiting_after_reopening(db, [number])
            ),
            "silent": bool(report.is_open and reminded_without_news(db, [number])),
            "nearby": _nearby(db, report),
        }
    if report.seen_by_agent_at is None:
        # The first look: a "public by default" description may go public from now on.
        with rt.db.transaction() as db:
            mark_seen_by_agent(db, number)
        report.seen_by_agent_at = now
    category = lookups.categories.get(report.category_id)
    forms = _forms(report, lookups, context["agent_services"])
    forms["public_form"] = PublicForm(prefix="public", data={"text": report.public_text or ""})
    context["text_public"] = bool(category) and description_is_public(report, category)
    forms.update(extra)
    return render_template(
        "console/report.html",
        **context,
        **forms,
        lookups=lookups,
        now=now,
        sla=sla_clock(report, sla_hours_for(category, report.priority) if category else 72, now),
        status_label=status_label,
        event_labels={
            **EVENT_LABELS,
            EventKind.PRIORITISED: _l("Priority changed"),
            EventKind.PUBLIC_NOTE: _l("Public note"),
            **filed_by(report, context["events"], lookups),
        },
        priority_labels=PRIORITY_LABELS,
        priority_change=_priority_change,
        delivery_labels=DELIVERY_LABELS,
        channel_labels=channel_labels(),
        event_change=event_change,
        event_detail=event_detail,
        retriable=(DEAD, FAILED),
        reason_required=sorted(REASON_REQUIRED),
    )


# How far the merge form looks for the same problem reported twice.
NEARBY_METRES = 300
NEARBY_LIMIT = 5


def _nearby(db, report: Report) -> list[tuple[Report, float]]:
    """The open reports of the same category close by that this agent may see: what the
    merge form offers, nearest first (this report left out)."""
    if not report.is_open or report.lat is None or report.lon is None:
        return []
    near = open_reports_near(
        db, report.lat, report.lon, report.category_id, NEARBY_METRES, limit=NEARBY_LIMIT + 1
    )
    return [(r, d) for r, d in near if r.id != report.id and current_user.can_see(r)][:NEARBY_LIMIT]


def _priority_change(event) -> tuple[str, str] | None:
    """A priority change as (from, to) labels, read from the event's detail."""
    change = event.detail or {}
    try:
        return str(PRIORITY_LABELS[change["from_priority"]]), str(
            PRIORITY_LABELS[change["priority"]]
        )
    except KeyError:
        return None


def _group(items, key: Callable) -> dict:
    grouped: dict = {}
    for item in items:
        grouped.setdefault(key(item), []).append(item)
    return grouped


def _templates(db, report: Report, citizen: Citizen | None, lookups: Lookups) -> list[dict]:
    """The templates that fit this report, their placeholders filled for it."""
    values = {
        "name": (citizen.display_name if citizen else "") or "",
        "ref": f"#{report.id}",
        "category": lookups.category_name(report.category_id),
        "address": report.address or "",
        "service": lookups.service_name(report.service_id),
    }
    return [
        {
            "id": t.id,
            "title": t.title,
            "status": t.status or "",
            "body": fill_template(t.body, values),
        }
        for t in templates_for(db, report.category_id)
    ]


class PublicNoteForm(FlaskForm):
    text = TextAreaField(
        _l("Text of the public note"),
        validators=[DataRequired(), Length(max=moderation.MAX_PUBLIC_TEXT)],
        filters=WORDS,
    )


class PriorityForm(FlaskForm):
    priority = SelectField(
        _l("Priority"),
        choices=[(p.value, p.value) for p in PRIORITIES],
        validators=[DataRequired()],
    )


# A status's natural next step, the status form's default (never a step backwards).
NEXT_STEP = {
    Status.NEW: Status.ACKNOWLEDGED,
    Status.ACKNOWLEDGED: Status.IN_PROGRESS,
    Status.IN_PROGRESS: Status.RESOLVED,
}


def _status_form(report: Report) -> StatusForm:
    """The status form: the moves allowed, the next natural step chosen; none is chosen
    where there is no natural step (a resolved or closed report)."""
    form = StatusForm(prefix="status")
    choices = [
        (s, status_label(s))
        for s in _ordered_statuses(TRANSITIONS[report.status] - {Status.DUPLICATE})
    ]
    step = NEXT_STEP.get(report.status)
    if choices and step is None:
        choices.insert(0, ("", _("%(status)s (current)", status=status_label(report.status))))
    form.status.choices = choices
    form.status.data = step or ""
    return form


def _forms(report: Report, lookups: Lookups, agent_services: dict) -> dict:
    status_form = _status_form(report)
    priority_form = PriorityForm(prefix="priority", data={"priority": report.priority})
    priority_form.priority.choices = [(p.value, PRIORITY_LABELS[p]) for p in PRIORITIES]
    assign_form = AssignForm(prefix="assign", service=report.service_id)
    assign_form.service.choices = [
        (s.id, s.name(lang())) for s in lookups.services.values() if s.active
    ]
    assign_form.assignee.choices = [("", _("Nobody"))] + [
        (a.id, a.display_name)
        for a in lookups.agents.values()
        if a.active and (a.role == "admin" or report.service_id in agent_services.get(a.id, []))
    ]
    assign_form.assignee.data = report.assigned_agent_id
    recategorise_form = RecategoriseForm(prefix="recat", category=report.category_id)
    recategorise_form.category.choices = [
        (c.id, f"{c.name(lang())} — {lookups.service_name(c.service_id)}")
        for c in lookups.categories.values()
        if c.active or c.id == report.category_id
    ]
    return {
        "status_form": status_form,
        "reply_form": ReplyForm(prefix="reply"),
        "note_form": NoteForm(prefix="note"),
        "public_note_form": PublicNoteForm(prefix="pubnote"),
        "assign_form": assign_form,
        "recategorise_form": recategorise_form,
        "merge_form": MergeForm(prefix="merge"),
        "priority_form": priority_form,
    }


def _ordered_statuses(statuses) -> list[str]:
    return [s for s in Status if s in statuses]


# --- actions -------------------------------------------------------------------------


def _act(number: int, action: Callable[[Session], str], *, public: bool):
    """Runs one action in one transaction on a report the agent may see, then goes back.

    The action returns what the agent is told. A public action's messages to the followers
    are queued in that same transaction.
    """
    rt = current_runtime()
    try:
        with rt.db.transaction() as db:
            visible_report(db, number)
            mark_seen_by_agent(db, number)
            success = action(db)
    except reports.ReportError as exc:
        flash(_(exc.text, **exc.values), "error")  # the engine's msgid, in the agent's words
        return redirect(url_for("console.report_page", number=number)), 303
    if public:
        rt.wake_worker()
    flash(success, "success")
    return redirect(url_for("console.report_page", number=number) + "#thread"), 303


def _invalid(form, number: int):
    for field, errors in form.errors.items():
        label = getattr(form, field).label.text if hasattr(form, field) else field
        flash(f"{label}: {' '.join(str(e) for e in errors)}", "error")
    return redirect(url_for("console.report_page", number=number)), 303


def _form_action(
    name: str,
    form_class: type[FlaskForm],
    prefix: str,
    *,
    public: bool,
    unchecked: tuple[str, ...] = (),
):
    """Declares POST /reports/<number>/<name>, an action with one form on one report.

    The form is checked (a wrong one goes back to the page with its errors); the choices of
    the fields named in `unchecked` are left to the service, which knows them. Then the
    decorated `action(db, number, form)` runs through _act and returns what the agent is told.
    """

    def declare(action):
        def view(number: int):
            form = form_class(prefix=prefix)
            for field in unchecked:
                form[field].choices = None
                form[field].validate_choice = False
            if not form.validate():
                return _invalid(form, number)
            return _act(number, lambda db: action(db, number, form), public=public)

        view.__doc__ = action.__doc__
        return bp.post(f"/reports/<int:number>/{name}", endpoint=action.__name__)(view)

    return declare


@bp.post("/reports/<int:number>/status")
def change_status(number: int):
    """Moves the report to a new status and tells its followers."""
    form = StatusForm(prefix="status")
    form.status.choices = [(s, s) for s in TRANSITIONS]
    if not form.validate():
        return _invalid(form, number)
    status = form.status.data
    if status in REASON_REQUIRED and not (form.message.data or "").strip():
        flash(_("Closing a report needs a message to the citizen saying why."), "error")
        return redirect(url_for("console.report_page", number=number)), 303

    def action(db):
        current = get_report(db, number).status
        if not can_transition(current, status):
            raise reports.ReportError(
                _(
                    "A report “%(old)s” cannot become “%(new)s”.",
                    old=status_label(current),
                    new=status_label(status),
                )
            )
        reports.change_status(
            db,
            number,
            status,
            message=form.message.data,
            note=form.note.data,
            agent_id=current_user.id,
        )
        return _(
            "Status changed to “%(status)s”; the followers are being told.",
            status=status_label(status),
        )

    return _act(number, action, public=True)


@_form_action("reply", ReplyForm, "reply", public=True)
def reply(db, number: int, form: ReplyForm) -> str:
    """Sends the agent's words to the followers, status unchanged."""
    reports.reply(db, number, form.message.data, agent_id=current_user.id)
    return _("Reply sent to the followers.")


@bp.post("/reports/<int:number>/public-note")
def public_note(number: int):
    """Shows a public note as the public page will (action "preview"), or publishes it
    there; it is sent to nobody."""
    form = PublicNoteForm(prefix="pubnote")
    if not form.validate():
        return _invalid(form, number)
    text = form.text.data
    if request.form.get("action") == "preview":
        with current_runtime().db.reading() as db:
            report = visible_report(db, number)
            preview = public_note_preview(db, report, text, writer=current_user.display_name)
        return _render_report(number, public_note_form=form, public_note_preview=preview or "")

    def publish(db):
        moderation.add_public_note(db, number, text, agent_id=current_user.id)
        return _("Public note published on the report's public page.")

    return _act(number, publish, public=False)


@_form_action("note", NoteForm, "note", public=False)
def note(db, number: int, form: NoteForm) -> str:
    """Adds an internal note (never sent)."""
    reports.add_note(db, number, form.note.data, agent_id=current_user.id)
    return _("Note added.")


@_form_action("assign", AssignForm, "assign", public=False, unchecked=("service", "assignee"))
def assign(db, number: int, form: AssignForm) -> str:
    """Hands the report to a service and, optionally, one of its agents."""
    reports.assign(
        db,
        number,
        service_id=form.service.data,
        assignee_id=form.assignee.data,
        agent_id=current_user.id,
    )
    return _("Assignment saved.")


@_form_action("category", RecategoriseForm, "recat", public=False, unchecked=("category",))
def recategorise(db, number: int, form: RecategoriseForm) -> str:
    """Moves the report to another category (and its service)."""
    reports.recategorise(db, number, form.category.data, agent_id=current_user.id)
    return _("Category changed.")


@_form_action("priority", PriorityForm, "priority", public=False)
def set_priority(db, number: int, form: PriorityForm) -> str:
    """Sets how pressing the report is: the queue opens with the most pressing."""
    priority = form.priority.data
    reports.set_priority(db, number, priority, agent_id=current_user.id)
    return _("Priority saved: %(priority)s.", priority=PRIORITY_LABELS[priority])


@bp.post("/reports/<int:number>/merge")
def merge(number: int):
    """Merges the report into another as a duplicate; its followers move over, each told.

    The number typed wins; without one, the nearby report picked from the suggestions.
    """
    formdata = request.form.copy()
    picked = formdata.get("merge-pick", "")
    if not formdata.get("merge-target", "").strip() and picked.isdigit():
        formdata["merge-target"] = picked
    form = MergeForm(formdata=formdata, prefix="merge")
    if not form.validate():
        return _invalid(form, number)
    target = reports.parse_ref(form.target.data)

    def action(db):
        other = get_report(db, target)
        if other is None or not current_user.can_see(other):
            raise reports.ReportError(_("There is no report #%(n)d you can see.", n=target))
        reports.change_status(
            db,
            number,
            "duplicate",
            message=form.message.data,
            agent_id=current_user.id,
            duplicate_of=target,
        )
        return _("Merged into #%(n)d; its followers now follow it.", n=target)

    return _act(number, action, public=True)


# The moderation buttons' values -> what they do and what the agent is told.
MODERATION = {
    "publish": (moderation.publish, _l("Published on the public site, with the citizen's words.")),
    "hide": (moderation.hide, _l("Hidden from the public site.")),
    "withhold": (moderation.withhold_text, _l("The citizen's words are no longer public.")),
}


@bp.post("/reports/<int:number>/public")
def moderate(number: int):
    """Publishes, hides, redacts the report on the public site, or approves a photo."""
    form = PublicForm(prefix="public")
    if not form.validate():
        return _invalid(form, number)
    picked = _moderation(number, request.form.get("action", ""), form.text.data or "")
    if picked is None:
        flash(_("Unknown action."), "error")
        return redirect(url_for("console.report_page", number=number)), 303
    change, success = picked

    def action(db):
        change(db)
        return success

    return _act(number, action, public=False)


def _moderation(number: int, action: str, text: str):
    """What a moderation button does to the report and what the agent is told; None for a
    button we do not know."""
    agent = current_user.id
    kind, _sep, photo = action.partition(":")
    media_id = read_number(photo)  # None past nine digits: no photo of ours
    if action in MODERATION:
        change, success = MODERATION[action]
        return lambda db: change(db, number, agent_id=agent), str(success)
    if action == "redact":
        return (
            lambda db: moderation.redact(db, number, text, agent_id=agent),
            _("Public text saved."),
        )
    if kind in ("approve", "withdraw") and media_id is not None:
        approved = kind == "approve"
        return (
            lambda db: moderation.approve_photo(
                db, number, media_id, approved=approved, agent_id=agent
            ),
            _("Photo approved.") if approved else _("Photo withdrawn."),
        )
    return None


@bp.get("/media/<int:media_id>")
def media(media_id: int):
    """Serves a report's photo to the agents who may see the report."""
    rt = current_runtime()
    with rt.db.reading() as db:
        item = db.get(Media, media_id)
        if item is None or item.report_id is None:
            abort(404)
        visible_report(db, item.report_id)
    return photo_response(rt.settings, item.path, item.content_type)
