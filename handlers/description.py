"""The description: what is the problem, in the citizen's words?"""

from __future__ import annotations

from handlers import emergency, location, photo
from handlers.context import Ctx
from models.citizen import State
from services import urgency
from services.types import Inbound, Outcome, Reply, go_on

MIN_LENGTH = 3
MAX_LENGTH = 2000


def ask(ctx: Ctx) -> list[Reply]:
    """Asks the citizen to describe the problem or the idea."""
    category = ctx.category
    if category is not None and category.is_idea:
        return [Reply(ctx.t("Describe your idea in a few sentences."), remove_keyboard=True)]
    return [
        Reply(
            ctx.t("Describe the problem in a few words (what, and since when)."),
            remove_keyboard=True,
        )
    ]


def take(ctx: Ctx, msg: Inbound) -> Outcome:
    """Stores the description and asks the category's questions, then for a photo."""
    text = (msg.text or "").strip()
    if len(text) < MIN_LENGTH:
        return Outcome(
            [Reply(ctx.t("Please write a few words so the service understands the problem."))],
            State.DESCRIPTION,
        )
    if len(text) > MAX_LENGTH:
        return Outcome(
            [
                Reply(
                    ctx.t(
                        "That is a bit long ({length} characters): please keep it under "
                        "{limit} characters.",
                        length=len(text),
                        limit=MAX_LENGTH,
                    )
                )
            ],
            State.DESCRIPTION,
        )
    ctx.draft["description"] = text
    if not urgency.danger_to_people(text) or ctx.draft.get("emergency_told"):
        return go_on(State.DESCRIPTION)
    # Someone may be in danger: the emergency numbers at once, before anything else.
    ctx.draft["emergency_told"] = True
    return go_on(State.DESCRIPTION, [Reply(emergency.emergency_text(ctx))])


def take_photo(ctx: Ctx, msg: Inbound) -> Outcome:
    """Keeps a photo sent early; its caption, if any, is the description."""
    if msg.photo is None:
        return photo.refuse(ctx, msg, State.DESCRIPTION)
    photo.keep_photo(ctx, msg)
    if msg.text and len(msg.text.strip()) >= MIN_LENGTH:
        return take(ctx, msg)
    return Outcome(
        [Reply(ctx.t("Thanks for the photo. Now describe the problem in a few words."))],
        State.DESCRIPTION,
    )


def take_location(ctx: Ctx, msg: Inbound) -> Outcome:
    """Keeps a location sent early and asks again for the description."""
    refusal = location.zone_refusal(ctx, *msg.location)  # type: ignore[misc]
    if refusal:
        return Outcome([refusal], State.DESCRIPTION)
    wait = location.place_pin(ctx, msg)
    if wait is not None:
        return Outcome([], State.DESCRIPTION, wait=wait)
    return have_place(ctx)


def pin_named(ctx: Ctx, msg: Inbound) -> Outcome:
    """Names the pin sent early, then asks again for the description."""
    location.name_pin(ctx, msg.event or {})
    return have_place(ctx)


def described(ctx: Ctx) -> bool:
    """The description step is answered (a report is under way)."""
    return "description" in ctx.draft


def have_place(ctx: Ctx) -> Outcome:
    return Outcome(
        [Reply(ctx.t("Thanks, I have the place. Now describe the problem in a few words."))],
        State.DESCRIPTION,
    )
