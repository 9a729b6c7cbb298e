"""My reports, and the status of one report (#1042)."""

from __future__ import annotations

from handlers.context import Ctx
from models.report import read_report, reports_of_citizen
from services.audience import Audience, citizen_view
from services.texts import status_name
from services.town_clock import town_date
from services.types import Inbound, Outcome, Reply

LIST_LIMIT = 5


def listing(ctx: Ctx) -> list[Reply]:
    """Lists the citizen's latest reports with their status."""
    mine = [
        report
        for report in reports_of_citizen(ctx.session, ctx.citizen.id, limit=LIST_LIMIT)
        if not report.hidden or report.citizen_id == ctx.citizen.id  # hiding ends following
    ]
    if not mine:
        return [Reply(ctx.t("You have no reports yet."))]
    lines = [ctx.t("Your reports:")]
    for report in mine:
        lines.append(
            f"{report.ref} {_category_name(ctx, report)}: {status_name(ctx.lang, report.status)}"
        )
    lines.append(ctx.t("Send a number such as {ref} for details.", ref=mine[0].ref))
    return [Reply("\n".join(lines))]


def show(ctx: Ctx, msg: Inbound) -> Outcome:
    """Lists the citizen's reports."""
    return Outcome(listing(ctx), ctx.state)


def status(ctx: Ctx, number: int) -> list[Reply]:
    """Tells one report's status; its author and followers also see when it changed."""
    report = read_report(ctx.session, number)
    # A hidden report does not exist for anyone but its author (services/audience.py).
    view = citizen_view(ctx.session, report, ctx.citizen.id) if report is not None else None
    if view is None:
        return [Reply(ctx.t("I find no report #{number}. Check the number.", number=number))]
    text = ctx.t(
        "Report {ref} ({category}): {status}.",
        ref=report.ref,
        category=_category_name(ctx, report),
        status=status_name(ctx.lang, report.status),
    )
    if view.audience is not Audience.PUBLIC:  # the author and followers: when and where
        changed = town_date(report.updated_at)
        text += " " + ctx.t("Last change: {date}.", date=changed)
        if report.duplicate_of_id:
            text += " " + ctx.t("Follow {ref} instead.", ref=f"#{report.duplicate_of_id}")
    return [Reply(text)]


def _category_name(ctx: Ctx, report) -> str:
    info = ctx.catalog.by_id.get(report.category_id)
    return info.name(ctx.lang) if info else ""
