"""Messages that did not reach the citizen (dead or failed), and the button to try again.

Admins see all of them; an agent sees those about the reports of their services.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from console import bp
from console.admin import admin_nav
from console.present import DELIVERY_LABELS, channel_labels, citizen_contact, mask_address
from models.citizen import citizens_by_id
from models.delivery_queries import undelivered_messages
from models.messaging import Outbox, requeue
from models.report import get_report
from services.runtime import current_runtime

LIMIT = 200  # the newest ones; an older failure can still be retried from its report


@bp.get("/messages")
def undelivered():
    """Lists the dead and failed messages this user may see, newest first."""
    with current_runtime().db.reading() as db:
        messages = undelivered_messages(db, current_user.scope, LIMIT)
        citizens = citizens_by_id(db, sorted({m.citizen_id for m in messages}))
    rows = [
        {
            "message": m,
            "citizen": citizens.get(m.citizen_id),
            "contact": _contact(m, citizens.get(m.citizen_id)),
        }
        for m in messages
    ]
    return render_template(
        "console/messages.html",
        rows=rows,
        limit=LIMIT,
        delivery_labels=DELIVERY_LABELS,
        channel_labels=channel_labels(),
        # Admins reach this page from the admin tabs too: keep them in view.
        sections=admin_nav() if current_user.is_admin else None,
        section=None,
        tab="messages",
    )


def _contact(message: Outbox, citizen) -> str:
    if citizen is None or citizen.erased_at:
        return citizen_contact(citizen)
    return mask_address(message.channel, message.address)


def may_retry(db, message: Outbox) -> bool:
    """Admins may retry any message; an agent, one about a report of their services."""
    if current_user.is_admin:
        return True
    report = get_report(db, message.report_id) if message.report_id else None
    return report is not None and current_user.can_see(report)


@bp.post("/messages/<int:message_id>/retry")
def retry_message(message_id: int):
    """Gives a dead or failed message a new series of tries, and wakes the worker."""
    rt = current_runtime()
    with rt.db.transaction() as db:
        message = db.get(Outbox, message_id)
        if message is None or not may_retry(db, message):
            abort(404)  # another service's message stays private, as its report does
        requeued = requeue(db, message_id)
    if requeued:
        rt.wake_worker()
        flash(_("The message is back in the queue: it will be sent again."), "success")
    else:
        flash(_("This message is no longer undelivered: nothing to retry."), "info")
    return redirect(_back()), 303


def _back() -> str:
    """Back where the button was (a console page of this site), else to the list."""
    target = request.form.get("next", "")
    if target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.undelivered")
