"""The simulated citizen's side of the dev channel: what a citizen in a terminal
(`webleads chat`) or the console's simulator types, and the messages waiting for them.

The channel itself (its spec) is webhooks/dev; this is its "provider", whoever drains the
outbox for that citizen and shows the messages, so the console and the command line use
it without importing a channel.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from models.citizen import find_citizen
from models.messaging import claim_due, mark_sent
from services.runtime import Runtime
from services.types import Inbound, Reply

CHANNEL = "dev"
LEASE = timedelta(minutes=1)


def inbound(sender: str, text: str, *, name: str | None = None, lang: str | None = None) -> Inbound:
    """Builds the Inbound for a line typed by the dev citizen."""
    return Inbound(
        CHANNEL,
        sender,
        external_id=uuid.uuid4().hex,
        text=text,
        display_name=name,
        language_code=lang,
    )


def photo_inbound(
    rt: Runtime,
    sender: str,
    data: bytes,
    *,
    caption: str | None = None,
    name: str | None = None,
    lang: str | None = None,
) -> Inbound:
    """Builds the Inbound for a picture the dev citizen sends (a file in the terminal, an
    upload in the simulator), taken in as every channel's: the size cap, a real picture,
    re-encoded without EXIF. A picture refused carries why, for the step to say it.
    Raises services.storage.StoreUnavailable when the photo store cannot be reached."""
    from services.media import MAX_PHOTO_BYTES, PhotoError, store_photo

    message = Inbound(
        CHANNEL,
        sender,
        external_id=uuid.uuid4().hex,
        text=caption or None,
        display_name=name,
        language_code=lang,
        meta={"limit_mb": MAX_PHOTO_BYTES // (1024 * 1024)},
    )
    try:
        message.photo = store_photo(data, rt.settings)
    except PhotoError as exc:
        message.photo_error = exc.reason
    return message


def render(payload: dict) -> str:
    """Shows a message as a phone without buttons would: choices as a numbered list."""
    reply = Reply.from_payload(payload)
    lines = [reply.text]
    lines += [f"  {i}. {label}" for i, (_, label) in enumerate(reply.choices, 1)]
    if reply.request_location:
        lines.append("  (location: type an address)")
    return "\n".join(lines)


def take(rt: Runtime, sender: str, limit: int = 100) -> list[Reply]:
    """Takes the messages waiting for this dev citizen, in order, and marks them sent:
    the dev channel's whole "provider" (`webleads chat` and the console's simulator)."""
    replies: list[Reply] = []
    while len(replies) < limit:  # the outbox hands out one citizen's messages in order
        with rt.db.transaction() as session:
            citizen = find_citizen(session, CHANNEL, sender)
            if citizen is None:
                return replies
            messages = claim_due(
                session, channels=[CHANNEL], limit=limit, lease=LEASE, citizen_id=citizen.id
            )
            for message in messages:
                mark_sent(session, message.id, f"dev-{message.id}")
        if not messages:
            return replies
        replies += [Reply.from_payload(m.payload) for m in messages]
    return replies


def drain(rt: Runtime, sender: str) -> list[str]:
    """Takes the messages waiting for this dev citizen and renders them as text."""
    return [render(reply.to_payload()) for reply in take(rt, sender)]
