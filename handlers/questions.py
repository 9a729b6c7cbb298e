"""The category's short questions (at most two), after the description; each may be
skipped, and an answer that does not fit is asked again politely (a number once, with an
example). The answers go with the draft and become fields of the report."""

from __future__ import annotations

from handlers import guessed_place, photo
from handlers.context import Ctx
from models.citizen import State
from models.question import Kind, Question
from services import urgency
from services.texts import fold
from services.types import Inbound, Outcome, Reply, go_on

SKIP = "skip"
PREFIX = "q:"
SKIP_WORDS = {"passer", "passe", "skip", "sauter", "je ne sais pas", "jsp", "?"}


def current(ctx: Ctx) -> Question | None:
    """The question being asked, or None when the category has no more."""
    category = ctx.category
    index = ctx.draft.get("question", 0)
    if category is None or index >= len(category.questions):
        return None
    return category.questions[index]


def all_answered(ctx: Ctx) -> bool:
    """The questions step is answered: the category has none, or none is left."""
    return current(ctx) is None


def after(ctx: Ctx) -> Outcome:
    """Goes on where the report was headed: the place the message named (a detour, from
    handlers/sentence.py), or the next report step."""
    if "guessed_place" in ctx.draft:
        return guessed_place.place_guess(ctx, ctx.draft.pop("guessed_place"))
    return go_on(State.QUESTION)


def ask(ctx: Ctx) -> list[Reply]:
    """Asks the current question, with its choices (buttons, or numbered) and a skip."""
    question = current(ctx)
    if question is None:
        return []
    text = question.wording(ctx.lang)
    skip = (SKIP, ctx.t("Skip"))
    if question.kind == Kind.YES_NO:
        choices = [(PREFIX + "yes", ctx.t("Yes")), (PREFIX + "no", ctx.t("No")), skip]
        return [Reply(text, choices=choices, remove_keyboard=True)]
    if question.kind == Kind.CHOICE:
        options = [(PREFIX + o.code, o.label(ctx.lang)) for o in question.options]
        return [Reply(text, choices=[*options, skip], remove_keyboard=True)]
    # Typed answers: no numbered list, so a typed "1" is the answer, not the first choice.
    hint = ctx.t("(or reply {skip} to skip this question)", skip=ctx.t("Skip").upper())
    return [Reply(f"{text}\n{hint}", remove_keyboard=True)]


def choose(ctx: Ctx, msg: Inbound) -> Outcome:
    """Takes the choice made (yes, no, an option) or skips the question."""
    question = current(ctx)
    if question is None:
        return after(ctx)
    choice = msg.choice or ""
    if choice == SKIP:
        return _next(ctx)
    value = urgency.check(question, choice=choice.removeprefix(PREFIX)).value
    if value is None:
        return Outcome([Reply(ctx.t("Sorry, I did not understand your choice.")), *ask(ctx)],
                       State.QUESTION)  # fmt: skip
    return _keep(ctx, question, value)


def text(ctx: Ctx, msg: Inbound) -> Outcome:
    """Takes a typed answer (a number, a few words), or a skip; asks again if it does not fit."""
    question = current(ctx)
    if question is None:
        return after(ctx)
    said = (msg.text or "").strip()
    if fold(said).strip(" .!") in SKIP_WORDS:
        return _next(ctx)
    if question.kind in (Kind.YES_NO, Kind.CHOICE):
        return Outcome([Reply(ctx.t("Please answer with one of the choices.")), *ask(ctx)],
                       State.QUESTION)  # fmt: skip
    value = urgency.check(question, text=said).value
    if value is not None:
        return _keep(ctx, question, value)
    if question.kind == Kind.NUMBER and not ctx.draft.get("question_retried"):
        ctx.draft["question_retried"] = True
        example = int(question.urgent_above or 10) + 5
        again = ctx.t("Please answer with a number, for example {example}.", example=example)
        return Outcome([Reply(again), *ask(ctx)], State.QUESTION)
    # Asked twice: not worth a third time.
    return _next(ctx).led_by(Reply(ctx.t("No matter, let us go on.")))


def take_photo(ctx: Ctx, msg: Inbound) -> Outcome:
    """Keeps a photo sent while a question is asked (the photo step is then skipped)."""
    if msg.photo is None:
        return Outcome([photo.refuse(ctx, msg, State.QUESTION).replies[0], *ask(ctx)],
                       State.QUESTION)  # fmt: skip
    photo.keep_photo(ctx, msg)
    return Outcome([Reply(ctx.t("Thanks for the photo.")), *ask(ctx)], State.QUESTION)


def _keep(ctx: Ctx, question: Question, value) -> Outcome:
    answers = [a for a in ctx.draft.get("answers", []) if a["code"] != question.code]
    ctx.draft["answers"] = [*answers, urgency.answer_of(question, value)]
    return _next(ctx)


def _next(ctx: Ctx) -> Outcome:
    ctx.draft["question"] = ctx.draft.get("question", 0) + 1
    ctx.draft.pop("question_retried", None)
    if current(ctx) is not None:
        return Outcome(ask(ctx), State.QUESTION)
    return after(ctx)
