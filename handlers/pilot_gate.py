"""The pilot's gate: lets a message through, or tells someone outside the pilot what it
covers and when it opens (the rules themselves are in services/pilot.py)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import Ctx
from models.citizen import State, update_citizen
from models.db import utcnow
from models.pilot import (
    REFUSED_GROUP,
    REFUSED_SERVICE,
    REFUSED_ZONE,
    admit,
    count_invite_use,
    count_refusal,
    follows_any_report,
    is_allowed,
)
from services import words
from services.pilot import CODE_RE
from services.texts import N_, fold
from services.types import Inbound, InputKind, Outcome, Reply

# Commands that work for someone outside the pilot (STOP is honoured before the gate).
OPEN_COMMANDS = {"stop", "erase", "language"}
# States in which a shared location is taken as the report's place.
PLACE_STATES = {State.DESCRIPTION, State.PHOTO, State.LOCATION, State.LOCATION_CONFIRM}

ADMITTED = N_("Your invitation is accepted: welcome to the pilot!")
BAD_CODE = N_("This invitation code is not valid (or no longer).")
PILOT_INTRO = N_("The town's reporting service is open to a first group of residents for now.")
COVERS_ZONES = N_("The pilot covers: {zones}.")
COVERS_SERVICES = N_("It takes reports about: {services}.")
OPENS_ON = N_("It opens to everyone on {date}.")
OPENS_SOON = N_("It will open to everyone soon.")
HAVE_A_CODE = N_("If you received an invitation code, send it here.")
SERVICE_ONLY = N_("During the pilot, I can only take reports about: {services}.")


@dataclass
class Admitted:
    """The citizen just came in with an invitation code: the engine welcomes them next."""

    replies: list[Reply]


def gate(ctx: Ctx, msg: Inbound) -> Outcome | Admitted | None:
    """Lets the message through (None), answers someone outside the pilot, or admits."""
    rules = ctx.catalog.pilot
    if not rules.on:
        return None
    if msg.kind == InputKind.LOCATION and ctx.state in PLACE_STATES and rules.zones:
        _count_place_outside(ctx, msg)
    if not rules.groups or ctx.citizen.admitted_at is not None:
        return None
    command = words.parse(msg.text) if msg.kind == InputKind.TEXT else None
    if ctx.state == State.ERASE_CONFIRM or (command and command.name in OPEN_COMMANDS):
        return None
    code = _code_in(msg, command)
    if code and code in rules.codes:
        return _admit_with_code(ctx, msg, code)
    if _allowlisted(ctx):
        _admit(ctx, "allowlist")
        return None
    if follows_any_report(ctx.session, ctx.citizen.id):
        _admit(ctx, "earlier report")  # they were in before the pilot: keep them in
        return None
    return _refusal(ctx, command, code)


def _refusal(ctx: Ctx, command: words.Command | None, code: str | None) -> Outcome:
    """Says what the pilot covers to someone outside it, and counts them."""
    refuse(ctx, REFUSED_GROUP)
    starting = command is not None and command.name == "start"
    if starting and ctx.citizen.opted_out:
        # START undoes STOP even outside the pilot, so the citizen can send a code later.
        update_citizen(ctx.session, ctx.citizen.id, opted_out=False)
    lines = [ctx.t(BAD_CODE)] if starting and code else []
    return Outcome([Reply("\n".join([*lines, *coverage(ctx)]), remove_keyboard=True)], State.START)


def _code_in(msg: Inbound, command: words.Command | None) -> str | None:
    """The invite code a message carries: `/start CODE`, or the code alone (SMS)."""
    if command is not None:
        return command.arg if command.name == "start" and command.arg else None
    word = fold(msg.text or "").strip(" .!")
    return word if msg.kind == InputKind.TEXT and CODE_RE.match(word) else None


def _admit_with_code(ctx: Ctx, msg: Inbound, code: str) -> Admitted:
    _admit(ctx, f"code:{code}")
    count_invite_use(ctx.session, code)
    return Admitted([Reply(ctx.t(ADMITTED))])


def _admit(ctx: Ctx, via: str) -> None:
    now = utcnow()
    admit(ctx.session, ctx.citizen.id, via, now)
    ctx.citizen.admitted_at, ctx.citizen.admitted_via = now, via


def _allowlisted(ctx: Ctx) -> bool:
    # A Telegram private chat's id is the user's id; a WhatsApp number is a phone number.
    channel = ctx.channel.allowlist_as or ctx.citizen.channel
    return is_allowed(ctx.session, channel, ctx.citizen.address)


def _count_place_outside(ctx: Ctx, msg: Inbound) -> None:
    lat, lon = msg.location  # type: ignore[misc]
    zones = ctx.catalog.zones
    from shapely.geometry import Point  # with numpy: only when a zone is checked

    in_town = zones.boundary is None or zones.boundary.covers(Point(lon, lat))
    if in_town and zones.refusal(lat, lon) is not None:
        refuse(ctx, REFUSED_ZONE)


def refuse(ctx: Ctx, reason: str) -> None:
    """Counts a contact the pilot turned away (once per citizen per day)."""
    count_refusal(ctx.session, ctx.citizen.id, ctx.citizen.channel, reason, utcnow().date())


def coverage(ctx: Ctx) -> list[str]:
    """Says what the pilot covers and when it opens, in the citizen's language."""
    rules = ctx.catalog.pilot
    lines = [ctx.t(PILOT_INTRO)]
    if rules.zones:
        lines.append(ctx.t(COVERS_ZONES, zones=", ".join(rules.zones)))
    if rules.services:
        lines.append(ctx.t(COVERS_SERVICES, services=offered_services(ctx)))
    lines.append(ctx.t(OPENS_ON, date=rules.opens_on) if rules.opens_on else ctx.t(OPENS_SOON))
    if rules.groups and rules.codes:
        lines.append(ctx.t(HAVE_A_CODE))
    return lines


def offered_services(ctx: Ctx) -> str:
    services = ctx.catalog.services.values()
    codes = ctx.catalog.pilot.services
    return ", ".join(s.name(ctx.lang) for s in services if s.code in codes)


def service_refusal(ctx: Ctx) -> Reply:
    """Answers a choice of a category the pilot does not offer yet (and counts it)."""
    refuse(ctx, REFUSED_SERVICE)
    rules = ctx.catalog.pilot
    opens = ctx.t(OPENS_ON, date=rules.opens_on) if rules.opens_on else ctx.t(OPENS_SOON)
    return Reply(f"{ctx.t(SERVICE_ONLY, services=offered_services(ctx))} {opens}")
