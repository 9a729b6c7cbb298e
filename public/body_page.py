"""The page another body answers on (`/b/<token>`), without an account.

The link came in the e-mail forwarding the report (services/bodies.py): it is signed,
names one report sent to one body, and acts while the report is open. The body says
taken, done (a photo allowed, kept as sent and decoded by the worker like every
channel's) or not ours (with a reason: the report goes back to the town's queue). The
page verifies, stores and answers in one transaction; the resident is told through the
outbox.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from models.body import Answer, BodyForward
from services import bodies
from services.bodies import BODY_PATH, LinkProblem
from services.media import MAX_PHOTO_BYTES, PhotoError, drop_upload, keep_upload
from services.runtime import Runtime, current_runtime
from services.storage import StoreUnavailable
from services.texts import N_, pick_language, status_name, translate

bp = Blueprint("body", __name__, template_folder="templates")

MAX_UPLOAD_BYTES = MAX_PHOTO_BYTES + 64 * 1024

TEXTS = {
    "title": N_("Report {ref} for {body}"),
    "intro": N_(
        "{town} forwarded this report to {body}. Say where it stands: the resident "
        "who reported it is told each answer."
    ),
    "category": N_("Category"),
    "place": N_("Place"),
    "map": N_("See on the map"),
    "description": N_("Description"),
    "photos": N_("Photos"),
    "status": N_("Status"),
    "last_answer": N_("Your last answer"),
    "answer": N_("Your answer"),
    "taken": N_("Taken in hand: we are dealing with it"),
    "done": N_("Done: the problem is solved"),
    "not_ours": N_("Not ours: this is not for us to deal with"),
    "reason": N_("Reason (required when it is not yours; the resident reads it)"),
    "photo": N_("Photo of the work done (optional, JPEG, PNG or WebP)"),
    "send": N_("Send the answer"),
    "thanks_title": N_("Thank you"),
    "thanks": N_("Your answer is recorded in the history of {ref}; the resident is told."),
    "need_reason": N_("Say why it is not yours: the town and the resident need to know."),
    "bad_photo": N_("This file is not a picture we can use (JPEG, PNG or WebP, up to {limit} MB)."),
    "store_down": N_(
        "The photo could not be saved just now; nothing was recorded. Please try again in a minute."
    ),
    "invalid_title": N_("This link does not work"),
    "invalid": N_(
        "This link is not valid. Check that you opened the whole link from the "
        "e-mail, or ask the town for a new one."
    ),
    "expired_title": N_("This link has expired"),
    "expired": N_("This link is too old to use. Ask the town for a new one."),
    "closed_title": N_("This report is closed"),
    "closed": N_(
        "The report is closed or back with the town: this link no longer acts. "
        "Thank you for your help."
    ),
}
PROBLEM_STATUS = {"invalid": 404, "expired": 410, "closed": 410}
ANSWERS = tuple(Answer)


def _language(rt: Runtime) -> str:
    best = request.accept_languages.best_match(["fr", "en"])
    return pick_language(best, rt.settings.DEFAULT_LANGUAGE)


@bp.get(BODY_PATH + "<token>")
def page(token: str) -> Response:
    """Shows the report and the three answers."""
    rt = current_runtime()
    language = _language(rt)
    try:
        forward_id = bodies.read_token(rt.settings.SECRET_KEY, token)
        with rt.db.reading() as session:
            view = _view(rt, session, forward_id, language)
    except LinkProblem as problem:
        return _problem(rt, str(problem), language)
    return _page(rt, "body/page.html", language, view)


@bp.post(BODY_PATH + "<token>")
def submit(token: str) -> Response:
    """Records the body's answer and tells the resident."""
    rt = current_runtime()
    language = _language(rt)
    request.max_content_length = MAX_UPLOAD_BYTES
    try:
        forward_id = bodies.read_token(rt.settings.SECRET_KEY, token)
        with rt.db.reading() as session:
            view = _view(rt, session, forward_id, language)
        return _receive(rt, forward_id, language, view)
    except LinkProblem as problem:
        return _problem(rt, str(problem), language)


def _receive(rt: Runtime, forward_id: int, language: str, view: dict) -> Response:
    try:
        what = request.form.get("answer", "")
        reason = request.form.get("reason", "").strip()
        upload_file = request.files.get("photo")
        photo = upload_file.read() if upload_file is not None and upload_file.filename else b""
    except RequestEntityTooLarge:
        return _page(rt, "body/page.html", language, view, error="bad_photo", status=413)
    if what not in ANSWERS:
        return _page(rt, "body/page.html", language, view, status=400)
    if what == Answer.NOT_OURS and not reason:
        return _page(rt, "body/page.html", language, view, error="need_reason", status=400)
    upload = None
    if photo and what == Answer.DONE:
        try:
            upload = keep_upload(photo, rt.settings)
        except PhotoError:
            return _page(rt, "body/page.html", language, view, error="bad_photo", status=400)
        except StoreUnavailable:
            return _page(rt, "body/page.html", language, view, error="store_down", status=503)
    try:
        with rt.db.transaction() as session:
            bodies.answer(session, forward_id, what, reason=reason, upload=upload)
    except LinkProblem:
        if upload is not None:
            drop_upload(rt.settings, upload)
        raise
    rt.wake_worker()
    return _page(rt, "body/thanks.html", language, view)


def _view(rt: Runtime, session, forward_id: int, language: str) -> dict:
    """What the page shows; LinkProblem("invalid"|"closed") when the link no longer acts."""
    forward: BodyForward = bodies.usable_forward(session, forward_id)
    view = bodies.forward_view(session, forward, rt.settings.PUBLIC_BASE_URL, language)
    town = rt.catalog.get(session).area_name
    return {
        "ref": view.report.ref,
        "body": view.body.name,
        "town": town,
        "category": view.category,
        "place": view.place,
        "map_url": view.map_url,
        "description": view.report.description,
        "photos": view.photos,
        "status": status_name(language, view.report.status),
        "last_answer": forward.answer,
    }


def _texts(language: str, view: dict) -> dict[str, str]:
    fill = {"ref": "", "body": "", "town": "", "limit": MAX_PHOTO_BYTES // (1024 * 1024)}
    fill.update({k: v for k, v in view.items() if isinstance(v, str)})
    return {key: translate(language, msgid).format(**fill) for key, msgid in TEXTS.items()}


def _page(rt: Runtime, template: str, language: str, view: dict, *, error: str | None = None,
          status: int = 200) -> Response:  # fmt: skip
    texts = _texts(language, view)
    html = render_template(template, t=texts, lang=language, view=view, answers=ANSWERS,
                           error=texts.get(error) if error else None)  # fmt: skip
    return _secured(Response(html, status=status))


def _problem(rt: Runtime, kind: str, language: str) -> Response:
    kind = kind if kind in PROBLEM_STATUS else "invalid"
    texts = _texts(language, {})
    html = render_template("body/problem.html", t=texts, lang=language,
                           title=texts[f"{kind}_title"], message=texts[kind])  # fmt: skip
    return _secured(Response(html, status=PROBLEM_STATUS[kind]))


def _secured(response: Response) -> Response:
    """A page whose URL is a secret: never cached, its address never sent on."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
