"""Admin › Audit log: every agent action on a report, between two dates, as CSV."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Response, render_template, request, stream_with_context
from flask_babel import get_timezone

from bot import audit
from bot.runtime import current_runtime
from console import bp
from console.admin import admin_nav
from console.auth import admin_required
from console.forms import AuditForm
from models.db import utcnow

DEFAULT_DAYS = 30


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
    return render_template(
        "console/admin/audit.html",
        sections=admin_nav(),
        section=None,
        tab="audit",
        form=form,
        header=audit.HEADER,
    ), status


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
        for line in audit.iter_lines(rows):
            yield ("\ufeff" + line) if first else line
            first = False

    name = f"journal-audit-{since.isoformat()}-{until.isoformat()}.csv"
    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
