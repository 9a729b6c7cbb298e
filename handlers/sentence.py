"""One sentence: a free message read as a report (category and place), confirmed in one
question; a greeting gets the welcome, an emergency the emergency numbers at once.

The guess is services/nlu's (a few milliseconds, inline). Yes makes the message the
description and asks only what is missing: the photo (on SMS, the link at the end
brings it), the place when none was found, nearby reports, the summary.
"""

from __future__ import annotations

from handlers import (
    description,
    emergency,
    guessed_place,
    idle,
    menu,
    photo,
    pilot_gate,
    questions,
)
from handlers.context import Ctx
from models.citizen import State
from models.report import open_reports_of_citizen
from services.nlu import reader
from services.nlu.reader import Verdict
from services.nlu.text import only_politeness
from services.texts import fold
from services.types import Inbound, InputKind, Outcome, Reply, go_on

YES, OTHER, MORE, REPORT = "guess:yes", "guess:no", "guess:more", "guess:report"


def read(ctx: Ctx, msg: Inbound) -> Outcome:
    """Reads a first message as a possible report (a photo's caption too, the photo kept);
    anything else gets the welcome."""
    _keep_captioned_photo(ctx, msg)
    return _read(ctx, msg) or menu.welcome(ctx, msg)


def read_at_menu(ctx: Ctx, msg: Inbound) -> Outcome:
    """Reads a message typed at the menu, unless it names a category ('lampadaire')."""
    if _names_a_category(ctx, msg.text or ""):
        return menu.choose_text(ctx, msg)
    return _read(ctx, msg) or menu.choose_text(ctx, msg)


def read_idle(ctx: Ctx, msg: Inbound) -> Outcome:
    """Reads a message from a citizen with no open report; with one, offers to add to it."""
    captioned = msg.photo is not None and bool(msg.text)
    if msg.kind != InputKind.TEXT and not captioned:
        return idle.free_message(ctx, msg)
    if every := open_reports_of_citizen(ctx.session, ctx.citizen.id):
        return idle.free_message(ctx, msg, every)
    _keep_captioned_photo(ctx, msg)
    return _read(ctx, msg) or Outcome(menu.ask(ctx), State.MENU)


def _keep_captioned_photo(ctx: Ctx, msg: Inbound) -> None:
    """A photo sent with words (an e-mail's attachment, a caption) joins the draft first."""
    if msg.photo is not None and msg.text:
        photo.keep_photo(ctx, msg)


def add_choice(ctx: Ctx, msg: Inbound) -> Outcome:
    """Adds the pending message to an open report; "new report" reads it as one."""
    pending = ctx.draft.get("pending_text") or ""
    if msg.choice == idle.NEW and pending:
        read = _read(ctx, Inbound(msg.channel, msg.sender, text=pending))
        if read is not None:
            return read
    return idle.add_choice(ctx, msg)


def _read(ctx: Ctx, msg: Inbound) -> Outcome | None:
    text = (msg.text or "").strip()
    if len(text) < description.MIN_LENGTH or only_politeness(text):
        return None  # "Bonjour": the welcome, as the model's own verdict would have it
    reading = reader.read(ctx.session, ctx.catalog, text)
    if reading.verdict == Verdict.NONE:
        return None
    media = ctx.draft.get("media_ids")
    ctx.reset_draft(**({"media_ids": media} if media else {}))
    ctx.draft["sentence"] = text[: description.MAX_LENGTH]
    ctx.draft["guess"] = {
        "verdict": str(reading.verdict),
        "ranked": [[code, round(p, 3)] for code, p in reading.ranked[:3]],
        "place": reading.place.to_dict() if reading.place else None,
        "version": reading.version,
    }
    if reading.verdict == Verdict.EMERGENCY:
        ctx.draft["pick_all"] = True
        ctx.draft["emergency_told"] = True  # not said again when the report is filed
        return Outcome([Reply(emergency.emergency_text(ctx)), *ask_pick(ctx)], State.GUESS_PICK)
    if reading.verdict == Verdict.SURE:
        return Outcome(ask(ctx), State.GUESS)
    return Outcome(ask_pick(ctx), State.GUESS_PICK)


def _names_a_category(ctx: Ctx, text: str) -> bool:
    """Whether the menu's own matching takes it (handlers/menu.py choose_text)."""
    said = fold(text)
    for category in ctx.catalog.categories:
        names = (fold(category.name_fr), fold(category.name_en), fold(category.code))
        if said and any(said == n or (len(said) >= 4 and said in n) for n in names):
            return True
    return False


def _place_label(ctx: Ctx) -> str | None:
    place = (ctx.draft.get("guess") or {}).get("place")
    if not place:
        return None
    return f"{place['number']} {place['label']}" if place.get("number") else place["label"]


def ask(ctx: Ctx) -> list[Reply]:
    """Asks whether the guess (category, and place when found) is right."""
    ranked = (ctx.draft.get("guess") or {}).get("ranked") or []
    category = ctx.catalog.by_code.get(ranked[0][0]) if ranked else None
    name = category.name(ctx.lang) if category else "?"
    place = _place_label(ctx)
    text = (
        ctx.t("{category}, {place}: is that right?", category=name, place=place)
        if place
        else ctx.t("{category}: is that right?", category=name)
    )
    return [Reply(text, choices=[(YES, ctx.t("Yes")), (OTHER, ctx.t("Another category"))])]


def ask_pick(ctx: Ctx) -> list[Reply]:
    """Offers the likeliest categories and 'other' (or, asked for, every category)."""
    if ctx.draft.get("pick_all"):
        codes = [c.code for c in (*ctx.catalog.offered_problems, *ctx.catalog.offered_ideas)]
        text = (
            ctx.t("If you also want to report it to the town, choose what it is about:")
            if (ctx.draft.get("guess") or {}).get("verdict") == Verdict.EMERGENCY
            else ctx.t("What is it about?")
        )
        more = []
    else:
        codes = [code for code, _ in (ctx.draft.get("guess") or {}).get("ranked", [])]
        codes = [c for c in codes if c not in ctx.draft.get("refused", [])]
        text, more = ctx.t("Is it one of these?"), [(MORE, ctx.t("Something else"))]
    choices = [
        (f"cat:{code}", ctx.catalog.by_code[code].name(ctx.lang))
        for code in codes
        if code in ctx.catalog.by_code
    ]
    return [Reply(text, choices=[*choices, *more])]


def confirm(ctx: Ctx, msg: Inbound) -> Outcome:
    """Takes the guess (yes), or offers the other likely categories."""
    ranked = (ctx.draft.get("guess") or {}).get("ranked") or []
    if msg.choice == YES and ranked:
        return accept(ctx, ranked[0][0])
    if msg.choice == OTHER and ranked:
        ctx.draft["refused"] = [ranked[0][0]]
        return Outcome(ask_pick(ctx), State.GUESS_PICK)
    return Outcome([Reply(ctx.t("Sorry, I did not understand your choice.")), *ask(ctx)],
                   State.GUESS)  # fmt: skip


def pick(ctx: Ctx, msg: Inbound) -> Outcome:
    """Takes the category chosen among those offered, or offers them all."""
    choice = msg.choice or ""
    if choice.startswith("cat:"):
        return accept(ctx, choice.removeprefix("cat:"))
    if choice in (MORE, REPORT):
        ctx.draft["pick_all"] = True
        return Outcome(ask_pick(ctx), State.GUESS_PICK)
    return Outcome([Reply(ctx.t("Sorry, I did not understand your choice.")), *ask_pick(ctx)],
                   State.GUESS_PICK)  # fmt: skip


def accept(ctx: Ctx, code: str) -> Outcome:
    """Makes the message the report's description in that category, then the place."""
    category = ctx.catalog.by_code.get(code)
    if category is None:  # deactivated meanwhile
        return Outcome([Reply(ctx.t("Sorry, this category is no longer available.")),
                        *menu.ask(ctx)], State.MENU)  # fmt: skip
    if not ctx.catalog.offers(category):
        return Outcome([pilot_gate.service_refusal(ctx), *menu.ask(ctx)], State.MENU)
    guess = ctx.draft.pop("guess", None) or {}
    text = ctx.draft.pop("sentence", "")
    for key in ("pick_all", "refused"):
        ctx.draft.pop(key, None)
    ctx.draft.update(category=code, description=text)
    place = guess.get("place")
    if not questions.all_answered(ctx):  # the category's questions first, then the place
        ctx.draft["guessed_place"] = place
        return go_on(State.DESCRIPTION)
    return guessed_place.place_guess(ctx, place)
