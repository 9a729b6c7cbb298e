"""Messages outside a conversation: add them to an open report, or start a new one."""

from __future__ import annotations

from handlers import menu
from handlers.context import Ctx
from handlers.photo import keep_photo, refuse
from models.citizen import State
from models.db import read_number
from models.report import get_report, is_follower, open_reports_of_citizen
from services import reports
from services.types import Inbound, Outcome, Reply

NEW = "new"
OFFER_LIMIT = 3


def free_message(ctx: Ctx, msg: Inbound, every: list | None = None) -> Outcome:
    """Offers to add a message to the citizen's open report, or shows the menu; `every`:
    the citizen's open reports, when the caller read them already."""
    if every is None:
        every = open_reports_of_citizen(ctx.session, ctx.citizen.id)
    open_reports = every[:OFFER_LIMIT]
    if msg.photo is not None:
        keep_photo(ctx, msg)
    elif msg.photo_error:
        return refuse(ctx, msg, State.IDLE)
    if not open_reports or (not msg.text and msg.photo is None):
        return Outcome(menu.ask(ctx), State.MENU)
    ctx.draft["pending_text"] = (msg.text or "").strip()[:2000]
    replied = msg.meta.get("replied_report")
    if replied in {r.id for r in every}:
        # A reply to our message about that report (WhatsApp's "reply"): no need to ask.
        return add_choice(ctx, Inbound(msg.channel, msg.sender, choice=f"add:{replied}"))
    refs = ", ".join(r.ref for r in open_reports)
    choices = [(f"add:{r.id}", ctx.t("Add to {ref}", ref=r.ref)) for r in open_reports]
    choices.append((NEW, ctx.t("New report")))
    text = ctx.t("Is this about your report {refs}, or something new?", refs=refs)
    return Outcome([Reply(text, choices=choices)], State.ADD_TO_REPORT)


def add_choice(ctx: Ctx, msg: Inbound) -> Outcome:
    """Adds the pending message to the chosen report, or starts a new report."""
    choice = msg.choice or ""
    number = read_number(choice.removeprefix("add:")) if choice.startswith("add:") else None
    if number is not None:
        report = get_report(ctx.session, number)
        if report is not None and is_follower(ctx.session, report.id, ctx.citizen.id):
            reports.add_citizen_message(
                ctx.session,
                report,
                ctx.citizen,
                ctx.draft.get("pending_text") or "",
                ctx.draft.get("media_ids", []),
            )
            ctx.reset_draft()
            text = ctx.t("Added to {ref}. The service will see it.", ref=report.ref)
            return Outcome([Reply(text)], State.IDLE)
    # A new report keeps the photo already sent; the text is not a category choice.
    ctx.reset_draft(**({"media_ids": ctx.draft["media_ids"]} if ctx.draft.get("media_ids") else {}))
    return Outcome(menu.ask(ctx), State.MENU)
