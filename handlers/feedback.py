"""'Is it really fixed?': the citizen's answer after a report is resolved."""

from __future__ import annotations

from handlers.context import Ctx
from models.citizen import State
from models.db import read_number
from models.report import Status, get_report
from services import feedback
from services.audience import Audience, audience_of
from services.types import Inbound, Outcome, Reply

VERDICTS = ("yes", "no", "partly")


def answer(ctx: Ctx, msg: Inbound) -> Outcome:
    """Records 'yes', or asks what is still wrong for 'no' and 'partly'."""
    # fixed:1042:no; the data of a button is whatever the client sends (any shape, size).
    written, _, verdict = (msg.choice or "").removeprefix("fixed:").partition(":")
    number = read_number(written)
    report = get_report(ctx.session, number) if number is not None else None
    if (
        report is None
        or verdict not in VERDICTS
        # Only the author says whether it is fixed: a follower never reopens a report.
        or audience_of(ctx.session, report, ctx.citizen.id) is not Audience.AUTHOR
    ):
        return Outcome([Reply(ctx.t("That button is no longer active."))], _after(ctx))
    if report.status != Status.RESOLVED:
        text = ctx.t("Thank you. {ref} is no longer marked as resolved: the service is on it.",
                     ref=report.ref)  # fmt: skip
        return Outcome([Reply(text)], _after(ctx))
    if verdict == "yes":
        feedback.record_fixed(ctx.session, report, ctx.citizen)
        return Outcome([Reply(ctx.t("Thank you for confirming!"))], State.IDLE)
    ctx.reset_draft(report=report.id, verdict=verdict)
    return Outcome([Reply(ctx.t("What is still wrong? A few words help the service."))],
                   State.FEEDBACK_WORDS)  # fmt: skip


def take_words(ctx: Ctx, msg: Inbound) -> Outcome:
    """Reopens the report with the citizen's words and puts it back in the queue."""
    report = get_report(ctx.session, int(ctx.draft.get("report", 0)))
    words = (msg.text or "").strip()[:2000]
    if report is None:
        ctx.reset_draft()
        return Outcome([Reply(ctx.t("Sorry, I did not understand your choice."))], State.IDLE)
    if report.status == Status.RESOLVED:
        feedback.reopen(ctx.session, report, ctx.citizen, ctx.draft.get("verdict", "no"), words)
    ctx.reset_draft()
    text = ctx.t("Thank you. {ref} is reopened and back with the service, with your words.",
                 ref=report.ref)  # fmt: skip
    return Outcome([Reply(text)], State.IDLE)


def _after(ctx: Ctx) -> str:
    return (
        State.IDLE
        if ctx.state in (State.IS_FIXED, State.FEEDBACK_WORDS, State.START)
        else ctx.state
    )
