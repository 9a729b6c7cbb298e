"""Crew commands: what a field agent says from a linked chat, and `/agent CODE` that links it.

The engine sends here every message of a linked chat, and the linking command from any
chat; a chat that is not linked never reaches anything else of this module. The writes
and the permission checks (the console's) are in services/crews.py. Nothing here asks a
channel's name: buttons only where `ctx.channel.can_show_buttons`, else words to type
(the same words work everywhere: `/agent 1234 5678` on Telegram, `AGENT 12345678` on
WhatsApp).
"""

from __future__ import annotations

import re

from handlers.context import Ctx
from models.db import read_number
from services import crew_links, crews, oncall
from services.texts import N_, fold
from services.types import Inbound, InputKind, Reply

# On the folded text (accents and case ignored).
LINK_RE = re.compile(r"^/?agent(?:@\w+)?\s+([\d ]{4,20})$|^/start(?:@\w+)?\s+agent_(\d{4,12})$")
UNLINK_RE = re.compile(r"^/?agent(?:@\w+)?\s+(?:off|stop|fin|quit)$")
TASKS_RE = re.compile(r"^/?(?:taches|mes taches|tasks|tache)(?:@\w+)?$")
TAKE_RE = re.compile(r"^(?:/?je prends|/?prends|/?take|je prend)\s*#?(\d{1,9})?$")
DONE_RE = re.compile(
    r"^/?(?:fait|termine|done|fini)\s*#?(\d{1,9})?(\s+(?:sans photo|no photo|pas de photo))?$"
)
NO_PHOTO_RE = re.compile(r"^(?:sans photo|no photo|pas de photo)$")
# The answer to a page by SMS (services/oncall.py): "OK 1042".
ACK_RE = re.compile(r"^ok\s*#?(\d{1,9})$")
HELP_RE = re.compile(r"^/?(?:aide|help|\?)(?:@\w+)?$")
# On the original text (the note keeps its case and accents).
BACK_RE = re.compile(
    r"^\s*(?:pas pour nous|not for us)\s*#?(\d{1,9})?\s*[:,.-]?\s*(.*)$", re.I | re.S
)
NOTE_RE = re.compile(r"^\s*/?note\s+#?(\d{1,9})\s+(.+)$", re.I | re.S)

DONE_BUTTON = N_("Done")
NO_PHOTO_BUTTON = N_("No photo")
TAKE_BUTTON = N_("Take {ref}")

REFUSALS = {
    "wrong": N_("This code is not right. Ask for a new one in the console (Mon téléphone)."),
    "expired": N_("This code has expired (10 minutes). Ask for a new one in the console."),
    "used": N_("This code has already been used. Ask for a new one in the console."),
    "too_many": N_("Too many wrong codes from this chat: try again in an hour."),
    "unknown": N_("You cannot work on report #{number} (not one of your services)."),
    "not_open": N_("Report #{number} is no longer open."),
    "already_yours": N_("Report #{number} is already yours and in progress."),
    "note_needed": N_("Say why in a few words: pas pour nous {number} because..."),
    "not_paged": N_("You were not paged about report #{number}."),
    "answered": N_("{by} is already handling report #{number}."),
}


def wants_crew(ctx: Ctx, msg: Inbound) -> bool:
    """Whether this message is for the crew commands: a linked chat, or a linking code."""
    if ctx.citizen.field_chat:
        return True
    return msg.kind == InputKind.TEXT and bool(LINK_RE.match(fold(msg.text or "").strip()))


def handle(ctx: Ctx, msg: Inbound) -> list[Reply] | None:
    """Answers one message of a field agent (or links the chat); None: not an agent's."""
    words = fold(msg.text or "").strip(" .!")
    link = LINK_RE.match(words) if msg.kind == InputKind.TEXT else None
    if link:
        return link_chat(ctx, link.group(1) or link.group(2))
    agent = crews.agent_of_chat(ctx.session, ctx.citizen.id)
    if agent is None:  # linked to an agent since deactivated or removed: a citizen again
        return None
    try:
        return _act(ctx, agent, msg, words)
    except crews.CrewError as exc:
        return [Reply(ctx.t(REFUSALS[exc.reason], number=exc.number or ""))]


def link_chat(ctx: Ctx, code: str) -> list[Reply]:
    """Links this chat to the agent whose one-time code it is."""
    try:
        agent = crew_links.link_chat(ctx.session, ctx.citizen, code, ctx.rt.settings.SECRET_KEY)
    except crews.CrewError as exc:
        return [Reply(ctx.t(REFUSALS[exc.reason]))]
    ctx.conversation.draft = {}
    text = ctx.t(
        "Linked: this chat is now {name}'s phone for the town's reports. "
        "New assignments will arrive here.",
        name=agent.display_name,
    )
    return [Reply(text, remove_keyboard=True), *help_replies(ctx)]


def _act(ctx: Ctx, agent, msg: Inbound, words: str) -> list[Reply]:
    pending = dict(ctx.draft.get("crew") or {})
    channel = ctx.citizen.channel
    if msg.kind == InputKind.CHOICE:
        return _choice(ctx, agent, msg.choice or "")
    if msg.kind == InputKind.LOCATION:
        return nearby(ctx, agent, *msg.location)
    if msg.kind == InputKind.PHOTO:
        return _photo(ctx, agent, msg, words, pending)
    if UNLINK_RE.match(words):
        crew_links.unlink_chat(ctx.session, ctx.citizen.id)
        ctx.conversation.draft = {}
        return [Reply(ctx.t("Unlinked: this chat is no longer an agent's phone."))]
    if TASKS_RE.match(words):
        return task_list(ctx, agent)
    if match := ACK_RE.match(words):
        return acknowledged(ctx, agent, int(match.group(1)))
    if HELP_RE.match(words):
        return help_replies(ctx)
    if match := TAKE_RE.match(words):
        number = (
            int(match.group(1)) if match.group(1) else crews.the_one_to_take(ctx.session, agent)
        )
        if number is None:
            return [Reply(ctx.t("Which report? Write: je prends 1042"))]
        return taken(ctx, agent, number)
    if match := DONE_RE.match(words):
        number = _number(ctx, agent, match.group(1), pending)
        if number is None:
            return [Reply(ctx.t("Which report? Write: fait 1042, with the photo"))]
        if match.group(2):  # "fait 1042 sans photo": closed at once
            return finished(ctx, agent, number, None)
        return ask_photo(ctx, number)
    if NO_PHOTO_RE.match(words) and pending.get("closing"):
        return finished(ctx, agent, pending["closing"], None)
    if match := NOTE_RE.match(msg.text or ""):
        crews.note(ctx.session, agent, int(match.group(1)), match.group(2).strip(), channel)
        return [Reply(ctx.t("Note added to #{number} (internal).", number=match.group(1)))]
    if match := BACK_RE.match(msg.text or ""):
        number = int(match.group(1)) if match.group(1) else pending.get("working")
        if number is None:
            return [Reply(ctx.t("Which report? Write: pas pour nous 1042 because..."))]
        return handed_back(ctx, number, match.group(2), agent)
    if pending.get("back") and msg.text:
        return handed_back(ctx, pending["back"], msg.text, agent)
    return [*_not_understood(ctx, msg), *help_replies(ctx)]


def _not_understood(ctx: Ctx, msg: Inbound) -> list[Reply]:
    """Says which words were not understood (a typo in "je prends" is not a citizen's)."""
    said = " ".join((msg.text or "").split())
    if not said:
        return []
    shown = said if len(said) <= 60 else said[:59] + "…"
    return [Reply(ctx.t("I did not understand “{words}”.", words=shown))]


def _choice(ctx: Ctx, agent, choice: str) -> list[Reply]:
    kind, _, written = choice.removeprefix("crew:").partition(":")
    if not written.isdigit():
        return help_replies(ctx)
    number = read_number(written)
    if number is None:  # past any report's number: refused as a report not theirs
        return [Reply(ctx.t(REFUSALS["unknown"], number=written))]
    if kind == "take":
        return taken(ctx, agent, number)
    if kind == "ack":
        return acknowledged(ctx, agent, number)
    if kind == "done":
        return ask_photo(ctx, number)
    if kind == "nophoto":
        return finished(ctx, agent, number, None)
    if kind == "back":
        _report(ctx, agent, number)
        _remember(ctx, back=number)
        return [Reply(ctx.t("Why is #{number} not for you? Write a short note.", number=number))]
    return help_replies(ctx)


def _photo(ctx: Ctx, agent, msg: Inbound, words: str, pending: dict) -> list[Reply]:
    if msg.photo is None:
        return [Reply(ctx.t("I could not take this photo. Send another one, or: sans photo"))]
    match = DONE_RE.match(words) if words else None
    number = _number(ctx, agent, match.group(1), pending) if match else pending.get("closing")
    if number is None:
        return [Reply(ctx.t("To close a report, send the photo with: fait 1042"))]
    return finished(ctx, agent, number, msg.photo)


def _number(ctx: Ctx, agent, typed: str | None, pending: dict) -> int | None:
    if typed:
        return int(typed)
    return pending.get("closing") or crews.the_report_in_progress(ctx.session, agent)


def _report(ctx: Ctx, agent, number: int):
    return crews._workable(ctx.session, agent, number)


def _remember(ctx: Ctx, **crew) -> None:
    ctx.conversation.draft = {**ctx.draft, "crew": crew}


def taken(ctx: Ctx, agent, number: int) -> list[Reply]:
    """ "Je prends": in progress, theirs; the followers are told."""
    crews.take(ctx.session, agent, number, ctx.citizen.channel)
    _remember(ctx, working=number)
    text = ctx.t("#{number} is yours, in progress: the citizen is told.", number=number)
    return [_with_buttons(ctx, text, [(f"crew:done:{number}", ctx.t(DONE_BUTTON))],
                          ctx.t("When it is done, send the photo with: fait {number}",
                                number=number))]  # fmt: skip


def acknowledged(ctx: Ctx, agent, number: int) -> list[Reply]:
    """Answers a page ("Je m'en occupe"): nobody else is woken; then take it as a crew."""
    try:
        oncall.acknowledge(ctx.session, agent, number)
    except oncall.PageRefused as exc:
        return [Reply(ctx.t(REFUSALS[exc.reason], number=number, by=exc.by or ""))]
    text = ctx.t("Thank you: you are handling #{number}, nobody else is paged.", number=number)
    take = [(f"crew:take:{number}", ctx.t(TAKE_BUTTON, ref=f"#{number}"))]
    return [_with_buttons(ctx, text, take, ctx.t("To take it: je prends {number}", number=number))]


def ask_photo(ctx: Ctx, number: int) -> list[Reply]:
    """ "Terminé": asks for the after-photo (or "sans photo")."""
    _report(ctx, crews.agent_of_chat(ctx.session, ctx.citizen.id), number)
    _remember(ctx, closing=number)
    text = ctx.t("Send a photo of the work done on #{number}.", number=number)
    return [_with_buttons(ctx, text, [(f"crew:nophoto:{number}", ctx.t(NO_PHOTO_BUTTON))],
                          ctx.t("Or write: sans photo"))]  # fmt: skip


def finished(ctx: Ctx, agent, number: int, photo) -> list[Reply]:
    """Resolves the report; the photo goes to the followers."""
    crews.finish(ctx.session, agent, number, ctx.citizen.channel, photo, ctx.rt)
    ctx.conversation.draft = {}
    if photo is not None:
        return [Reply(ctx.t("#{number} resolved; the photo is sent to the citizen. Thank you!",
                            number=number))]  # fmt: skip
    return [Reply(ctx.t("#{number} resolved; the citizen is told. Thank you!", number=number))]


def handed_back(ctx: Ctx, number: int, note: str, agent) -> list[Reply]:
    """ "Pas pour nous": back to the service's queue with the note."""
    note = (note or "").strip()
    if not note:
        _remember(ctx, back=number)
        return [Reply(ctx.t("Why is #{number} not for you? Write a short note.", number=number))]
    crews.hand_back(ctx.session, agent, number, note, ctx.citizen.channel)
    ctx.conversation.draft = {}
    return [Reply(ctx.t("#{number} is back in the service's queue, with your note.",
                        number=number))]  # fmt: skip


def task_list(ctx: Ctx, agent) -> list[Reply]:
    """`/taches`: their open reports, overdue first."""
    found = crews.tasks(ctx.session, agent)
    if not found:
        return [Reply(ctx.t("No open report is assigned to you."))]
    lines = [ctx.t("Your open reports:")]
    lines += [_line(ctx, task) for task in found]
    return [Reply("\n".join(lines))]


def nearby(ctx: Ctx, agent, lat: float, lon: float) -> list[Reply]:
    """A shared location: their services' open reports within 300 m, nearest first."""
    found = crews.open_near(ctx.session, agent, lat, lon)
    if not found:
        return [Reply(ctx.t("No open report of your services within 300 m."), remove_keyboard=True)]
    lines = [ctx.t("Open reports within 300 m:")]
    lines += [f"{_line(ctx, task)} ({int(task.distance)} m)" for task in found]
    choices = [(f"crew:take:{t.report.id}", ctx.t(TAKE_BUTTON, ref=t.report.ref)) for t in found]
    return [_with_buttons(ctx, "\n".join(lines), choices, ctx.t("To take one: je prends 1042"))]


def _line(ctx: Ctx, task: crews.Task) -> str:
    report = task.report
    place = report.address or (f"{report.lat:.5f}, {report.lon:.5f}" if report.lat else "")
    late = ctx.t("overdue") + " · " if task.overdue else ""
    return f"{late}{report.ref} {report.description[:60]} {place}".strip()


def _with_buttons(ctx: Ctx, text: str, choices: list, typed_hint: str) -> Reply:
    """Buttons where the channel shows them; else the words to type."""
    if ctx.channel.can_show_buttons:
        return Reply(text, choices=choices)
    return Reply(f"{text}\n{typed_hint}")


def help_replies(ctx: Ctx) -> list[Reply]:
    """What a field agent can say."""
    text = ctx.t(
        "From the field:\n/taches: your open reports\n"
        "je prends 1042: take a report\n"
        "fait 1042 with a photo: resolved (or: sans photo)\n"
        "pas pour nous 1042 because...: back to the service\n"
        "note 1042 ...: internal note\n"
        "share your location: open reports within 300 m\n"
        "/agent off: unlink this chat"
    )
    return [Reply(text)]
