"""Nearby reports: is it a problem someone already reported?"""

from __future__ import annotations

from babel.dates import format_timedelta

from handlers.context import Ctx
from models.citizen import State
from models.db import read_number, utcnow
from models.report import get_report, open_reports_near
from services import reports
from services.texts import status_name
from services.types import Inbound, Outcome, Reply, go_on


def nothing_close(ctx: Ctx) -> bool:
    """The nearby step has nothing to ask: an idea, no pin, or no open report of the same
    category close by. Otherwise the close ones are kept for `ask`: their numbers in the draft
    (for the answer), the reports as loaded in the session (not read again)."""
    category = ctx.category
    lat, lon = ctx.draft.get("lat"), ctx.draft.get("lon")
    if category is None or category.is_idea or lat is None or lon is None:
        return True
    metres = ctx.rt.settings.NEARBY_METRES
    near = open_reports_near(ctx.session, lat, lon, category.id, metres)
    if not near:
        return True
    ctx.draft["nearby"] = [report.id for report, _ in near]
    ctx.session.info["nearby"] = [report for report, _ in near]
    return False


def ask(ctx: Ctx) -> list[Reply]:
    """Asks about the close reports `nothing_close` found."""
    close = ctx.session.info.pop("nearby", None)
    if close is None:
        close = [get_report(ctx.session, number) for number in ctx.draft["nearby"]]
    return ask_about(ctx, close)


def ask_about(ctx: Ctx, candidates) -> list[Reply]:
    """Asks whether the problem is one already reported."""
    now = utcnow()

    def describe(report) -> str:
        age = format_timedelta(report.created_at - now, add_direction=True, locale=ctx.lang)
        return ctx.t(
            "{ref}, reported {age}, {status}",
            ref=report.ref,
            age=age,
            status=status_name(ctx.lang, report.status),
        )

    if len(candidates) == 1:
        text = ctx.t(
            "This problem may already be known: {report}. Is it the same one?",
            report=describe(candidates[0]),
        )
        choices = [
            (f"follow:{candidates[0].id}", ctx.t("Yes, the same")),
            ("no", ctx.t("No, another problem")),
        ]
    else:
        lines = [f"{i}. {describe(r)}" for i, r in enumerate(candidates, 1)]
        text = ctx.t("Similar problems were reported close by:") + "\n" + "\n".join(lines)
        choices = [(f"follow:{r.id}", ctx.t("It is {ref}", ref=r.ref)) for r in candidates]
        choices.append(("no", ctx.t("No, another problem")))
    return [Reply(text, choices=choices)]


def answer(ctx: Ctx, msg: Inbound) -> Outcome:
    """Follows the existing report, or goes on to file a new one."""
    choice = msg.choice or ""
    offered = ctx.draft.get("nearby", [])
    number = read_number(choice.removeprefix("follow:")) if choice.startswith("follow:") else None
    if number is not None:
        report = get_report(ctx.session, number) if number in offered else None
        if report is not None:
            reports.join_report(ctx.session, report, ctx.citizen, ctx.draft)
            ctx.reset_draft()
            text = ctx.t(
                "Thank you! You now follow {ref} and will get its updates here. "
                "Your description was added to it.",
                ref=report.ref,
            )
            return Outcome([Reply(text)], State.IDLE)
    ctx.draft.pop("nearby", None)
    return go_on(State.NEARBY)
