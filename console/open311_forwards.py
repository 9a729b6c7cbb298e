"""Admin › Open311 forwards: the reports pushed to other bodies' back-offices, those still
trying and those that failed with the far end's last error, and a button to try again."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from console import bp
from console.admin import admin_nav
from console.auth import admin_required
from models.open311_forward import ForwardState, recent_forwards, retry_forward
from services.runtime import current_runtime

STATE_LABELS = {
    ForwardState.QUEUED: _l("waiting to be sent"),
    ForwardState.SENDING: _l("being sent"),
    ForwardState.TOKEN_PENDING: _l("accepted, number to come"),
    ForwardState.SENT: _l("sent"),
    ForwardState.FAILED: _l("failed"),
}


@bp.get("/admin/open311-forwards")
@admin_required
def admin_open311_forwards():
    """Lists the forwards, those failing first, with the far end's last error."""
    with current_runtime().db.reading() as db:
        forwards = recent_forwards(db)
    return render_template(
        "console/admin/open311_forwards.html",
        sections=admin_nav(),
        section=None,
        tab="open311-forwards",
        forwards=forwards,
        state_labels=STATE_LABELS,
    )


@bp.post("/admin/open311-forwards/<int:forward_id>/retry")
@admin_required
def admin_open311_forward_retry(forward_id: int):
    """Gives a failed forward a new series of tries (the far end was fixed, say)."""
    with current_runtime().db.transaction() as db:
        found = retry_forward(db, forward_id)
    if found is None:
        abort(404)
    flash(_("The forward of #%(number)s will be tried again.", number=found), "success")
    return redirect(url_for("console.admin_open311_forwards")), 303
