"""Admin › Pilot and Admin › Launch kit: opening the service step by step, and telling it.

The pilot's rules live in the database (services/pilot.py): every change here runs in one
transaction, then reloads this process's catalog; other processes follow within its TTL.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from console import bp
from console.admin import admin_nav
from console.auth import admin_required
from console.forms import (
    AllowForm,
    InviteForm,
    PilotOpeningForm,
    PilotServicesForm,
    PilotSwitchForm,
    allowlist_channels,
)
from console.present import channel_labels, mask_address
from console.queue import lang
from console.security import UPLOAD_LIMITS
from models.catalog import all_services
from models.pilot import (
    REFUSED_GROUP,
    REFUSED_SERVICE,
    REFUSED_ZONE,
    PilotAllow,
    admitted_counts,
    all_allowed,
    all_invites,
)
from services import channels, launchkit, pilot, town_logo
from services.audit import Actor
from services.catalog import CatalogCache, PilotRules
from services.runtime import current_runtime
from services.texts import fold

# Why the pilot turned someone away, in the town's words.
REFUSAL_LABELS = {
    REFUSED_GROUP: _l("Not invited"),
    REFUSED_SERVICE: _l("Service not offered yet"),
    REFUSED_ZONE: _l("Outside the pilot zones"),
}
DEMAND_PERIODS = (7, 30, 90)
# The launch kit's documents: URL name -> maker (file names: services.launchkit.FILES).
DOCUMENTS = {
    "poster": launchkit.poster_pdf,
    "flyer": launchkit.flyer_pdf,
    "guide": launchkit.agent_guide_pdf,
}


# --- the pilot -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PilotForms:
    switch: PilotSwitchForm
    services: PilotServicesForm
    opening: PilotOpeningForm
    invite: InviteForm
    allow: AllowForm


FORM_CLASSES = {
    "switch": PilotSwitchForm,
    "services": PilotServicesForm,
    "opening": PilotOpeningForm,
    "invite": InviteForm,
    "allow": AllowForm,
}


def _service_choices(db) -> list[tuple[str, str]]:
    return [(s.code, s.name(lang())) for s in all_services(db) if s.active]


def _rules(db) -> PilotRules:
    """The pilot as the database says now (not this process's cached copy, which may lag)."""
    return CatalogCache().get(db).pilot


@bp.get("/admin/pilot")
@admin_required
def admin_pilot():
    """Shows the pilot: its state, services, opening date, invite codes, allowlist, demand."""
    return _pilot_page()


def _pilot_page(bound: dict | None = None, status: int = 200):
    """The pilot page; `bound` holds the form just answered, shown with its errors."""
    bound = bound or {}
    forms = PilotForms(
        **{
            name: bound.get(name) or cls(prefix=name, formdata=None)
            for name, cls in FORM_CLASSES.items()
        }
    )
    rt = current_runtime()
    days = request.args.get("days", type=int)
    days = days if days in DEMAND_PERIODS else 30
    with rt.db.reading() as db:
        rules = _rules(db)
        choices = _service_choices(db)
        invites = all_invites(db)
        allowed = all_allowed(db)
        demand = pilot.demand(db, days)
        admitted = admitted_counts(db)
    forms.services.services.choices = choices
    if "services" not in bound:
        forms.services.services.data = sorted(rules.services)
    if "opening" not in bound:
        forms.opening.opens_on.data = rules.opens_on
    return render_template(
        "console/admin/pilot.html",
        sections=admin_nav(),
        section=None,
        tab="pilot",
        rules=rules,
        summary=pilot_summary(rules, dict(choices)),
        forms=forms,
        invites=invites,
        links={i.code: _ways(rt.settings, i.code) for i in invites},
        reachable=", ".join(name for name, _ in _ways(rt.settings, None)),
        allowed=[(a, mask_address(a.channel, a.address)) for a in allowed],
        demand=sorted(demand, key=lambda r: (r.day, r.channel, r.reason), reverse=True),
        demand_totals=_demand_totals(demand),
        admitted=_admitted(admitted),
        days=days,
        periods=DEMAND_PERIODS,
        refusal_labels=REFUSAL_LABELS,
        channel_labels=channel_labels(),
        allowed_on=allowlist_channels(),
    ), status


def pilot_summary(rules: PilotRules, service_names: dict[str, str]) -> list[tuple[str, str]]:
    """Says what the pilot restricts, as (what, how) lines (services.pilot.describe, translated)."""
    if not rules.on:
        return [(_("State"), _("Off: the service is open to everyone."))]
    if not rules.restricts:
        return [(_("State"), _("On, but nothing is restricted: open to everyone."))]
    services = [service_names.get(code, code) for code in sorted(rules.services)]
    if rules.groups:
        groups = _("Only residents with an invite code or on the allowlist.")
    else:
        groups = _("Everyone.")
    return [
        (_("State"), _("On.")),
        (_("Zones"), ", ".join(rules.zones) if rules.zones else _("The whole town.")),
        (_("Services"), ", ".join(services) if services else _("All.")),
        (_("Who may report"), groups),
        (_("Opens to everyone"), rules.opens_on or _("Date not set.")),
    ]


def _ways(settings, code: str | None) -> list[tuple[str, str | None]]:
    """How a resident uses a code on each channel set up, from its invite (as the public
    site and the launch kit do): (its name, a link carrying the code, or None: send it)."""
    ways = []
    for channel in channels.reachable():
        try:
            invite = channel.invite(settings, code)
        except channels.InviteUnavailable:
            continue  # its provider did not say how to reach it
        if invite is None:
            continue  # not set up
        url = invite.url
        if url and code and code not in url:
            url = channels.prepared(url, code.upper())  # a message prepared with the code
        ways.append((channel_labels()[channel.name], url if code else None))
    return ways


def _demand_totals(demand: list[pilot.DemandRow]) -> list[tuple[str, int]]:
    totals: Counter[str] = Counter()
    for row in demand:
        totals[row.reason] += row.contacts
    return [(reason, totals[reason]) for reason in REFUSAL_LABELS if totals[reason]]


def _admitted(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Who was let in, by way: each invite code, the allowlist, earlier reports."""
    words = {"allowlist": _("Allowlist"), "earlier report": _("Already following a report")}
    rows = []
    for via, n in sorted(counts.items()):
        if via.startswith("code:"):
            rows.append((_("Invite code %(code)s", code=via.removeprefix("code:")), n))
        else:
            rows.append((words.get(via, via or _("Other")), n))
    return rows


def _actor() -> Actor:
    return Actor.agent(current_user)


def _change(change: Callable, success: str, form=None, field=None, name: str = ""):
    """Runs one change to the pilot in a transaction, then reloads the catalog.

    A PilotError is shown under the form's field (or as a message when there is no form).
    """
    rt = current_runtime()
    try:
        with rt.db.transaction() as db:
            change(db)
    except pilot.PilotError as exc:
        if form is None:
            flash(_(exc.text, **exc.values), "error")  # the msgid, in the admin's words
            return redirect(url_for("console.admin_pilot")), 303
        field.errors = [*field.errors, str(exc)]
        return _pilot_page({name: form}, 400)
    rt.catalog.invalidate()
    flash(success, "success")
    return redirect(url_for("console.admin_pilot")), 303


@bp.post("/admin/pilot/switch")
@admin_required
def admin_pilot_switch():
    """Turns the pilot on (its rules apply) or off (open to everyone, rules kept)."""
    form = PilotSwitchForm(prefix="switch")
    if not form.validate():
        abort(400)
    on = form.on.data == "1"
    success = (
        _("The pilot is on: its rules apply.")
        if on
        else _("The pilot is off: the service is open to everyone.")
    )
    return _change(lambda db: pilot.switch(db, _actor(), on), success)


@bp.post("/admin/pilot/services")
@admin_required
def admin_pilot_services():
    """Limits the pilot to some services' categories (none ticked: all)."""
    form = PilotServicesForm(prefix="services")
    with current_runtime().db.reading() as db:
        form.services.choices = _service_choices(db)
    if not form.validate():
        return _pilot_page({"services": form}, 400)
    codes = form.services.data or []
    return _change(
        lambda db: pilot.set_services(db, _actor(), codes),
        _("Services of the pilot saved."),
        form,
        form.services,
        "services",
    )


@bp.post("/admin/pilot/opening")
@admin_required
def admin_pilot_opening():
    """Sets when the service opens to everyone, as residents will read it."""
    form = PilotOpeningForm(prefix="opening")
    if not form.validate():
        return _pilot_page({"opening": form}, 400)
    text = form.opens_on.data or ""
    return _change(lambda db: pilot.set_opening(db, _actor(), text), _("Opening date saved."))


@bp.post("/admin/pilot/codes")
@admin_required
def admin_pilot_add_code():
    """Creates an invite code (or reactivates one)."""
    form = InviteForm(prefix="invite")
    if not form.validate():
        return _pilot_page({"invite": form}, 400)
    code, label = form.code.data, form.label.data or ""
    return _change(
        lambda db: pilot.add_code(db, _actor(), code, label),
        _("Invite code %(code)s is active.", code=fold(code).strip()),
        form,
        form.code,
        "invite",
    )


@bp.post("/admin/pilot/codes/<code>/deactivate")
@admin_required
def admin_pilot_deactivate_code(code: str):
    """Stops an invite code from letting new residents in (those let in stay in)."""
    return _change(
        lambda db: pilot.deactivate_code(db, _actor(), code),
        _("Invite code %(code)s is deactivated.", code=code),
    )


@bp.post("/admin/pilot/allowlist")
@admin_required
def admin_pilot_allow():
    """Adds a phone number or a Telegram user id to the allowlist."""
    form = AllowForm(prefix="allow")
    if not form.validate():
        return _pilot_page({"allow": form}, 400)
    region = current_runtime().settings.DEFAULT_REGION
    text, label = form.identity.data, form.label.data or ""
    return _change(
        lambda db: pilot.allow(db, _actor(), text, label, region),
        _("Added to the allowlist."),
        form,
        form.identity,
        "allow",
    )


@bp.post("/admin/pilot/allowlist/<int:entry_id>/remove")
@admin_required
def admin_pilot_disallow(entry_id: int):
    """Takes an entry off the allowlist (a resident already let in stays in)."""
    rt = current_runtime()
    with rt.db.reading() as db:
        entry = db.get(PilotAllow, entry_id) or abort(404)
        address = entry.address
    region = rt.settings.DEFAULT_REGION
    return _change(
        lambda db: pilot.disallow(db, _actor(), address, region), _("Removed from the allowlist.")
    )


# --- the launch kit ------------------------------------------------------------------------


@bp.get("/admin/launch-kit")
@admin_required
def admin_launch_kit():
    """Shows what the poster, the flyer and the guide will print, with their downloads."""
    rt = current_runtime()
    code = _chosen_code()
    error = None
    kit = None
    with rt.db.reading() as db:
        codes = [i.code for i in all_invites(db) if i.active]
    try:
        kit = launchkit.kit_for(rt, code)
    except launchkit.LaunchKitError:
        printable = ", ".join(channel_labels()[c.name] for c in channels.reachable())
        error = _(
            "Nothing to print yet: set up a channel residents can reach first (%(channels)s); "
            "its settings are in .env.example.",
            channels=printable,
        )
    return render_template(
        "console/admin/launch_kit.html",
        sections=admin_nav(),
        section=None,
        tab="launch-kit",
        kit=kit,
        error=error,
        codes=codes,
        code=code or "",
    )


def _chosen_code() -> str | None:
    """The invite code asked for (one of the active codes), or None for the automatic one."""
    code = (request.args.get("code") or "").strip()
    if not code:
        return None
    with current_runtime().db.reading() as db:
        if code not in {i.code for i in all_invites(db) if i.active}:
            abort(404)
    return code


# A logo may be larger than the app's 1 MB form limit (a multipart form adds a little).
UPLOAD_LIMITS["console.admin_launch_kit_logo"] = town_logo.LOGO_MAX_BYTES + 64 * 1024


@bp.post("/admin/launch-kit/logo")
@admin_required
def admin_launch_kit_logo():
    """Keeps the town's logo for the poster and the flyer (or removes it)."""
    upload = request.files.get("logo")
    png = None
    if request.form.get("action") != "remove":
        try:
            png = town_logo.logo_png(upload.read(town_logo.LOGO_MAX_BYTES + 1) if upload else b"")
        except town_logo.LogoError:
            flash(_("The logo must be a PNG or JPEG picture of at most 2 MB."), "error")
            return redirect(url_for("console.admin_launch_kit")), 303
    rt = current_runtime()
    with rt.db.transaction() as db:
        town_logo.store_logo(db, _actor(), png)
    rt.catalog.invalidate()
    flash(_("Logo saved: it is on the poster and the flyer.") if png else _("Logo removed."))
    return redirect(url_for("console.admin_launch_kit")), 303


@bp.get("/admin/launch-kit/<document>.pdf")
@admin_required
def admin_launch_kit_pdf(document: str):
    """Sends the poster, the flyer or the agents' guide as a PDF."""
    make = DOCUMENTS.get(document) or abort(404)
    rt = current_runtime()
    code = _chosen_code()
    try:
        kit = launchkit.kit_for(rt, code)
    except launchkit.LaunchKitError as exc:
        flash(_("The launch kit cannot be made: %(why)s", why=str(exc)), "error")
        return redirect(url_for("console.admin_launch_kit")), 303
    return send_file(
        io.BytesIO(make(kit)),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=_file_name(document, kit),
    )


def _file_name(document: str, kit: launchkit.Kit) -> str:
    """`affiche-A4-vitre.pdf`: the kit's file name with the town (and the code) in it."""
    stem = launchkit.FILES[document].removesuffix(".pdf")
    town = re.sub(r"[^a-z0-9]+", "-", fold(kit.town)).strip("-")
    parts = [stem, town] + ([kit.invite_code] if kit.invite_code else [])
    return "-".join(p for p in parts if p) + ".pdf"
