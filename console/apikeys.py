"""Admin › Open311 API keys: the town's other tools post reports with a key made here.

A key is shown once, on the page that answers its creation, and stored only hashed
(models/api_key.py): it never goes through the session, a flash message or a redirect.
Its scope is chosen here: the public view unless the full record is ticked, and the
communes it reads and files in (none ticked: every commune).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from console import bp
from console.admin import admin_nav
from console.auth import admin_required
from console.forms import ApiKeyForm
from models.api_key import ApiKey, KeyView, all_keys
from models.commune import communes
from services import admin
from services.audit import Actor
from services.runtime import current_runtime

OPEN311_ROOT = "/open311/v2"  # the Open311 root every client is told (README)


@bp.get("/admin/api-keys")
@admin_required
def admin_api_keys():
    """Lists the keys (never the keys themselves) and the form to create one."""
    return _page(ApiKeyForm(formdata=None))


def _page(form: ApiKeyForm, new_key: tuple[str, str] | None = None, status: int = 200):
    with current_runtime().db.reading() as db:
        keys = all_keys(db)
        form.communes.choices = _commune_choices(db)
    return render_template(
        "console/admin/api_keys.html",
        sections=admin_nav(),
        section=None,
        tab="api-keys",
        form=form,
        keys=keys,
        new_key=new_key,
        api_root=current_runtime().settings.PUBLIC_BASE_URL.rstrip("/") + OPEN311_ROOT,
    ), status


@bp.post("/admin/api-keys")
@admin_required
def admin_api_key_create():
    """Creates a key and shows it, this once."""
    form = ApiKeyForm()
    rt = current_runtime()
    with rt.db.reading() as db:
        form.communes.choices = _commune_choices(db)
    if not form.validate():
        return _page(form, status=400)
    name = form.name.data.strip()
    view = KeyView.FULL if form.full.data else KeyView.PUBLIC
    try:
        with rt.db.transaction() as db:
            _row, key = admin.create_api_key(
                db, Actor.agent(current_user), name, view=view, communes=form.communes.data or []
            )
    except (admin.AdminError, IntegrityError):  # IntegrityError: made by someone meanwhile
        form.name.errors = [_("A key with this name already exists.")]
        return _page(form, status=400)
    return _page(ApiKeyForm(formdata=None), new_key=(name, key), status=201)


def _commune_choices(db) -> list[tuple[str, str]]:
    return [(zone.insee, f"{zone.name} ({zone.insee})") for zone in communes(db)]


@bp.post("/admin/api-keys/<int:key_id>/revoke")
@admin_required
def admin_api_key_revoke(key_id: int):
    """Revokes a key: the tool using it is refused from now on."""
    rt = current_runtime()
    with rt.db.transaction() as db:
        row = db.get(ApiKey, key_id) or abort(404)
        name = row.name
        revoked = admin.revoke_api_key(db, Actor.agent(current_user), name)
    if revoked:
        flash(_("The key “%(name)s” is revoked.", name=name), "success")
    else:
        flash(_("The key “%(name)s” was already revoked.", name=name), "info")
    return redirect(url_for("console.admin_api_keys")), 303
