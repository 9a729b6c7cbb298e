"""Admin › On call: each service's rota (who is paged about urgent reports out of its
hours, in which order, when), its hours and how long a page waits for an answer; and the
dashboard's on-call panel. Every change is audited (services/oncall.py writes the rows)."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from console import MAX_ROW_ID, bp
from console.admin import admin_nav
from console.auth import admin_required
from models.agent import Agent
from models.catalog import Service, all_services
from models.console_queries import all_agents
from models.db import utcnow
from models.oncall import Pattern, all_shifts, page_figures, setting_of
from services import oncall
from services.audit import Actor
from services.runtime import current_runtime
from services.town_clock import in_town

WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday"))  # fmt: skip


@bp.get("/admin/oncall")
@admin_required
def admin_oncall():
    """Shows each service's rota, hours and page delay, and who would be paged now."""
    with current_runtime().db.reading() as db:
        agents = {a.id: a for a in all_agents(db)}
        shifts, now = all_shifts(db), utcnow()
        services = [
            {
                "service": service,
                "hours": setting_of(db, service.id),
                "shifts": [
                    (s, agents[s.agent_id], when(s)) for s in shifts if s.service_id == service.id
                ],
                "now": [agents[a] for a in oncall.chain(db, service.id, now)],
            }
            for service in all_services(db)
        ]
    return render_template("console/admin/oncall.html", sections=admin_nav(), section=None,
                           tab="oncall", services=services,
                           agents=[a for a in agents.values() if a.active])  # fmt: skip


def _number(value: str | None) -> int | None:
    """A form's whole number, None when it is not one a table can hold."""
    value = (value or "").strip()
    return int(value) if value.isdigit() and int(value) <= MAX_ROW_ID else None


def when(shift) -> str:
    """A shift's when in the agent's language (town time)."""
    if shift.pattern == Pattern.ONCE:
        return " → ".join(in_town(m).strftime("%d/%m/%Y %H:%M")
                          for m in (shift.starts_at, shift.ends_at))  # fmt: skip

    def at(minute: int) -> str:
        day, rest = divmod(minute, 1440)
        hhmm = f"{rest // 60:02d}:{rest % 60:02d}"
        return f"{WEEKDAYS[day]} {hhmm}" if shift.pattern == Pattern.WEEKLY else hhmm

    every = _("every week") if shift.pattern == Pattern.WEEKLY else _("every day")
    return f"{at(shift.from_minute)} → {at(shift.to_minute)} ({every})"


@bp.post("/admin/oncall/shifts")
@admin_required
def admin_oncall_add():
    """Puts an agent on a service's rota."""
    form = request.form
    service_id, agent_id, order = (_number(form.get(k)) for k in ("service", "agent", "order"))
    if service_id is None or agent_id is None or order is None:
        abort(400)
    with current_runtime().db.transaction() as db:
        service, agent = db.get(Service, service_id), db.get(Agent, agent_id)
        if service is None or agent is None:
            abort(400)
        try:
            oncall.add_shift(db, Actor.agent(current_user), service, agent,
                             form.get("start", ""), form.get("end", ""), order)  # fmt: skip
        except oncall.RotaError as exc:
            db.rollback()
            flash(_(exc.text, **exc.values), "error")
            return redirect(url_for("console.admin_oncall")), 303
    flash(_("%(agent)s is on the rota.", agent=agent.display_name), "success")
    return redirect(url_for("console.admin_oncall")), 303


@bp.post("/admin/oncall/shifts/<int:shift_id>/remove")
@admin_required
def admin_oncall_remove(shift_id: int):
    with current_runtime().db.transaction() as db:
        if not oncall.remove_shift(db, Actor.agent(current_user), shift_id):
            abort(404)
    flash(_("Removed from the rota."), "success")
    return redirect(url_for("console.admin_oncall")), 303


@bp.post("/admin/oncall/services/<int:service_id>")
@admin_required
def admin_oncall_hours(service_id: int):
    """Sets a service's hours and how long a page waits for an answer."""
    form = request.form
    minutes = _number(form.get("minutes"))
    with current_runtime().db.transaction() as db:
        service = db.get(Service, service_id) or abort(404)
        if minutes is None:
            abort(400)
        try:
            oncall.set_service_hours(db, Actor.agent(current_user), service,
                                     ack_minutes=minutes, opens=form.get("opens", ""),
                                     closes=form.get("closes", ""))  # fmt: skip
        except oncall.RotaError as exc:
            db.rollback()
            flash(_(exc.text, **exc.values), "error")
            return redirect(url_for("console.admin_oncall")), 303
    flash(_("Saved."), "success")
    return redirect(url_for("console.admin_oncall")), 303


def oncall_panel(services: tuple[int, ...] | None, days: int, locale: str) -> list[tuple]:
    """The dashboard's panel, per service: urgent reports paged or pinged, the median wait
    for an answer, escalations; over the period, counted from the page rows directly (the
    daily figures do not hold pages)."""
    from console.dashboard import percentile

    since = utcnow() - timedelta(days=days)
    with current_runtime().db.reading() as db:
        figures = page_figures(db, since, services)
        names = {sid: db.get(Service, sid).name(locale) for sid in figures}
    return [
        (
            names[sid],
            len(line["reports"]),
            _wait(percentile(line["waits"], 0.5)),
            line["escalated"],
        )
        for sid, line in sorted(figures.items(), key=lambda item: names[item[0]])
    ]


def _wait(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    return format_timedelta(timedelta(minutes=minutes), threshold=1.5, add_direction=False)
