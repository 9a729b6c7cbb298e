"""The conversation, as data: state -> accepted input kind -> step function; the order of
a report's steps (REPORT_STEPS); who answers a message (MODES).

```mermaid
stateDiagram-v2
    [*] --> start
    start --> menu: first message (welcome), not a report
    start --> guess: first message read as a report, sure (handlers/sentence.py)
    start --> guess_pick: read as a report, unsure; or an emergency (numbers given)
    menu --> guess: a sentence typed at the menu, sure
    menu --> guess_pick: the same, unsure or an emergency
    idle --> guess: a sentence, nothing open, sure
    idle --> guess_pick: the same, unsure or an emergency
    add_to_report --> guess: "new report": the message read, sure
    add_to_report --> guess_pick: the same, unsure or an emergency
    guess --> guess_pick: another category
    guess_pick --> guess_pick: something else (every category)
    guess --> photo: yes (the message is the description, the place found)
    guess_pick --> photo: a category chosen
    guess --> location: yes, on SMS or no place found (the photo link comes at the end)
    guess_pick --> location: the same
    guess --> location_confirm: yes, the guessed street not found as such
    guess_pick --> location_confirm: the same
    guess --> nearby: yes, the place known, on SMS
    guess_pick --> nearby: the same
    guess --> confirm: yes, the place known, on SMS, nothing close
    guess_pick --> confirm: the same
    guess --> menu: the category gone meanwhile, or outside the pilot
    guess_pick --> menu: the same
    guess_pick --> guess: a category chosen, its street looked up by the worker (event)
    menu --> description: category chosen (or idea)
    description --> question: text, the category has questions (handlers/questions.py)
    guess --> question: yes, the category has questions (the place the message named after)
    guess_pick --> question: the same
    question --> question: the next question, a typed number asked again once, a photo kept
    question --> photo: answered or skipped (passer)
    question --> location: the same, the photo already sent (or on SMS, from a sentence)
    question --> location_confirm: the same, from a sentence: its street not found as such
    question --> guess: the same, from a sentence: its street looked up by the worker (event)
    question --> nearby: the same, the place known
    question --> confirm: the same, the place known, nothing close
    description --> photo: text
    description --> location: text, the photo already sent
    description --> nearby: text, photo and pin already sent
    description --> confirm: text, photo and pin sent, nothing close
    photo --> location: photo / skip
    photo --> nearby: photo / skip, the pin already sent
    photo --> confirm: photo / skip, the pin sent, nothing close
    location --> location_confirm: address looked up (event)
    location --> nearby: pin named (event), or address kept as text
    location --> confirm: the same, nothing close
    location_confirm --> location: no / none of these / another address
    location_confirm --> nearby: yes
    location_confirm --> confirm: yes, nothing close
    nearby --> idle: "yes, the same" (follows #N)
    nearby --> confirm: no / nothing close
    confirm --> idle: send (#number) / cancel
    idle --> add_to_report: free message while a report is open
    add_to_report --> idle: add to #N
    add_to_report --> menu: new report
    idle --> menu: free message, nothing open
    idle --> is_fixed: report resolved (asked by the notification)
    is_fixed --> idle: yes (satisfaction recorded)
    is_fixed --> feedback_words: no / partly
    is_fixed --> add_to_report: a free message, a report open
    is_fixed --> menu: a free message, nothing open
    feedback_words --> idle: words recorded, report reopened
    erase_confirm --> start: yes (data erased)
    erase_confirm --> idle: no (or back to the question pending)
```
The way a message goes, in order (bot/engine.py `handle`, then `_run`):
1. The engine records it (a redelivery has no effect) and locks its citizen. While the
   conversation waits on the worker the message is held, STOP apart; an opted-out citizen
   is answered START and help only; a picture still at the provider is fetched first.
2. MODES (at the end of this file) are tried in order; the first that answers has it: a
   field agent's linked chat or `/agent CODE` (handlers/crew.py), someone outside the
   pilot (handlers/pilot_gate.py; not for EVENTs; admitted with a code: the welcome),
   then the conversation, `step`.
3. `step`: a command (COMMANDS, at every state: help, cancel, menu, my reports, `#1042` /
   status, language, STOP / START, erase (`/supprimer`, SMS SUPPRIMER: asks
   `erase_confirm`)); else a typed answer read as the choice offered ("2", "oui"); a
   language button, or one under a "resolved" message, works at any time; else the step
   FLOW names for the state and the input kind (`InputKind`; another kind is
   asked again, REASKS).
4. A report's steps follow REPORT_STEPS: a step that is answered returns `go_on(State.X)`
   and `next_step` asks the next one the draft does not answer yet (a photo sent with the
   description, a pin sent early, nothing close: skipped). A sentence read as a report
   (handlers/sentence.py) has the place it named looked up after the questions
   (handlers/guessed_place.py), then goes on the same way.
5. Events: a step that needs the network (geocoding, reverse geocoding, a picture to
   download) returns a `Wait`; the worker does the call outside any transaction and its
   result comes back as an EVENT (`WorkerEvent`) to the state the step returned
   (bot/jobs.py). The citizen's messages meanwhile are held and replayed after it, in order.
6. The engine keeps the new state and the choices offered (for a typed "2"), queues the
   replies and the work to wait for, all in the message's one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from handlers import (
    commands as command_handlers,
)
from handlers import (
    confirm,
    crew,
    description,
    erase,
    feedback,
    guessed_place,
    idle,
    location,
    menu,
    nearby,
    photo,
    pilot_gate,
    questions,
    sentence,
)
from handlers.context import Ctx
from models.citizen import State
from models.db import read_number
from services import words
from services.texts import N_, fold
from services.types import Inbound, InputKind, Outcome, Reply

Step = Callable[[Ctx, Inbound], Outcome]


@dataclass(frozen=True)
class Row:
    """A row of the flow table: the question a state asks, the step for each input kind."""

    prompt: Callable[[Ctx], list[Reply]] | None
    accepts: dict[InputKind, Step] = field(default_factory=dict)


FLOW: dict[State, Row] = {
    State.START: Row(
        None,
        {
            **dict.fromkeys((InputKind.CHOICE, InputKind.LOCATION, InputKind.OTHER), menu.welcome),
            InputKind.TEXT: sentence.read,
            InputKind.PHOTO: sentence.read,
        },
    ),
    State.MENU: Row(
        menu.ask, {InputKind.CHOICE: menu.choose, InputKind.TEXT: sentence.read_at_menu}
    ),
    State.GUESS: Row(
        sentence.ask, {InputKind.CHOICE: sentence.confirm, InputKind.EVENT: guessed_place.placed}
    ),
    State.GUESS_PICK: Row(sentence.ask_pick, {InputKind.CHOICE: sentence.pick}),
    State.DESCRIPTION: Row(
        description.ask,
        {
            InputKind.TEXT: description.take,
            InputKind.PHOTO: description.take_photo,
            InputKind.LOCATION: description.take_location,
            InputKind.EVENT: description.pin_named,
        },
    ),
    State.QUESTION: Row(
        questions.ask,
        {
            InputKind.CHOICE: questions.choose,
            InputKind.TEXT: questions.text,
            InputKind.PHOTO: questions.take_photo,
        },
    ),
    State.PHOTO: Row(
        photo.ask,
        {
            InputKind.PHOTO: photo.take,
            InputKind.CHOICE: photo.skip,
            InputKind.TEXT: photo.text,
            InputKind.LOCATION: location.take_pin,
        },
    ),
    State.LOCATION: Row(
        location.ask,
        {
            InputKind.LOCATION: location.take_pin,
            InputKind.TEXT: location.take_address,
            InputKind.CHOICE: location.skip,
            InputKind.EVENT: location.looked_up,
        },
    ),
    State.LOCATION_CONFIRM: Row(
        location.ask_candidates,
        {
            InputKind.CHOICE: location.confirm_candidate,
            InputKind.TEXT: location.retype,
            InputKind.LOCATION: location.take_pin,
        },
    ),
    State.NEARBY: Row(None, {InputKind.CHOICE: nearby.answer}),
    State.CONFIRM: Row(confirm.ask, {InputKind.CHOICE: confirm.answer}),
    State.IDLE: Row(
        None,
        {
            InputKind.TEXT: sentence.read_idle,
            InputKind.PHOTO: sentence.read_idle,
            InputKind.CHOICE: idle.free_message,
        },
    ),
    State.ADD_TO_REPORT: Row(
        None, {InputKind.CHOICE: sentence.add_choice, InputKind.TEXT: idle.free_message}
    ),
    State.IS_FIXED: Row(
        None,
        {
            InputKind.CHOICE: feedback.answer,
            InputKind.TEXT: idle.free_message,
            InputKind.PHOTO: idle.free_message,
        },
    ),
    State.FEEDBACK_WORDS: Row(None, {InputKind.TEXT: feedback.take_words}),
    State.ERASE_CONFIRM: Row(
        erase.prompt, {InputKind.CHOICE: erase.answer, InputKind.TEXT: erase.answer}
    ),
}


@dataclass(frozen=True)
class ReportStep:
    """A step of a report, in order: the question it asks, and whether the draft already
    answers it (then it is skipped; None: always asked)."""

    state: State
    ask: Callable[[Ctx], list[Reply]]
    answered: Callable[[Ctx], bool] | None


# The order of a report. A step that is answered returns `go_on(State.X)`, and `next_step`
# asks the first step after X that the draft does not answer yet (a photo sent with the
# description, a pin sent early, no open report close by: skipped).
REPORT_STEPS = [
    ReportStep(State.DESCRIPTION, description.ask, description.described),
    ReportStep(State.QUESTION, questions.ask, questions.all_answered),
    ReportStep(State.PHOTO, photo.ask, photo.sent),
    ReportStep(State.LOCATION, location.ask, location.given),
    ReportStep(State.NEARBY, nearby.ask, nearby.nothing_close),
    ReportStep(State.CONFIRM, confirm.ask, None),
]


def next_step(ctx: Ctx, after: str) -> Outcome:
    """Asks the first report step after `after` that the draft does not answer yet."""
    states = [step.state for step in REPORT_STEPS]
    for step in REPORT_STEPS[states.index(State(after)) + 1 :]:
        if step.answered is None or not step.answered(ctx):
            return Outcome(step.ask(ctx), step.state)
    raise LookupError(f"no report step after {after!r} is always asked")


def _with_next_step(ctx: Ctx, outcome: Outcome) -> Outcome:
    """A step's outcome, with the next report step asked when it said `go_on`."""
    if outcome.after is None:
        return outcome
    following = next_step(ctx, outcome.after)
    return Outcome([*outcome.replies, *following.replies], following.state, wait=outcome.wait)


# Moves the steps' code does not name (tests/test_flow_table.py reads the rest from it):
# a resolution's notification parks an idle conversation in is_fixed (services/notify.py), and
# "no" at erase_confirm goes back to the state remembered when erasure was asked.
OTHER_MOVES = {(State.IDLE, State.IS_FIXED), (State.ERASE_CONFIRM, State.IDLE)}

COMMANDS: dict[str, Callable[[Ctx, Inbound, str | None], Outcome]] = {
    "help": command_handlers.help,
    "cancel": command_handlers.cancel,
    "menu": command_handlers.show_menu,
    "my_reports": command_handlers.my_reports_command,
    "status": command_handlers.status,
    "language": command_handlers.language,
    "stop": command_handlers.stop,
    "start": command_handlers.start,
    "erase": erase.ask,
    "follow": command_handlers.follow,
}
# Commands after which the current question is asked again, so the citizen goes on.
REPROMPT_AFTER = {"help", "my_reports", "status", "language", "follow"}

YES_WORDS = {"oui", "o", "yes", "y", "ok", "d'accord", "daccord", "ouais"}
NO_WORDS = {"non", "n", "no", "nope"}
SKIP_WORDS = {"passer", "passe", "skip", "sans photo", "pas de photo"}

REASKS = {
    InputKind.PHOTO: N_("I cannot use a picture at this step."),
    InputKind.LOCATION: N_("I do not need a location at this step."),
    InputKind.CHOICE: N_("That button is no longer active."),
    InputKind.OTHER: N_("Sorry, I can only read text, photos and locations."),
    InputKind.TEXT: N_("Please answer with one of the choices."),
}


def step(ctx: Ctx, msg: Inbound) -> Outcome:
    """Runs the step for this message (a command, or the current state's handler), then
    the next report step if it went on."""
    return _with_next_step(ctx, _step(ctx, msg))


def _step(ctx: Ctx, msg: Inbound) -> Outcome:
    command = words.parse(msg.text) if msg.kind == InputKind.TEXT else None
    if command is not None:
        return run_command(ctx, msg, command)
    msg = resolve_choice(ctx, msg)
    if msg.choice and msg.choice.startswith("lang:"):
        outcome = command_handlers.set_language(ctx, msg.choice.removeprefix("lang:"))
        return with_reprompt(ctx, outcome)
    if msg.choice and msg.choice.startswith("fixed:"):
        return feedback.answer(ctx, msg)  # buttons under a "resolved" message, any time
    row = row_of(ctx.state)
    handler = row.accepts.get(msg.kind)
    if handler is None and msg.kind == InputKind.EVENT:
        return Outcome([], ctx.state)  # the worker's answer to a question no longer asked
    if handler is None:
        return reask(ctx, msg)
    if ctx.state == State.ERASE_CONFIRM:
        return with_reprompt(ctx, handler(ctx, msg))  # "no": back to the pending question
    return handler(ctx, msg)


class UnknownState(LookupError):
    """A conversation in a state the flow table does not have: a bug, said loudly."""


def row_of(state: str) -> Row:
    """The flow table's row for a state; raises UnknownState for any other."""
    try:
        return FLOW[State(state)]
    except (ValueError, KeyError) as exc:
        raise UnknownState(f"conversation state {state!r} is not in bot/flow.py's FLOW") from exc


def run_command(ctx: Ctx, msg: Inbound, command: words.Command) -> Outcome:
    outcome = COMMANDS[command.name](ctx, msg, command.arg)
    if command.name in REPROMPT_AFTER:
        return with_reprompt(ctx, outcome)
    return outcome


def with_reprompt(ctx: Ctx, outcome: Outcome) -> Outcome:
    """Appends the pending question, when the citizen is in the middle of a report."""
    row = row_of(outcome.state)
    if row.prompt is not None and outcome.state not in (State.START, State.IDLE):
        return Outcome([*outcome.replies, *row.prompt(ctx)], outcome.state)
    return outcome


def reask(ctx: Ctx, msg: Inbound) -> Outcome:
    """Says politely that this input does not fit, and asks the question again."""
    row = row_of(ctx.state)
    replies = [Reply(ctx.t(REASKS[msg.kind]))]
    if row.prompt is not None:
        replies += row.prompt(ctx)
    elif ctx.state in (State.NEARBY, State.ADD_TO_REPORT):
        replies += [Reply(ctx.t("Please answer with one of the numbers above."))]
    return Outcome(replies, ctx.state)


def resolve_choice(ctx: Ctx, msg: Inbound) -> Inbound:
    """Turns a typed answer ('2', 'oui', 'passer', a label) into the offered choice."""
    offered: list[list[str]] = ctx.draft.get("_offered") or []
    if msg.kind != InputKind.TEXT or not offered:
        return msg
    values = [value for value, _ in offered]
    word = fold(msg.text or "").strip(" .!")
    value = None
    if (number := read_number(word)) is not None and 1 <= number <= len(values):
        value = values[number - 1]
    elif word in SKIP_WORDS and "skip" in values:
        value = "skip"
    elif word in YES_WORDS:
        value = next((v for v in values if v in ("yes", "place:0") or v.endswith(":yes")), None)
        if value is None and len(values) == 2 and values[1] == "no":
            value = values[0]  # "Is it this one, #1042?" -> yes, that one
    elif word in NO_WORDS:
        value = next((v for v in values if v == "no" or v.endswith(":no")), None)
    if value is None:
        value = next((v for v, label in offered if fold(label) == word), None)
    if value is None:
        return msg
    return Inbound(
        msg.channel,
        msg.sender,
        msg.external_id,
        choice=value,
        display_name=msg.display_name,
        language_code=msg.language_code,
        meta=msg.meta,
    )


def offered_choices(replies: list[Reply]) -> list[list[str]]:
    """Remembers the last choices offered, so a typed number can select one."""
    for reply in reversed(replies):
        if reply.choices:
            return [list(c) for c in reply.choices]
    return []


@dataclass(frozen=True)
class Mode:
    """Who answers a message, tried in order (bot/engine.py): the first mode that wants it
    and answers it (not None) has it. A mode that does not move the conversation leaves
    its state, offered choices and pending work as they were."""

    name: str
    wants: Callable[[Ctx, Inbound], bool]
    handle: Callable[[Ctx, Inbound], Outcome | None]
    moves: bool = True


def _crew_answer(ctx: Ctx, msg: Inbound) -> Outcome | None:
    answered = crew.handle(ctx, msg)
    return None if answered is None else Outcome(answered, ctx.state)


def _not_an_event(ctx: Ctx, msg: Inbound) -> bool:
    # A result coming back from the worker was let through with its message.
    return msg.kind != InputKind.EVENT


def _outside_pilot(ctx: Ctx, msg: Inbound) -> Outcome | None:
    gated = pilot_gate.gate(ctx, msg)
    if isinstance(gated, pilot_gate.Admitted):
        welcome = run_command(ctx, msg, words.Command("start"))
        return Outcome([*gated.replies, *welcome.replies], welcome.state)
    return gated


def _always(ctx: Ctx, msg: Inbound) -> bool:
    return True


MODES = [
    # A field agent's linked chat (or `/agent CODE`) is not a citizen's conversation.
    Mode("crew", wants=crew.wants_crew, handle=_crew_answer, moves=False),
    # Someone outside the pilot is told what it covers; STOP, erase and language still
    # pass the gate (handlers/pilot_gate.py OPEN_COMMANDS), START undoes a STOP there.
    Mode("outside_pilot", wants=_not_an_event, handle=_outside_pilot),
    Mode("conversation", wants=_always, handle=step),
]
