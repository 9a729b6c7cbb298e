"""Erase my data (`/supprimer`, SMS SUPPRIMER or DELETE): asked, confirmed, done."""

from __future__ import annotations

from handlers.context import Ctx
from models.citizen import State
from services.privacy import erase_citizen
from services.types import Inbound, Outcome, Reply

YES, NO = "erase:yes", "erase:no"
# Where the citizen was, to go back there when they say no.
RETURN_TO = "_before_erase"


def ask(ctx: Ctx, msg: Inbound, arg: str | None) -> Outcome:
    """Says what erasing removes and asks to confirm."""
    if ctx.state != State.ERASE_CONFIRM:
        ctx.draft[RETURN_TO] = ctx.state
    return Outcome(prompt(ctx), State.ERASE_CONFIRM)


def prompt(ctx: Ctx) -> list[Reply]:
    """Asks to confirm the erasure."""
    text = ctx.t(
        "Delete your data? Your name, your number or chat identity and our conversation "
        "will be deleted. Your reports stay with the town, without your name, and you will "
        "no longer get their news. This cannot be undone."
    )
    choices = [(YES, ctx.t("Yes, delete")), (NO, ctx.t("No, keep"))]
    return [Reply(text, choices=choices, remove_keyboard=True)]


def answer(ctx: Ctx, msg: Inbound) -> Outcome:
    """Erases the citizen's data (yes), or goes back to where they were (no)."""
    back = ctx.draft.pop(RETURN_TO, None) or State.IDLE
    if msg.choice == YES:
        erase_citizen(ctx.session, ctx.citizen.id, ctx.rt.settings)
        ctx.reset_draft()
        text = ctx.t(
            "Done: your data is deleted. Your reports stay with the town without your name. "
            "You can write again at any time to start afresh."
        )
        return Outcome([Reply(text, remove_keyboard=True)], State.START)
    if msg.choice == NO:
        return Outcome([Reply(ctx.t("Nothing was deleted."))], back)
    ctx.draft[RETURN_TO] = back
    return Outcome(
        [Reply(ctx.t("Please answer with one of the choices.")), *prompt(ctx)], State.ERASE_CONFIRM
    )
