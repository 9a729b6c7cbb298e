"""Commands available at every step: help, cancel, my reports, status, language, stop.

Erasing one's data (`/supprimer`) is a command too; its steps are in handlers/erase.py.
"""

from __future__ import annotations

from handlers import menu, my_reports
from handlers.context import Ctx
from models.citizen import State, update_citizen
from models.messaging import cancel_queued_for
from services import reports
from services.texts import N_, translate
from services.types import Inbound, Outcome, Reply

LANGUAGE_CHOICES = [("lang:fr", "Français"), ("lang:en", "English")]


def help(ctx: Ctx, msg: Inbound, arg: str | None) -> Outcome:
    """Lists what the citizen can say."""
    if ctx.channel.has_command_menu:
        text = ctx.t(
            "What I understand:\n/start: report a problem or an idea\n"
            "/mesdemandes: your reports\n/suivi 1042: status of report #1042\n"
            "/annuler: cancel the report in progress\n/langue: Français or English\n"
            "/supprimer: delete your data"
        )
    else:
        text = ctx.t(
            "Send MENU to report, MES DEMANDES for your reports, #1042 for a status, "
            "ANNULER to cancel, ENGLISH or FRANCAIS for the language, STOP to stop "
            "messages, SUPPRIMER to delete your data."
        )
    return Outcome([Reply(text)], ctx.state)


def cancel(ctx: Ctx, msg: Inbound, arg: str | None) -> Outcome:
    """Drops the report in progress."""
    had_draft = bool(ctx.draft)
    ctx.reset_draft()
    text = (
        ctx.t("Cancelled: nothing was sent. Send MENU to start again.")
        if had_draft
        else ctx.t("There is nothing to cancel. Send MENU to report a problem.")
    )
    return Outcome([Reply(text, remove_keyboard=True)], State.IDLE)


def show_menu(ctx: Ctx, msg: Inbound, arg: str | None) -> Outcome:
    """Starts over at the menu (the draft is dropped)."""
    ctx.reset_draft()
    return Outcome(menu.ask(ctx), State.MENU)


def my_reports_command(ctx: Ctx, msg: Inbound, arg: str | None) -> Outcome:
    """Lists the citizen's reports."""
    return Outcome(my_reports.listing(ctx), ctx.state)


def status(ctx: Ctx, msg: Inbound, arg: str | None) -> Outcome:
    """Tells a report's status (`#1042`, `suivi 1042`), or lists them without a number."""
    if arg and arg.isdigit():
        return Outcome(my_reports.status(ctx, int(arg)), ctx.state)
    return Outcome(my_reports.listing(ctx), ctx.state)


def follow(ctx: Ctx, msg: Inbound, arg: str | None) -> Outcome:
    """Makes the citizen a follower of a public report (SUIVRE 1042, /start follow_1042)."""
    state = State.IDLE if ctx.state == State.START else ctx.state
    if not (arg and arg.isdigit()):
        text = ctx.t("Send SUIVRE and the report's number, such as SUIVRE 1042.")
        return Outcome([Reply(text)], state)
    number = int(arg)
    result, view = reports.follow_report(ctx.session, number, ctx.citizen)
    if view is None:
        text = ctx.t("I find no report #{number}. Check the number.", number=number)
        return Outcome([Reply(text)], state)
    summary = ctx.t(
        "{ref} ({category}, {place}): {status}",
        ref=view.ref,
        category=view.category_names[ctx.lang],
        place=view.place.label or ctx.t("place not public"),
        status=view.status_names[ctx.lang],
    )
    texts = {
        reports.FOLLOWED: N_("You now follow {summary}. You will get its news here."),
        reports.ALREADY_FOLLOWING: N_("You already follow {summary}."),
        reports.REPORT_CLOSED: N_("{summary}. This report is closed: there will be no more news."),
        reports.TOO_MANY: N_(
            "You already follow many reports, so {summary} was not added. Try again later, "
            "once some of them are dealt with."
        ),
    }
    return Outcome([Reply(ctx.t(texts[result], summary=summary))], state)


def language(ctx: Ctx, msg: Inbound, arg: str | None) -> Outcome:
    """Switches language directly ('english') or offers the choice."""
    if arg in ("fr", "en"):
        return set_language(ctx, arg)
    return Outcome([Reply(ctx.t("Which language?"), choices=LANGUAGE_CHOICES)], ctx.state)


def set_language(ctx: Ctx, code: str) -> Outcome:
    """Stores the citizen's language and confirms in that language."""
    ctx.citizen.language = code
    update_citizen(ctx.session, ctx.citizen.id, language=code)
    return Outcome([Reply(translate(code, "I will speak English with you."))], ctx.state)


def stop(ctx: Ctx, msg: Inbound, arg: str | None) -> Outcome:
    """Opts the citizen out: one confirmation, then nothing more is sent."""
    ctx.citizen.opted_out = True
    update_citizen(ctx.session, ctx.citizen.id, opted_out=True)
    cancel_queued_for(ctx.session, ctx.citizen.id, "opted out")
    ctx.reset_draft()
    text = ctx.t("You will no longer receive messages from us. Send START to receive them again.")
    return Outcome([Reply(text, remove_keyboard=True)], State.IDLE)


def start(ctx: Ctx, msg: Inbound, arg: str | None) -> Outcome:
    """Welcomes the citizen (back) and shows the menu."""
    if ctx.citizen.opted_out:
        ctx.citizen.opted_out = False
        update_citizen(ctx.session, ctx.citizen.id, opted_out=False)
    ctx.reset_draft()
    return menu.welcome(ctx, msg)
