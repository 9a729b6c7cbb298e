"""The welcome and the main menu: what does the citizen want to report?"""

from __future__ import annotations

from handlers import description, my_reports, pilot_gate
from handlers.context import Ctx
from models.citizen import State
from services.texts import fold
from services.types import Inbound, Outcome, Reply

MINE = "mine"
IDEA = "idea"


def welcome(ctx: Ctx, msg: Inbound) -> Outcome:
    """Greets a citizen and shows the menu."""
    hello = (
        ctx.t("Hello {name}!", name=ctx.citizen.display_name)
        if ctx.citizen.display_name
        else ctx.t("Hello!")
    )
    if ctx.catalog.several_communes and ctx.catalog.intercommunality_name:
        intro = ctx.t(  # one bot for the intercommunalité's communes
            "I am the reporting assistant of {area}. Tell me about a problem in a public "
            "place in one of its communes or share an idea, and follow it until it is "
            "dealt with.",
            area=ctx.catalog.intercommunality_name,
        )
    elif ctx.catalog.several_communes:  # not named yet: its communes are
        intro = ctx.t(
            "I am the reporting assistant of your communes ({area}). Tell me about a problem "
            "in a public place or share an idea, and follow it until it is dealt with.",
            area=ctx.catalog.area_name,
        )
    elif ctx.catalog.town_name:
        intro = elide(
            ctx.t(
                "I am the reporting assistant of {town}. Tell me about a problem in a public "
                "place or share an idea, and follow it until it is dealt with.",
                town=ctx.catalog.town_name,
            ),
            ctx.catalog.town_name,
        )
    else:
        intro = ctx.t(
            "I am the town's reporting assistant. Tell me about a problem in a public place "
            "or share an idea, and follow it until it is dealt with."
        )
    return Outcome([Reply(f"{hello} {intro}"), *ask(ctx)], State.MENU)


def elide(text: str, name: str) -> str:
    """French elision before a town's name: "de Auray" is written "d'Auray"."""
    if fold(name[:1]) in set("aeiouy"):
        return text.replace(f" de {name}", f" d'{name}")
    return text


def ask(ctx: Ctx) -> list[Reply]:
    """Asks what the citizen wants to report (during a pilot, only what it covers)."""
    choices = [(f"cat:{c.code}", c.name(ctx.lang)) for c in ctx.catalog.offered_problems]
    if ctx.catalog.offered_ideas:
        choices.append((IDEA, ctx.t("Propose an idea")))
    choices.append((MINE, ctx.t("My reports")))
    return [Reply(ctx.t("What would you like to report?"), choices=choices)]


def choose(ctx: Ctx, msg: Inbound) -> Outcome:
    """Takes the chosen category (or idea, or my reports) and asks for a description."""
    value = msg.choice or ""
    if value == MINE:
        return Outcome([*my_reports.listing(ctx), *ask(ctx)], State.MENU)
    if value == IDEA:
        ideas = ctx.catalog.offered_ideas
        if len(ideas) > 1:
            choices = [(f"cat:{c.code}", c.name(ctx.lang)) for c in ideas]
            return Outcome([Reply(ctx.t("What is your idea about?"), choices=choices)], State.MENU)
        value = f"cat:{ideas[0].code}" if ideas else ""
    category = ctx.catalog.by_code.get(value.removeprefix("cat:"))
    if category is None:
        return Outcome(
            [Reply(ctx.t("Sorry, I did not understand your choice.")), *ask(ctx)], State.MENU
        )
    if not ctx.catalog.offers(category):
        return Outcome([pilot_gate.service_refusal(ctx), *ask(ctx)], State.MENU)
    ctx.draft["category"] = category.code
    return Outcome(description.ask(ctx), State.DESCRIPTION)


def choose_text(ctx: Ctx, msg: Inbound) -> Outcome:
    """Matches a typed word to a category ('lampadaire', 'pothole')."""
    words = fold(msg.text or "")
    if words:
        for category in ctx.catalog.categories:
            names = (fold(category.name_fr), fold(category.name_en), fold(category.code))
            if any(words == n or (len(words) >= 4 and words in n) for n in names):
                return choose(ctx, Inbound(msg.channel, msg.sender, choice=f"cat:{category.code}"))
    reply = Reply(ctx.t("Sorry, I did not understand. Choose a number from the list."))
    return Outcome([reply, *ask(ctx)], State.MENU)
