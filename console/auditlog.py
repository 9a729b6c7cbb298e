"""Admin › Audit log: every agent action on a report, between two dates, as CSV; and the
latest admin changes to how the service runs (roles, services, zones, pilot, keys...).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Response, render_template, request, stream_with_context
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from console import bp
from console.admin import admin_nav
from console.auth import admin_required
from console.forms import AuditForm
from models.audit import admin_changes
from models.db import utcnow
from services import audit
from services.runtime import current_runtime

DEFAULT_DAYS = 30
RECENT_CHANGES = 200  # the page's list; each change also shows on the page it was made
THING_LABELS = {
    audit.Thing.SERVICE: _l("Service"),
    audit.Thing.CATEGORY: _l("Category"),
    audit.Thing.AGENT: _l("Agent"),
    audit.Thing.TEMPLATE: _l("Response template"),
    audit.Thing.ZONE: _l("Zone"),
    audit.Thing.PILOT: _l("Pilot"),
    audit.Thing.INVITE_CODE: _l("Invite code"),
    audit.Thing.ALLOWLIST: _l("Allowlist"),
    audit.Thing.API_KEY: _l("API key"),
    audit.Thing.LOGO: _l("Town logo"),
    audit.Thing.READER: _l("Free-text reader"),
    audit.Thing.BODY: _l("Other body"),
    audit.Thing.BODY_ROUTE: _l("Routing to another body"),
    audit.Thing.DANGER_WORDS: _l("Danger words"),
    audit.Thing.ONCALL: _l("On call"),
}
# The audit export's columns (services/audit.py HEADER), as the admin reads them.
COLUMN_LABELS = {
    "when": _l("When"),
    "agent": _l("Agent"),
    "report": _l("Report"),
    "action": _l("Action"),
    "from": _l("From status"),
    "to": _l("To status"),
    "public_message": _l("Public message"),
    "internal_note": _l("Internal note"),
}
# What an admin change changed, field by field (services/admin.py, agents.py, pilot.py...).
FIELD_LABELS = {
    "code": _l("Code"),
    "name": _l("Name"),
    "name_fr": _l("Name in French"),
    "name_en": _l("Name in English"),
    "service_id": _l("Service"),
    "service": _l("Service"),
    "services": _l("Services"),
    "category_id": _l("Category"),
    "kind": _l("Kind"),
    "sla_hours": _l("Deadline (hours)"),
    "photo_required": _l("Photo required"),
    "ask_if_fixed": _l("Ask the citizen whether it is fixed"),
    "description_public": _l("Citizens' descriptions public on the public site"),
    "position": _l("Position"),
    "active": _l("Active"),
    "title": _l("Title"),
    "status": _l("Status"),
    "body": _l("Text"),
    "email": _l("Email"),
    "role": _l("Role"),
    "password": _l("Password"),
    "label": _l("Label"),
    "channel": _l("Channel"),
    "communes": _l("Communes"),
    "on": _l("Running"),
    # another body and its rules (services/bodies.py)
    "endpoint": _l("Open311 endpoint"),
    "api_key": _l("Open311 API key"),
    "service_codes": _l("Open311 service codes"),
    "response_hours": _l("Response time (hours)"),
    "contact_url": _l("Contact page for residents"),
    "share_identity": _l("Resident's identity sent"),
    "category": _l("Category"),
    "other_body": _l("Body"),
    "zone": _l("Zone"),
    "also": _l("The town's service keeps it too"),
    "questions": _l("Questions"),
    "urgent_by_default": _l("Every report of this category is urgent"),
    "urgent_sla_hours": _l("Deadline of an urgent report (hours)"),
    "danger_words": _l("Danger words"),
}
# The few words the audit trail keeps in place of a value.
VALUE_LABELS = {
    "(set)": _l("(set)"),
    "(old)": _l("(old)"),
    "(new)": _l("(new)"),
    "all": _l("all"),
    "shared": _l("shared"),
}
ACTION_LABELS = {
    audit.Action.CREATED: _l("created"),
    audit.Action.UPDATED: _l("changed"),
    audit.Action.REMOVED: _l("removed"),
}


@bp.get("/admin/audit")
@admin_required
def admin_audit():
    """Shows the export form (the last 30 days by default)."""
    form = AuditForm(formdata=None)
    today = _today()
    form.since.data, form.until.data = today - timedelta(days=DEFAULT_DAYS - 1), today
    return _page(form)


def _zone() -> ZoneInfo:
    return ZoneInfo(str(get_timezone()))


def _today() -> date:
    return utcnow().astimezone(_zone()).date()


def _midnight(day: date) -> datetime:
    """The start of a day in the town's time zone (the dates an admin picks are local)."""
    return datetime.combine(day, time.min, tzinfo=_zone())


def _page(form: AuditForm, status: int = 200):
    with current_runtime().db.reading() as db:
        changes = admin_changes(db, limit=RECENT_CHANGES)
    return render_template(
        "console/admin/audit.html",
        sections=admin_nav(),
        section=None,
        tab="audit",
        form=form,
        header=[COLUMN_LABELS.get(h, h) for h in audit.HEADER],
        changes=[(change, describe(change.changes)) for change in changes],
        limit=RECENT_CHANGES,
        thing_labels=THING_LABELS,
        action_labels=ACTION_LABELS,
        actor_label=actor_label,
    ), status


def describe(changes: dict) -> str:
    """Says what an admin change changed: `sla_hours: 72 → 96; active: yes → no`."""
    return "; ".join(
        _("%(field)s: %(before)s → %(after)s", field=FIELD_LABELS.get(field, field),
          before=_shown(before), after=_shown(after))
        for field, (before, after) in changes.items()
    )  # fmt: skip


def actor_label(actor: str) -> str:
    """Who made an admin change: an agent's email, or the command line (in words)."""
    if actor.startswith("command line (") and actor.endswith(")"):
        return _("command line (%(user)s)", user=actor.removeprefix("command line (")[:-1])
    return actor


def _shown(value) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    if isinstance(value, str) and value in VALUE_LABELS:
        return str(VALUE_LABELS[value])
    return "—" if value in (None, "") else str(value)


@bp.get("/admin/audit.csv")
@admin_required
def admin_audit_csv():
    """Streams the agents' actions of the period as CSV (UTF-8 with BOM, for spreadsheets)."""
    form = AuditForm(request.args)
    if not form.validate():
        return _page(form, 400)
    since, until = form.since.data, form.until.data
    with current_runtime().db.reading() as db:
        # The end day is included: the export stops at the start of the day after.
        rows = audit.audit_rows(db, _midnight(since), _midnight(until + timedelta(days=1)))

    def lines():
        first = True
        header = [str(COLUMN_LABELS.get(h, h)) for h in audit.HEADER]
        for line in audit.iter_lines(rows, header):
            yield ("\ufeff" + line) if first else line
            first = False

    name = f"journal-audit-{since.isoformat()}-{until.isoformat()}.csv"
    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
