"""A throwaway channel, the whole of it: a webhook, a sender, its settings, how residents
reach it, a spec, one register() line.

Its "provider" is a loft of carrier pigeons: citizens post JSON to /webhooks/pigeon and
the birds that fly back are kept in `LOFT` (the sender's provider side).
"""

from __future__ import annotations

from flask import Blueprint, request

from bot.engine import handle
from services.channels import Channel, Invite, register
from services.config import Setting
from services.runtime import current_runtime
from services.types import Inbound, Reply

NAME = "pigeon"
LOFT: list[dict] = []  # what the provider delivered: {"to", "text", "buttons"}

bp = Blueprint(NAME, __name__)


@bp.post("/webhooks/pigeon")
def webhook():
    data = request.get_json(silent=True) or {}
    if not isinstance(data.get("from"), str) or not isinstance(data.get("id"), str):
        return {"error": "from and id are needed"}, 400
    location = data.get("location")
    handle(
        Inbound(
            NAME,
            data["from"],
            external_id=data["id"],
            text=data.get("text"),
            choice=data.get("button"),
            location=tuple(location) if location else None,
            display_name=data.get("name"),
        ),
        current_runtime(),
    )
    return {"ok": True}


class PigeonSender:
    channel = NAME

    def __init__(self, rt) -> None:
        self.rt = rt

    def send(self, message) -> str:
        reply = Reply.from_payload(message.payload)
        LOFT.append(
            {"to": message.address, "text": reply.text, "buttons": [v for v, _ in reply.choices]}
        )
        return f"pigeon-{len(LOFT)}"


SETTINGS = (Setting("PIGEON_LOFT", "Mairie", doc="Pigeon: the loft the birds fly to"),)


def _invite(settings, code: str | None) -> Invite:
    """What the poster prints: the loft (a setting of its own) and the pilot's code."""
    url = f"pigeon://{settings.PIGEON_LOFT}" + (f"?start={code}" if code else "")
    return Invite("Pigeon voyageur", "Lâchez un pigeon vers la mairie.", url)


def _identity(text: str, region: str) -> str | None:
    """A bird's ring, as an admin types it in the pilot's allowlist: "ring:coo-1"."""
    return text.removeprefix("ring:") if text.startswith("ring:") else None


SPEC = Channel(
    name=NAME,
    labels={"en": "Carrier pigeon", "fr": "Pigeon voyageur"},
    can_show_buttons=True,
    can_share_location=True,
    blueprints=(bp,),
    sender=PigeonSender,
    settings=SETTINGS,
    invite=_invite,
    identity=_identity,
)


def plug_in() -> Channel:
    """The one registry line (a shipped channel has it in webhooks/__init__.py)."""
    return register(SPEC)
