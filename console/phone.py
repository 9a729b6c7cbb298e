"""“Mon téléphone”: an agent links their chat app to the console for field work.

The code is shown once, here; only its hash is stored (services/crews.py).
"""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from console import bp
from models.agent import Agent
from models.scope import Communes
from services import channels, crew_links, crew_notices, crews
from services.runtime import current_runtime


@bp.get("/phone")
def phone():
    """Shows the agent's linked chat, their last field action, and how to link one."""
    return _page(current_user.id)


@bp.post("/phone/code")
def phone_code():
    """Makes a fresh one-time code (10 minutes) and shows it with its deep links."""
    rt = current_runtime()
    with rt.db.transaction() as db:
        code = crew_links.issue_code(db, current_user.id, rt.settings.SECRET_KEY)
    links = crew_links.deep_links(rt.settings, code)
    shown = [(label, url, _qr_svg(url)) for label, url in links]
    return _page(current_user.id, code=code, links=shown)


@bp.post("/phone/unlink")
def phone_unlink():
    """Unlinks the agent's chat: it is a plain chat again, with no agent powers."""
    rt = current_runtime()
    with rt.db.transaction() as db:
        done = crew_links.unlink_agent(db, current_user.id)
    flash(_("Your phone is unlinked.") if done else _("No phone was linked."), "success")
    return redirect(url_for("console.phone")), 303


@bp.get("/agents/<int:agent_id>/phone")
def agent_phone(agent_id: int):
    """An admin sees any agent's linked chat and last field action."""
    if not current_user.is_admin:
        abort(404)
    return _page(agent_id, mine=False)


def _page(agent_id: int, *, code: str | None = None, links=(), mine: bool = True):
    rt = current_runtime()
    with rt.db.reading() as db:
        agent = db.get(Agent, agent_id)
        if agent is None:
            abort(404)
        found = crew_notices.linked_chat(db, agent_id)
    chat = None
    if found is not None:
        link, citizen = found
        chat = {
            "channel": channels.label(link.channel, str(get_locale())),
            "address": channels.mask(citizen.channel, citizen.address),
            "linked_at": link.linked_at,
            "last_action": link.last_field_action_at,
        }
    return render_template(
        "console/phone.html",
        agent=agent,
        chat=chat,
        code=code,
        links=links,
        mine=mine,
        minutes=int(crew_links.CODE_LIFETIME.total_seconds() // 60),
    )


def _qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


def field_share(
    services: tuple[int, ...] | None, locale: str, communes: Communes = ()
) -> list[tuple[str, int, int, str]]:
    """Per service: reports resolved, how many from a field agent's chat, and the share;
    of these services (None: all) and communes (empty: all), as the rest of the dashboard."""
    from flask_babel import format_percent

    rt = current_runtime()
    with rt.db.reading() as db:
        shares = crews.resolved_from_field(db, services, communes)
        names = crews.service_names(db, list(shares), locale)
    return [
        (names[sid], total, field, format_percent(field / total) if total else "—")
        for sid, (total, field) in sorted(shares.items())
    ]
