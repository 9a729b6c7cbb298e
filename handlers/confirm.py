"""The summary, then the report is filed and its number given."""

from __future__ import annotations

from handlers import emergency
from handlers.context import Ctx
from models.citizen import State
from services import links, reports, urgency
from services.types import Inbound, Outcome, Reply

YES, NO = "yes", "no"


def ask(ctx: Ctx) -> list[Reply]:
    """Shows the summary and asks to send it."""
    draft = ctx.draft
    category = ctx.category
    if draft.get("address"):
        place = draft["address"]
        if not draft.get("geolocated"):
            place += " " + ctx.t("(not located on the map)")
    elif draft.get("lat") is not None:
        place = f"{draft['lat']:.5f}, {draft['lon']:.5f}"
    else:
        place = ctx.t("none")
    photos = len(draft.get("media_ids", []))
    lines = [
        ctx.t("Your report:"),
        ctx.t("Category: {name}", name=category.name(ctx.lang) if category else "?"),
        ctx.t("Description: {text}", text=_shorten(draft.get("description", ""), 300)),
        ctx.t("Photo: {answer}", answer=ctx.t("yes") if photos else ctx.t("no")),
        ctx.t("Place: {place}", place=place),
        ctx.t("Shall I send it?"),
    ]
    commune = ctx.catalog.commune_name_at(draft.get("lat"), draft.get("lon"))
    if commune:  # several communes: the one whose boundary holds the place
        lines.insert(5, ctx.t("Commune: {name}", name=commune))
    choices = [(YES, ctx.t("Send")), (NO, ctx.t("Cancel"))]
    return [Reply("\n".join(lines), choices=choices, remove_keyboard=True)]


def answer(ctx: Ctx, msg: Inbound) -> Outcome:
    """Files the report (yes) or drops the draft (no)."""
    if msg.choice == YES:
        if ctx.category is None:  # the category was deactivated meanwhile
            ctx.reset_draft()
            return Outcome(
                [Reply(ctx.t("Sorry, this category is no longer available."))], State.IDLE
            )
        category = ctx.category
        commune = ctx.catalog.zones.commune_at(ctx.draft.get("lat"), ctx.draft.get("lon"))
        report = reports.file_report(ctx.session, ctx.citizen, ctx.draft, category, commune)
        first, now = _urgency(ctx, report, category)
        had_photo = bool(ctx.draft.get("media_ids"))
        name = ctx.catalog.zones.commune_name(commune) if ctx.catalog.several_communes else None
        ctx.reset_draft()
        if category.is_idea:
            text = ctx.t(
                "Thank you! Your idea {ref} is registered. You will hear from us here.",
                ref=report.ref,
            )
        elif name:
            text = ctx.t(
                "Thank you! Your report {ref} in {commune} is registered. You will get its "
                "updates here; send {ref} at any time to see its status.",
                ref=report.ref,
                commune=name,
            )
        else:
            text = ctx.t(
                "Thank you! Your report {ref} is registered. You will get its updates "
                "here; send {ref} at any time to see its status.",
                ref=report.ref,
            )
        text = f"{text}\n{now}" if now else text  # what happens now, in the same message
        return Outcome([*first, Reply(text), *_link_by_sms(ctx, report, had_photo)],
                       State.IDLE)  # fmt: skip
    if msg.choice == NO:
        ctx.reset_draft()
        return Outcome(
            [Reply(ctx.t("Cancelled: nothing was sent. Send MENU to start again."))], State.IDLE
        )
    return Outcome(
        [Reply(ctx.t("Sorry, I did not understand your choice.")), *ask(ctx)], State.CONFIRM
    )


def _urgency(ctx: Ctx, report, category) -> tuple[list[Reply], str]:
    """Makes the report urgent when something says so (services/urgency.py); returns what
    comes before the thanks (the emergency numbers, for a danger to people not yet told)
    and what follows it (what happens now)."""
    why = urgency.reasons(category, ctx.draft.get("answers") or [], report.description,
                          urgency.danger_words(ctx.catalog.settings))  # fmt: skip
    if not urgency.make_urgent(ctx.session, report, why):
        return [], ""
    first = []
    if why.get(urgency.PEOPLE) and not ctx.draft.get("emergency_told"):
        first = [Reply(emergency.emergency_text(ctx))]
    service = ctx.catalog.services.get(report.service_id)
    text = ctx.t(
        "Your report is handled as a priority: the {service} service is alerted and aims to "
        "act within {hours} hours.",
        service=service.name(ctx.lang) if service else "",
        hours=category.urgent_sla_hours,
    )
    return first, text


def _link_by_sms(ctx: Ctx, report, had_photo: bool) -> list[Reply]:
    """By SMS: the one-time link to add a photo and a pin, when the report lacks either."""
    if not ctx.channel.needs_link_for_pin or (report.geolocated and had_photo):
        return []
    settings = ctx.rt.settings
    link = links.report_link(settings.PUBLIC_BASE_URL, settings.SECRET_KEY, report.id,
                             ctx.citizen.id)  # fmt: skip
    text = ctx.t(
        "Add a photo and pin the exact place of {ref} on a map (link valid for 24 hours, "
        "single use): {link}",
        ref=report.ref,
        link=link,
    )
    return [Reply(text)]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
