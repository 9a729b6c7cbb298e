"""Following a web report by e-mail: an address, confirmed by a link, then the notices.

POST /signaler/suivre records the address asked for and queues one e-mail to it: the
confirmation link (/signaler/confirmer/<signed token>, 7 days). Nothing else is ever sent
to an address until its owner opens that link and confirms (a POST: a mail scanner that
opens links confirms nothing). Confirming lets the notices that waited go (sender.py).
"""

from __future__ import annotations

import re

from flask import Response, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from models.citizen import citizens_by_id, find_citizen
from models.messaging import PRIORITY_NOTIFICATION, queue_messages, release_held
from models.report import reports_of_citizen
from models.web_contact import ask_email, confirm_email
from services.runtime import Runtime, current_runtime
from services.texts import N_, translate
from webhooks.web.inbound import CHANNEL
from webhooks.web.routes import (
    Refused,
    bp,
    browser_language,
    expired_page,
    message_page,
    refused_page,
    render_page,
    secured,
    show_step,
    throttle,
)
from webhooks.web.sender import MAIL_TO
from webhooks.web.texts import Page
from webhooks.web.visit import Expired, read_visit

CONFIRM_SALT = "webleads.web-email"
CONFIRM_DAYS = 7
# Enough to catch a slip of the keyboard; the confirmation link proves the rest.
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")

CONFIRM_SUBJECT = N_("Confirm your e-mail address")
CONFIRM_MAIL = N_(
    "Hello,\n\nTo receive the news of your report {ref} at this address, open this link "
    "and confirm:\n{link}\n\nIf you did not ask for it, ignore this message: nothing will "
    "be sent to you."
)
ASKED = N_("We sent a link to {email}. Open it to confirm your address.")
CONFIRM_PAGE = Page(
    title=N_("Confirm your e-mail address"),
    message=N_("The news of your reports will be sent to {email}."),
    button=N_("Confirm this address"),
)
CONFIRMED_PAGE = Page(
    title=N_("Your address is confirmed"),
    message=N_("The news of your reports will be sent to {email}. Thank you!"),
)
BAD_LINK_PAGE = Page(
    title=N_("This link does not work"),
    message=N_(
        "This link is not valid or has expired (links last 7 days). You can give your "
        "address again at the end of a report."
    ),
)


def _serializer(rt: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(rt.settings.SECRET_KEY, salt=CONFIRM_SALT)


@bp.post("/signaler/suivre")
def follow() -> Response:
    """Records the address to confirm and queues the confirmation e-mail."""
    rt = current_runtime()
    try:
        throttle(rt)
        visit = read_visit(request, rt.settings.SECRET_KEY)
    except Expired:
        visit = None
    except Refused as refused:
        return refused_page(rt, None, refused)
    if visit is None:
        return expired_page(rt)
    email = request.form.get("email", "").strip()
    try:
        if request.form.get("website"):
            raise Refused("honeypot", 400)
        if len(email) > 254 or not EMAIL_RE.match(email):
            raise Refused("bad_email", 400)
        asked = _ask(rt, visit.sid, email)
    except Refused as refused:
        return refused_page(rt, visit, refused)
    rt.wake_worker()
    return show_step(rt, visit, notice=translate(asked, ASKED, email=email))


def _ask(rt: Runtime, sid: str, email: str) -> str:
    """Records the address and queues its confirmation link; returns the page language."""
    with rt.db.transaction() as session:
        citizen = find_citizen(session, CHANNEL, sid)
        reports = reports_of_citizen(session, citizen.id, limit=1) if citizen else []
        if not reports:
            raise Refused("no_report", 400)
        ask_email(session, citizen.id, email)
        token = _serializer(rt).dumps({"c": citizen.id, "e": email})
        link = f"{rt.settings.PUBLIC_BASE_URL.rstrip('/')}/signaler/confirmer/{token}"
        language, ref = citizen.language, reports[0].ref
        text = translate(language, CONFIRM_MAIL, ref=ref, link=link)
        subject = f"[{ref}] " + translate(language, CONFIRM_SUBJECT)
        queue_messages(session, [{
            "citizen_id": citizen.id, "channel": CHANNEL, "address": citizen.address,
            "payload": {"text": text, MAIL_TO: email, "subject": subject},
            "priority": PRIORITY_NOTIFICATION, "report_id": reports[0].id,
        }])  # fmt: skip
    return language


@bp.get("/signaler/confirmer/<token>")
def confirm_page(token: str) -> Response:
    """Shows the address and a button: a link opened by a mail scanner confirms nothing."""
    rt = current_runtime()
    claim = _claim(rt, token)
    if claim is None:
        return _bad_link(rt)
    language, email = claim
    body = render_page(rt, "web/confirm.html", language,
                       **CONFIRM_PAGE.translated(language, email=email))  # fmt: skip
    return secured(Response(body))


@bp.post("/signaler/confirmer/<token>")
def confirm(token: str) -> Response:
    """Confirms the address; the notices that waited for it go out."""
    rt = current_runtime()
    try:
        data = _serializer(rt).loads(token, max_age=CONFIRM_DAYS * 24 * 3600)
    except (BadSignature, SignatureExpired):
        return _bad_link(rt)
    with rt.db.transaction() as session:
        confirmed = confirm_email(session, data["c"], data["e"])
        if confirmed:
            release_held(session, data["c"])
        citizen = citizens_by_id(session, [data["c"]]).get(data["c"])
    if not confirmed or citizen is None:
        return _bad_link(rt)
    rt.wake_worker()
    return message_page(rt, citizen.language, CONFIRMED_PAGE, email=data["e"])


def _claim(rt: Runtime, token: str) -> tuple[str, str] | None:
    """(the citizen's language, the address) of a valid link, else None."""
    try:
        data = _serializer(rt).loads(token, max_age=CONFIRM_DAYS * 24 * 3600)
    except (BadSignature, SignatureExpired):
        return None
    with rt.db.reading() as session:
        citizen = citizens_by_id(session, [data["c"]]).get(data["c"])
    return (citizen.language, data["e"]) if citizen else None


def _bad_link(rt: Runtime) -> Response:
    return message_page(rt, browser_language(rt), BAD_LINK_PAGE, status=404)
