"""The free-text reader's admin page: try a sentence, the trained versions with their
scores, train a new one and make one the reader in use, export the town's examples and
import another town's (services/nlu, as the bot and `webleads nlu` use them)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from console import bp
from console.admin import admin_nav
from console.auth import admin_required
from console.queue import lang
from models.nlu import all_models
from services.audit import Action, Actor, Thing, record
from services.nlu import examples, reader, training
from services.runtime import current_runtime

# The longest sentence tried (a resident's message is shorter).
MAX_SENTENCE = 1000
SHOWN = 3
# The skipped rows an import lists on the page (the command line lists them all).
BAD_ROWS_SHOWN = 20


@dataclass(frozen=True)
class Version:
    version: int
    created_at: object
    active: bool
    town: int
    held_out: int
    top1: float | None
    top3: float | None
    # expected category: (right, all, [(read instead, how many)])
    confusion: list[tuple[str, int, int, list[tuple[str, int]]]]


def _version(row) -> Version:
    about = json.loads(row.about or "{}")
    scores = about.get("scores") or {}
    held = about.get("held_out", 0)
    confusion = []
    for expected, read in sorted((about.get("confusion") or {}).items()):
        wrong = sorted(((c, n) for c, n in read.items() if c != expected), key=lambda x: -x[1])
        confusion.append((expected, read.get(expected, 0), sum(read.values()), wrong))
    return Version(
        row.version,
        row.created_at,
        row.active,
        about.get("town", 0),
        held,
        scores.get("top1") if held else None,
        scores.get("top3") if held else None,
        confusion,
    )


@bp.get("/admin/reader")
@admin_required
def admin_reader():
    """The guess for a typed sentence, and the reader's versions."""
    rt = current_runtime()
    sentence = (request.args.get("sentence") or "").strip()[:MAX_SENTENCE]
    guess = None
    with rt.db.reading() as db:
        catalog = rt.catalog.get(db)
        if sentence:
            reading = reader.read(db, catalog, sentence)
            names = {c.code: c.name(lang()) for c in catalog.categories}
            guess = {
                "verdict": reading.verdict.value,
                "version": reading.version,
                "ranked": [(names.get(c, c), p) for c, p in reading.ranked[:SHOWN]],
                "place": reading.place.query if reading.place else None,
            }
        versions = [_version(row) for row in reversed(all_models(db))]
    return render_template(
        "console/admin/reader.html",
        sections=admin_nav(),
        section=None,
        tab="reader",
        sentence=sentence,
        guess=guess,
        versions=versions,
        active=next((v.version for v in versions if v.active), None),
    )


@bp.post("/admin/reader/train")
@admin_required
def admin_reader_train():
    """Trains a new version (not active), as `webleads nlu train` does; audited."""
    rt = current_runtime()
    with rt.db.transaction() as db:
        trained = training.train(db, rt.catalog.get(db))
        record(db, Actor.agent(current_user), Thing.READER, "free-text reader", Action.CREATED,
               {"version": [None, trained.version]})  # fmt: skip
    flash(_("Version %(version)s trained (not in use yet).", version=trained.version), "success")
    return redirect(url_for("console.admin_reader")), 303


@bp.post("/admin/reader/<int:version>/activate")
@admin_required
def admin_reader_activate(version: int):
    """Makes a version the reader in use; audited."""
    rt = current_runtime()
    with rt.db.transaction() as db:
        done = training.activate(db, Actor.agent(current_user), version)
    if not done:
        flash(_("There is no version %(version)s.", version=version), "error")
        return redirect(url_for("console.admin_reader")), 303
    flash(_("Version %(version)s is now the reader in use.", version=version), "success")
    return redirect(url_for("console.admin_reader")), 303


@bp.get("/admin/reader/examples.tsv")
@admin_required
def admin_reader_examples():
    """The town's examples as `webleads nlu export` writes them, to download."""
    rt = current_runtime()
    with rt.db.reading() as db:
        found = examples.town_examples(db, rt.catalog.get(db), rt.settings.DEFAULT_LANGUAGE)
    return Response(
        examples.to_tsv(found, examples.HEADERS.get(lang(), examples.HEADER)),
        mimetype="text/tab-separated-values",
        headers={"Content-Disposition": "attachment; filename=examples.tsv"},
    )


@bp.post("/admin/reader/examples")
@admin_required
def admin_reader_import():
    """Adds the examples of an uploaded file, as `webleads nlu import` does; audited."""
    rt = current_runtime()
    upload = request.files.get("examples")
    if upload is None or not upload.filename:
        flash(_("Choose a TSV file of examples to import."), "error")
        return redirect(url_for("console.admin_reader") + "#examples"), 303
    data = upload.read(examples.MAX_FILE_BYTES + 1)
    try:
        with rt.db.transaction() as db:
            done = examples.import_tsv(db, rt.catalog.get(db), data, rt.settings.DEFAULT_LANGUAGE)
            if done.added:
                record(db, Actor.agent(current_user), Thing.READER, "examples", Action.CREATED,
                       {"examples": [None, done.added]})  # fmt: skip
    except examples.ExamplesError as exc:
        flash(_(exc.text, **exc.values), "error")
        return redirect(url_for("console.admin_reader") + "#examples"), 303
    flash(
        _(
            "%(added)d example(s) imported, %(known)d already known, %(bad)d row(s) skipped.",
            added=done.added,
            known=done.duplicates,
            bad=len(done.bad),
        ),
        "success",
    )
    for bad in done.bad[:BAD_ROWS_SHOWN]:
        reason = _(bad.reason, value=bad.value)
        flash(_("Line %(line)d: %(reason)s: %(text)s", line=bad.line, reason=reason,
                text=bad.text), "error")  # fmt: skip
    return redirect(url_for("console.admin_reader") + "#examples"), 303
