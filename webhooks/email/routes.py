"""One-click unsubscribe (RFC 8058): `List-Unsubscribe` names a signed link per address;
the mail client POSTs to it and the resident is opted out as by writing STOP. A GET (a
browser, a link checker) only shows a button that POSTs: nobody is unsubscribed by a
scanner following links."""

from __future__ import annotations

import hashlib
import html

from flask import Blueprint, Response, abort, request
from itsdangerous import BadSignature, URLSafeSerializer

from bot import engine
from models.db import utcnow
from services.runtime import current_runtime
from services.texts import N_, translate
from services.types import Inbound
from webhooks.email.inbound import CHANNEL

PATH = "/webhooks/email/unsubscribe/<token>"
SALT = "email-unsubscribe"

ASK = N_("Receive no more e-mails about your reports?")
BUTTON = N_("Unsubscribe")
DONE = N_("Done: you will receive no more e-mails from us.")

bp = Blueprint("email", __name__)


def unsubscribe_link(public_base_url: str, secret_key: str, address: str) -> str:
    token = URLSafeSerializer(secret_key, salt=SALT).dumps(address)
    return f"{public_base_url.rstrip('/')}/webhooks/email/unsubscribe/{token}"


@bp.route(PATH, methods=["GET", "POST"])
def unsubscribe(token: str) -> Response:
    """Opts the address out (POST), or asks first (GET)."""
    rt = current_runtime()
    if not rt.settings.mail_enabled:
        abort(404)
    try:
        address = URLSafeSerializer(rt.settings.SECRET_KEY, salt=SALT).loads(token)
    except BadSignature:
        abort(404)
    language = rt.settings.DEFAULT_LANGUAGE
    if request.method == "GET":
        form = f'<form method="post"><button type="submit">{_t(language, BUTTON)}</button></form>'
        return _page(language, f"<p>{_t(language, ASK)}</p>{form}")
    # Through the engine as the word STOP: the same opt-out and its confirmation, once
    # for the clients that post twice (within the hour).
    hour = utcnow().strftime("%Y%m%d%H")
    external_id = hashlib.sha256(f"unsubscribe:{address}:{hour}".encode()).hexdigest()
    with engine.acknowledged(rt, CHANNEL, external_id):
        engine.handle(Inbound(CHANNEL, address, external_id=external_id, text="STOP"), rt)
    return _page(language, f"<p>{_t(language, DONE)}</p>")


def _t(language: str, msgid: str) -> str:
    return html.escape(translate(language, msgid))


def _page(language: str, body: str) -> Response:
    page = (
        f'<!doctype html><html lang="{language}"><meta charset="utf-8"><body>{body}</body></html>'
    )
    return Response(page, mimetype="text/html")
