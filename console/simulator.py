"""The simulator: an agent talks to the bot as a citizen would, on the dev channel.

It trains agents and demos the service without Telegram or Twilio: the same engine,
the same outbox; the page plays the provider and takes the messages waiting for its
citizen (`sim-<agent id>`).
"""

from __future__ import annotations

import uuid

from flask import jsonify, render_template, request
from flask_login import current_user

from bot.engine import handle
from console import bp
from console.security import UPLOAD_LIMITS
from models.citizen import find_citizen, update_citizen
from models.messaging import messages_for_citizen
from services import simulated
from services.channels import all_channels
from services.media import MAX_PHOTO_BYTES
from services.runtime import current_runtime
from services.storage import StoreUnavailable
from services.types import Inbound, Reply

HISTORY = 30  # messages shown when the page opens
MAX_REPLIES = 100  # taken per call
# A phone's picture and a little form around it: what is larger is read no further.
MAX_UPLOAD_BYTES = MAX_PHOTO_BYTES + 64 * 1024
UPLOAD_LIMITS["console.simulator_photo"] = MAX_UPLOAD_BYTES


def sender() -> str:
    return f"sim-{current_user.id}"


@bp.get("/simulator")
def simulator():
    """Shows the phone, with the latest messages the bot sent to this agent's citizen."""
    rt = current_runtime()
    with rt.db.reading() as db:
        citizen = find_citizen(db, simulated.CHANNEL, sender())
        history = messages_for_citizen(db, citizen.id)[-HISTORY:] if citizen else []
    return render_template(
        "console/simulator.html",
        history=[Reply.from_payload(m.payload) for m in history],
        language=citizen.language if citizen else rt.settings.DEFAULT_LANGUAGE,
        looks=_previewers(),
    )


@bp.post("/simulator/say")
def simulator_say():
    """Hands what the agent typed, tapped or pinned to the bot; returns its replies."""
    data = _json_object()
    inbound = Inbound(
        simulated.CHANNEL,
        sender(),
        external_id=uuid.uuid4().hex,
        display_name=current_user.display_name,
        language_code=data.get("lang") if data.get("lang") in ("fr", "en") else None,
    )
    choice, text = data.get("choice"), data.get("text")
    if isinstance(choice, str) and choice:
        inbound.choice = choice[:64]
    elif "location" in data:
        location = _location(data["location"])
        if location is None:
            return jsonify(error="bad location"), 400
        inbound.location = location
    elif isinstance(text, str) and text.strip():
        inbound.text = text.strip()[:2000]
    else:
        return jsonify(error="nothing to say"), 400
    rt = current_runtime()
    handle(inbound, rt)
    return jsonify(replies=take_replies(rt, inbound.language_code))


@bp.post("/simulator/photo")
def simulator_photo():
    """Hands a picture the agent chose to the bot, as a phone sends one: through the dev
    channel's intake (the size cap, a real picture, re-encoded without EXIF)."""
    lang = request.form.get("lang")
    lang = lang if lang in ("fr", "en") else None
    upload = request.files.get("photo")
    data = upload.read(MAX_PHOTO_BYTES + 1) if upload is not None else b""
    rt = current_runtime()
    if not data:
        return jsonify(error="no picture"), 400
    try:
        inbound = simulated.photo_inbound(
            rt, sender(), data, name=current_user.display_name, lang=lang
        )
    except StoreUnavailable:
        return jsonify(error="the photo store cannot be reached, try again"), 503
    handle(inbound, rt)
    return jsonify(replies=take_replies(rt, inbound.language_code))


@bp.post("/simulator/poll")
def simulator_poll():
    """Returns what reached the citizen since (status updates from agents)."""
    return jsonify(replies=take_replies(current_runtime()))


@bp.post("/simulator/language")
def simulator_language():
    """Switches the simulated citizen's language (fr or en)."""
    code = _json_object().get("lang")
    if code not in ("fr", "en"):
        return jsonify(error="fr or en"), 400
    rt = current_runtime()
    with rt.db.transaction() as db:
        citizen = find_citizen(db, simulated.CHANNEL, sender())
        if citizen is not None:
            update_citizen(db, citizen.id, language=code)
    return jsonify(lang=code)


def _json_object() -> dict:
    """The request's JSON object; anything else (a list, a string, no JSON) is empty."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _location(value) -> tuple[float, float] | None:
    """[lat, lon] as the page sends them (numbers, or numbers written as text), or None."""
    if not isinstance(value, list) or len(value) != 2:
        return None
    try:
        lat, lon = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # NaN fails both too
        return None
    return lat, lon


def take_replies(rt, language: str | None = None) -> list[dict]:
    """The messages queued for the simulated citizen (the dev channel's own drain), kept
    with their choices as buttons, and drawn as WhatsApp would show them."""
    replies = simulated.take(rt, sender(), MAX_REPLIES)
    if replies and language not in ("fr", "en"):
        with rt.db.reading() as db:
            citizen = find_citizen(db, simulated.CHANNEL, sender())
            language = citizen.language if citizen else rt.settings.DEFAULT_LANGUAGE
    return [_bubble(reply, language or rt.settings.DEFAULT_LANGUAGE) for reply in replies]


def _previewers() -> list:
    return [c for c in all_channels() if c.preview is not None]


def _bubble(reply: Reply, language: str) -> dict:
    return {
        "text": reply.text,
        "choices": [{"value": v, "label": label} for v, label in reply.choices],
        "request_location": reply.request_location,
        # The same Reply as each channel that can say so draws it (WhatsApp: a list
        # picker, quick replies, or a numbered text).
        "looks": {c.name: c.preview(reply, language) for c in _previewers()},
    }
