"""GET/POST /signaler: the bot's conversation in the browser, one step per page.

Each POST is one message of the web citizen (a browser session, visit.py) handed to the
engine like a provider's message: its id is the session and the form's nonce, so a form
sent twice (a double click, a reload of the POST, a second tab) is deduplicated by the
engine. The answer is a redirect to GET /signaler, which shows the replies the engine
queued for this citizen since the page the form was on (marking them sent: the page is
how the web channel delivers them) and the controls of the question asked: its choices
as submit buttons, a text field, a file field at the photo step. Nothing needs
JavaScript. A photo is taken in as on the link page (headers checked, kept as sent) and
decoded by the worker like any channel's download; the page says "one moment" until then.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from bot.engine import handle
from bot.flow import FLOW
from models.citizen import Citizen, State, conversation_of, find_citizen
from models.console import count_attempt
from models.messaging import CANCELLED, SENT, mark_sent, messages_for_citizen
from models.report import reports_of_citizen
from models.web_contact import web_contact
from services.channels import follow_ways
from services.config import LANGUAGES
from services.media import MAX_PHOTO_BYTES, PhotoError, drop_upload, keep_upload
from services.public_view import public_report
from services.runtime import Runtime, current_runtime
from services.storage import StoreUnavailable
from services.texts import page_language, pick_language, translate
from services.types import Inbound, InputKind, Reply
from webhooks.web import texts
from webhooks.web.inbound import CHANNEL
from webhooks.web.sender import MAIL_TO, ON_PAGE, is_on_page
from webhooks.web.texts import MAX_TEXT
from webhooks.web.visit import (
    Expired,
    Visit,
    client_key,
    end_visit,
    keep_visit,
    new_visit,
    read_visit,
)

log = logging.getLogger(__name__)

bp = Blueprint("web", __name__)

# The photo plus the form around it.
MAX_UPLOAD_BYTES = MAX_PHOTO_BYTES + 64 * 1024
# Forms one client may send in THROTTLE_WINDOW (a report takes about ten); counted in the
# database, so every web node shares the count.
POSTS_PER_CLIENT = 60
POSTS_PER_SITE = 5000
THROTTLE_WINDOW = timedelta(minutes=15)
# The honeypot: a field people never see nor fill; robots fill every field.
HONEYPOT = "website"
# Which field the question asks for, by the conversation's state.
TEXT_LABELS = {
    State.START: texts.SENTENCE,
    State.MENU: texts.SENTENCE,
    State.IDLE: texts.SENTENCE,
    State.DESCRIPTION: texts.DESCRIBE,
    State.LOCATION: texts.PLACE,
    State.LOCATION_CONFIRM: texts.PLACE_AGAIN,
}


class Refused(Exception):
    """A form not taken: the page says why, with an HTTP status."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


@bp.get("/signaler")
def page() -> Response:
    """Shows the current step: the bot's replies since the last form, and its controls."""
    rt = current_runtime()
    try:
        visit = read_visit(request, rt.settings.SECRET_KEY)
    except Expired:
        return expired_page(rt)
    asked = request.args.get("lang")
    if visit is None or request.args.get("nouveau"):
        visit = new_visit(asked if asked in LANGUAGES else None)
    elif asked in LANGUAGES:
        _switch_language(rt, visit, asked)
    return show_step(rt, visit)


@bp.post("/signaler")
def answer() -> Response:
    """Hands the form to the engine as the citizen's message, then shows what it said."""
    rt = current_runtime()
    request.max_content_length = MAX_UPLOAD_BYTES
    try:
        throttle(rt)
        visit = read_visit(request, rt.settings.SECRET_KEY)
    except Expired:
        return expired_page(rt)
    except Refused as refused:
        return refused_page(rt, None, refused)
    if visit is None:
        return expired_page(rt)  # no session: cookies refused, or another site's form
    try:
        inbound = _inbound(rt, visit)
    except Refused as refused:
        return refused_page(rt, visit, refused)
    if inbound is not None:
        done = handle(inbound, rt)
        if done.duplicate and inbound.media:
            drop_upload(rt.settings, inbound.media["upload"])
        visit.seen = _form_int("seen")
    return _to_page(rt, visit)


def _inbound(rt: Runtime, visit: Visit) -> Inbound | None:
    """The form as the citizen's message; None when it says nothing."""
    try:
        form, upload = request.form, request.files.get("photo")
    except RequestEntityTooLarge as exc:
        raise Refused("too_big", 413) from exc
    if form.get(HONEYPOT):
        raise Refused("honeypot", 400)
    text = " ".join(form.get("text", "").split()) or None
    if text and len(text) > MAX_TEXT:
        raise Refused("too_long", 400)
    nonce = "".join(c for c in form.get("nonce", "") if c.isalnum())[:24]
    if not nonce:
        return None
    message = Inbound(
        CHANNEL,
        visit.sid,
        external_id=f"{visit.sid}:{nonce}",
        language_code=visit.lang or browser_language(rt),
        meta={"limit_mb": MAX_PHOTO_BYTES // (1024 * 1024)},
    )
    data = upload.read() if upload is not None and upload.filename else b""
    if data:
        message.text = text
        try:
            message.media = {"upload": keep_upload(data, rt.settings)}
        except PhotoError as exc:
            message.photo_error = exc.reason
        except StoreUnavailable as exc:
            raise Refused("store_down", 503) from exc
    elif form.get("choice"):
        message.choice = form["choice"][:64]
    elif form.get("command"):
        message.text = form["command"][:16]
    elif text:
        message.text = text
    else:
        return None
    return message


def throttle(rt: Runtime) -> None:
    """Counts this form against its client and the site; Refused past their caps."""
    caps = {client_key(rt.settings.SECRET_KEY, request.remote_addr): POSTS_PER_CLIENT,
            "web:site": POSTS_PER_SITE}  # fmt: skip
    with rt.db.transaction() as session:
        over = count_attempt(session, caps, THROTTLE_WINDOW)
    if over is not None:
        raise Refused("throttled", 429)


def _switch_language(rt: Runtime, visit: Visit, language: str) -> None:
    """The page's language link: before the conversation, remembered for its first
    message; during it, the conversation's own language choice."""
    visit.lang = language
    with rt.db.reading() as session:
        citizen = find_citizen(session, CHANNEL, visit.sid)
        rows = messages_for_citizen(session, citizen.id) if citizen else []
    if citizen is None or citizen.language == language:
        return
    visit.seen = rows[-1].id if rows else 0
    handle(Inbound(CHANNEL, visit.sid, external_id=f"{visit.sid}:lang-{secrets.token_hex(6)}",
                   choice=f"lang:{language}"), rt)  # fmt: skip


def show_step(rt: Runtime, visit: Visit, *, error: str | None = None, notice: str | None = None,
              status: int = 200) -> Response:  # fmt: skip
    step = _step(rt, visit)
    language = step["language"]
    body = render_page(rt, "web/step.html", language, step=step, notice=notice,
                       error=texts.refusal(language, error) if error else None)  # fmt: skip
    return _respond(rt, Response(body, status=status), visit)


def _step(rt: Runtime, visit: Visit) -> dict:
    """What the page shows: the replies since the last form, and the question's controls."""
    with rt.db.reading() as session:
        citizen = find_citizen(session, CHANNEL, visit.sid)
        if citizen is None:
            language = visit.lang or browser_language(rt)
            return {"language": language, "first": True, "replies": [], "choices": [],
                    "text_label": texts.SENTENCE, "photo": False, "waiting": False,
                    "seen": 0, "nonce": secrets.token_hex(8), "ended": None}  # fmt: skip
        conversation = conversation_of(session, citizen.id)
        # The conversation's replies, and the news that came meanwhile (shown here too,
        # with their buttons; e-mailed by the sender to a confirmed address).
        shown = [m for m in messages_for_citizen(session, citizen.id, after_id=visit.seen)
                 if m.channel == CHANNEL and m.status != CANCELLED
                 and MAIL_TO not in m.payload]  # fmt: skip
        ended = _ended(rt, session, citizen) if conversation.state == State.IDLE else None
    _mark_shown(rt, [m.id for m in shown if m.status != SENT and is_on_page(m)])
    replies = [Reply.from_payload(m.payload) for m in shown]
    state = State(conversation.state)
    waiting = conversation.waiting_on is not None
    choices = next((r.choices for r in reversed(replies) if r.choices), [])
    accepts_text = InputKind.TEXT in FLOW[state].accepts
    return {
        "language": citizen.language,
        "first": False,
        "replies": [r for r in replies if r.text],
        "choices": [] if waiting else choices,
        "text_label": None if waiting or not accepts_text else TEXT_LABELS.get(state, texts.ANSWER),
        "photo": state == State.PHOTO and not waiting,
        "waiting": waiting,
        "seen": shown[-1].id if shown else visit.seen,
        "nonce": secrets.token_hex(8),
        "ended": ended,
    }


def _ended(rt: Runtime, session, citizen: Citizen) -> dict | None:
    """After a report: its reference, how to follow it by e-mail or on a chat channel."""
    reports = reports_of_citizen(session, citizen.id, limit=1)
    if not reports:
        return None
    report = reports[0]
    contact = web_contact(session, citizen.id)
    public = public_report(session, report.id) is not None
    # A chat channel follows a public report only (a follower sees its public view).
    ways = follow_ways(rt.settings, report.id) if public and report.is_open else []
    return {
        "ref": report.ref,
        "number": report.id,
        "public": public,
        "follow": ways,
        "mail": rt.settings.mail_enabled,
        "email": contact.email if contact else None,
        "confirmed": bool(contact and contact.confirmed_at),
    }


def _mark_shown(rt: Runtime, ids: list[int]) -> None:
    """The page delivered these replies: the worker has nothing to send for them."""
    if not ids:
        return
    with rt.db.transaction() as session:
        for message_id in ids:
            mark_sent(session, message_id, ON_PAGE)


def _to_page(rt: Runtime, visit: Visit) -> Response:
    """Post/redirect/get: a reload shows the page again, never sends the form again."""
    return _respond(rt, redirect(url_for("web.page"), code=303), visit)


def expired_page(rt: Runtime) -> Response:
    page = message_page(rt, browser_language(rt), texts.EXPIRED, status=410)
    return end_visit(page, secure=_secure(rt))


def message_page(rt: Runtime, language: str, page: texts.Page, *, status: int = 200,
                 **values) -> Response:  # fmt: skip
    """A page that says one thing (web/problem.html); `values` fill its message."""
    body = render_page(rt, "web/problem.html", language, **page.translated(language, **values))
    return secured(Response(body, status=status))


def refused_page(rt: Runtime, visit: Visit | None, refused: Refused) -> Response:
    if visit is None:
        language = browser_language(rt)
        body = render_page(rt, "web/problem.html", language,
                       title=translate(language, texts.REFUSED_TITLE),
                       message=texts.refusal(language, refused.reason))  # fmt: skip
        response = secured(Response(body, status=refused.status))
    else:
        response = show_step(rt, visit, error=refused.reason, status=refused.status)
    if refused.status == 429:
        response.headers["Retry-After"] = str(int(THROTTLE_WINDOW.total_seconds()))
    return response


def render_page(rt: Runtime, template: str, language: str, **context) -> str:
    """A page of the public site's look (public/templates/public/base.html)."""
    with rt.db.reading() as session:
        town = rt.catalog.get(session).area_name
    words = page_language(language)
    return render_template(
        template,
        **words,
        town=town,
        switch_url=url_for("web.page", lang=words["other_lang"]),
        honeypot=HONEYPOT,
        max_text=MAX_TEXT,
        limit_mb=MAX_PHOTO_BYTES // (1024 * 1024),
        **context,
    )


def _respond(rt: Runtime, response: Response, visit: Visit) -> Response:
    return keep_visit(secured(response), visit, rt.settings.SECRET_KEY, secure=_secure(rt))


def _secure(rt: Runtime) -> bool:
    return rt.settings.PUBLIC_BASE_URL.startswith("https://")


def secured(response: Response) -> Response:
    """A page of one citizen's conversation: never cached, never framed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response


def browser_language(rt: Runtime) -> str:
    best = request.accept_languages.best_match(list(LANGUAGES))
    return pick_language(best, rt.settings.DEFAULT_LANGUAGE)


def _form_int(name: str) -> int:
    try:
        return max(0, int(request.form.get(name, "0")))
    except ValueError:
        return 0
