"""Admin › Other bodies: who reports that are not the commune's go to, and the rules that
send them (services/bodies.py; every change audited). The same as `webleads body`."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from console import bp
from console.admin import admin_nav
from console.auth import admin_required
from models.body import Body, all_bodies, all_routes, body_by_code
from models.catalog import Category, all_categories
from models.zone import Zone, all_zones
from services import bodies
from services.audit import Actor
from services.runtime import current_runtime


@bp.get("/admin/bodies")
@admin_required
def admin_bodies():
    """Lists the bodies and their rules, with the forms to add or change them."""
    edit = request.args.get("edit")
    with current_runtime().db.reading() as db:
        editing = body_by_code(db, edit) if edit else None
        if edit and editing is None:
            abort(404)
        return render_template(
            "console/admin/bodies.html",
            sections=admin_nav(),
            section=None,
            tab="bodies",
            bodies=all_bodies(db),
            routes=_routes(db),
            categories=all_categories(db),
            zones=all_zones(db),
            editing=editing,
        )


def _routes(db) -> list[dict]:
    found = []
    for rule in all_routes(db):
        zone = db.get(Zone, rule.zone_id) if rule.zone_id else None
        found.append(
            {
                "id": rule.id,
                "category": db.get(Category, rule.category_id),
                "body": db.get(Body, rule.body_id).name,
                "zone": zone.name if zone else None,
                "also": rule.also,
            }
        )
    return found


@bp.post("/admin/bodies")
@admin_required
def admin_body_save():
    """Adds a body, or changes the one with this code."""
    form = request.form
    reach = form.get("reach", "email")
    hours = form.get("hours", "").strip()
    try:
        with current_runtime().db.transaction() as db:
            body, _created = bodies.save_body(
                db,
                Actor.agent(current_user),
                form.get("code", ""),
                form.get("name", ""),
                email=form.get("email", "").strip() if reach == "email" else None,
                endpoint=form.get("endpoint", "").strip() if reach == "open311" else None,
                api_key=form.get("api_key", "").strip() or _kept_key(db, form.get("code", "")),
                hours=int(hours) if hours.isdigit() else None,
                contact_url=form.get("contact_url", ""),
                share_identity=form.get("share_identity") == "on",
                service_codes=_service_codes(form.get("service_codes", "")),
            )
            name = body.name
    except bodies.BodyError as exc:
        flash(_(exc.text, **exc.values), "error")
        return redirect(url_for("console.admin_bodies")), 303
    flash(_("Saved: %(name)s.", name=name), "success")
    return redirect(url_for("console.admin_bodies")), 303


def _kept_key(db, code: str) -> str | None:
    """An Open311 key is never shown again: an empty field keeps the one saved."""
    body = body_by_code(db, code.strip())
    return body.api_key if body else None


def _service_codes(text: str) -> dict[str, str]:
    """`category=service code` lines (an Open311 body's own service codes)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {category.strip(): code.strip() for category, code in pairs if category.strip()}


@bp.post("/admin/bodies/routes")
@admin_required
def admin_body_route_add():
    """Sends a category (within a zone) to a body."""
    form = request.form
    try:
        with current_runtime().db.transaction() as db:
            bodies.add_route(
                db,
                Actor.agent(current_user),
                form.get("category", ""),
                form.get("body", ""),
                zone_name=form.get("zone") or None,
                also=form.get("also") == "on",
            )
    except bodies.BodyError as exc:
        flash(_(exc.text, **exc.values), "error")
    else:
        flash(_("The rule is saved."), "success")
    return redirect(url_for("console.admin_bodies")), 303


@bp.post("/admin/bodies/routes/<int:rule_id>/remove")
@admin_required
def admin_body_route_remove(rule_id: int):
    """Removes a rule: that category's next reports stay with the town."""
    with current_runtime().db.transaction() as db:
        removed = bodies.remove_route(db, Actor.agent(current_user), rule_id)
    if not removed:
        abort(404)
    flash(_("The rule is removed."), "success")
    return redirect(url_for("console.admin_bodies")), 303
