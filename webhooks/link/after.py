"""The work done, for a follower whose channel shows no photos (SMS): the after-photo the
field agent sent, at /r/<token>/fait. The link goes to every follower, authors or not, so
its token is a read-only one of its own (services.links.read_view_token), which the
upload page refuses, and the page shows the report's public view only: its category and
its public place, never the description nor a typed address. Viewing does not use the
link up."""

from __future__ import annotations

from flask import Response, abort, render_template

from services import crews
from services.links import AFTER_PHOTO_SUFFIX, LINK_PATH, read_view_token
from services.media import photo_response
from services.public_view import public_report
from services.runtime import current_runtime
from services.texts import N_, translate
from webhooks.link.page import LinkProblem, _claim, _problem_page, _secured, bp

AFTER_TITLE = N_("Report {ref}: the work done")
AFTER_TEXT = N_("The town's team sent this photo when they resolved this report.")


@bp.get(LINK_PATH + "<token>" + AFTER_PHOTO_SUFFIX)
def after_page(token: str) -> Response:
    """Shows the after-photo of the link's report, with the report's public view."""
    rt = current_runtime()
    try:
        claim, _found = _after_photo(rt, token)
    except LinkProblem as problem:
        return _problem_page(rt, problem)
    with rt.db.reading() as session:
        language = crews.report_language(session, claim.number, rt.settings.DEFAULT_LANGUAGE)
        view = public_report(session, claim.number)
    if view is None:  # hidden meanwhile: it does not exist for anyone but the town
        abort(404)
    body = render_template(
        "link/after.html",
        lang=language,
        title=translate(language, AFTER_TITLE, ref=view.ref),
        text=translate(language, AFTER_TEXT),
        category=view.category_names.get(language, ""),
        place=view.place.label or "",
        token=token,
    )
    return _secured(Response(body), rt)


@bp.get(LINK_PATH + "<token>" + AFTER_PHOTO_SUFFIX + ".jpg")
def after_image(token: str):
    rt = current_runtime()
    try:
        _, found = _after_photo(rt, token)
    except LinkProblem as problem:
        return _problem_page(rt, problem)
    return photo_response(rt.settings, found.path, "image/jpeg")


def _after_photo(rt, token: str):
    """The link's claim and its report's after-photo; 404 when the report has none."""
    claim = _claim(rt, token, read_view_token)
    with rt.db.reading() as session:
        found = crews.after_photo(session, claim.number)
    if found is None:
        abort(404)
    return claim, found
