"""The photo: optional for most categories, required for some."""

from __future__ import annotations

from handlers.context import Ctx
from models.citizen import State
from models.report import add_media
from services.texts import N_
from services.types import Inbound, Outcome, Reply, StoredPhoto, go_on

SKIP = "skip"

PHOTO_ERRORS = {
    "too_big": N_(
        "This picture is too large (the limit is {limit} MB). Please send a smaller one."
    ),
    "too_many_pixels": N_(
        "This picture is too large to be used (too many pixels). Please send a smaller "
        "version of it, for example a screenshot."
    ),
    "not_image": N_("I can only use pictures (JPEG, PNG, WebP). Please send a photo."),
    "download_failed": N_("I could not get your picture. Please send it again."),
    "busy": N_(
        "One moment: I am still looking at your previous photo. Please send this one again "
        "in a minute."
    ),
    "unsupported_channel": N_("Pictures cannot be received this way. Choose Skip."),
}


def sent(ctx: Ctx) -> bool:
    """The photo step is answered: the citizen already sent one (with the description,
    during the questions...)."""
    return bool(ctx.draft.get("media_ids"))


def ask(ctx: Ctx) -> list[Reply]:
    """Asks for a photo, with a way to skip when the category allows it."""
    category = ctx.category
    if ctx.channel.needs_link_for_pin:
        return [_ask_by_sms(ctx, required=category is not None and category.photo_required)]
    if category is not None and category.photo_required:
        return [Reply(ctx.t("A photo is needed for this kind of problem. Please send one."))]
    return [
        Reply(
            ctx.t("Can you add a photo? It helps the service a lot. Send it, or choose Skip."),
            choices=[(SKIP, ctx.t("Skip"))],
        )
    ]


def _ask_by_sms(ctx: Ctx, required: bool) -> Reply:
    """By SMS: a picture by MMS, or PASSER and the photo comes later through the link.

    Many numbers (all French ones) receive no MMS, so even a required photo may be
    skipped here: the done message brings the one-time link to add it from a phone.
    """
    skip_word = ctx.t("Skip").upper()
    text = (
        ctx.t(
            "A photo is needed for this kind of problem. Send it by MMS, or reply {skip} "
            "and add it with the link you will get at the end.",
            skip=skip_word,
        )
        if required
        else ctx.t(
            "Can you add a photo? It helps the service a lot. Send it by MMS, or reply "
            "{skip}: you will get a link to add it from your phone at the end.",
            skip=skip_word,
        )
    )
    return Reply(text, choices=[(SKIP, ctx.t("Skip"))])


def take(ctx: Ctx, msg: Inbound) -> Outcome:
    """Stores the photo and asks for the location."""
    if msg.photo is None:
        return refuse(ctx, msg, State.PHOTO)
    keep_photo(ctx, msg)
    return go_on(State.PHOTO)


def skip(ctx: Ctx, msg: Inbound) -> Outcome:
    """Goes on without a photo, unless the category requires one."""
    if msg.choice != SKIP:
        return Outcome(
            [Reply(ctx.t("Sorry, I did not understand your choice.")), *ask(ctx)], State.PHOTO
        )
    category = ctx.category
    # Where the link page follows (SMS), the photo may come through it (see _ask_by_sms).
    if category is not None and category.photo_required and not ctx.channel.needs_link_for_pin:
        return Outcome(ask(ctx), State.PHOTO)
    return go_on(State.PHOTO)


def text(ctx: Ctx, msg: Inbound) -> Outcome:
    """Adds words typed at the photo step to the description, then asks again."""
    words = (msg.text or "").strip()
    if len(words) >= 3:
        ctx.draft["description"] = f"{ctx.draft.get('description', '')}\n{words}".strip()[:4000]
        return Outcome([Reply(ctx.t("I added that to the description.")), *ask(ctx)], State.PHOTO)
    return Outcome(ask(ctx), State.PHOTO)


def refuse(ctx: Ctx, msg: Inbound, state: str) -> Outcome:
    """Says why a picture could not be taken and asks again."""
    msgid = PHOTO_ERRORS.get(msg.photo_error or "", PHOTO_ERRORS["download_failed"])
    reply = Reply(ctx.t(msgid, limit=msg.meta.get("limit_mb", 20)))
    return Outcome([reply, *(ask(ctx) if state == State.PHOTO else [])], state)


def keep_photo(ctx: Ctx, msg: Inbound) -> None:
    """Adds the citizen's photo to the draft report (and the others sent with it: an
    e-mail's attachments)."""
    more = [StoredPhoto(**photo) for photo in msg.meta.get("more_photos", [])]
    for photo in [msg.photo, *more]:
        media_id = add_media(ctx.session, photo, ctx.citizen.id)
        ctx.draft["media_ids"] = [*ctx.draft.get("media_ids", []), media_id]
