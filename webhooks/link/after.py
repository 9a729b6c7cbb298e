"""The work done, for a follower whose channel shows no photos (SMS): the one-time link's
page with the after-photo the field agent sent (issue 14). Read-only: viewing does not
use the link up."""

from __future__ import annotations

from flask import Response, abort, render_template

from services import crews
from services.links import LINK_PATH
from services.media import photo_response
from services.runtime import current_runtime
from services.texts import N_, translate
from webhooks.link.page import LinkProblem, _claim, _problem_page, _secured, bp

AFTER_TITLE = N_("Report {ref}: the work done")
AFTER_TEXT = N_("The town's team sent this photo when they resolved your report.")


@bp.get(LINK_PATH + "<token>/fait")
def after_page(token: str) -> Response:
    """Shows the after-photo of the link's report."""
    rt = current_runtime()
    try:
        claim, _found = _after_photo(rt, token)
    except LinkProblem as problem:
        return _problem_page(rt, problem)
    with rt.db.reading() as session:
        language = crews.report_language(session, claim.number, rt.settings.DEFAULT_LANGUAGE)
    body = render_template(
        "link/after.html",
        lang=language,
        title=translate(language, AFTER_TITLE, ref=f"#{claim.number}"),
        text=translate(language, AFTER_TEXT),
        token=token,
    )
    return _secured(Response(body), rt)


@bp.get(LINK_PATH + "<token>/fait.jpg")
def after_image(token: str):
    rt = current_runtime()
    try:
        _, found = _after_photo(rt, token)
    except LinkProblem as problem:
        return _problem_page(rt, problem)
    return photo_response(rt.settings, found.path, "image/jpeg")


def _after_photo(rt, token: str):
    """The link's claim and its report's after-photo; 404 when the report has none."""
    claim = _claim(rt, token)
    with rt.db.reading() as session:
        found = crews.after_photo(session, claim.number)
    if found is None:
        abort(404)
    return claim, found
