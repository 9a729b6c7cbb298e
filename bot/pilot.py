"""The pilot: the service opened step by step (a zone, some services, a group of users).

Everything lives in the database (town settings and the pilot tables), so the town
changes it from the CLI or the console without a redeploy; processes see a change within
the catalog's TTL (bot/catalog.py). Each rule applies only when it is set up:

- zones: the active pilot zones (`webleads zone ...`); places outside are refused at
  the location step (handlers/location.py), and counted here;
- services: only the categories of some services are offered (handlers/menu.py);
- groups: invite codes (`/start CODE` on Telegram, the code alone by SMS) and an
  allowlist of phone numbers and Telegram users. A citizen admitted once stays admitted;
  one who already follows a report (from before the pilot) is let in.

`pilot off` lifts every rule at once, keeping them for the next pilot. Refused contacts
are counted once per citizen per day, by channel and reason, so the town sees the demand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import phonenumbers
from shapely.geometry import Point
from sqlmodel import Session

from bot import audit, commands
from bot.audit import Actor
from bot.catalog import PILOT_ON, PILOT_OPENS_ON, PILOT_SERVICES, PilotRules
from bot.context import Ctx
from bot.texts import N_, fold
from bot.types import LOCATION, TEXT, Inbound, Outcome, Reply
from models.catalog import all_services
from models.citizen import State, update_citizen
from models.db import utcnow
from models.pilot import (
    REFUSED_GROUP,
    REFUSED_SERVICE,
    REFUSED_ZONE,
    PilotAllow,
    PilotInvite,
    admit,
    allowed_entry,
    count_invite_use,
    count_refusal,
    follows_any_report,
    invite_by_code,
    is_allowed,
)
from models.settings import get_setting, set_setting

# Commands that work for someone outside the pilot (STOP is honoured before the gate).
OPEN_COMMANDS = {"stop", "erase", "language"}
# States in which a shared location is taken as the report's place.
PLACE_STATES = {State.DESCRIPTION, State.PHOTO, State.LOCATION, State.LOCATION_CONFIRM}
# Telegram deep-link parameters: A-Z, a-z, 0-9, _ and -, up to 64; we keep 32, lower case.
CODE_RE = re.compile(r"^[a-z0-9_-]{3,32}$")
TELEGRAM_ID_RE = re.compile(r"^[1-9][0-9]{4,15}$")
ALLOW_CHANNELS = ("sms", "telegram")

ADMITTED = N_("Your invitation is accepted: welcome to the pilot!")
BAD_CODE = N_("This invitation code is not valid (or no longer).")
PILOT_INTRO = N_("The town's reporting service is open to a first group of residents for now.")
COVERS_ZONES = N_("The pilot covers: {zones}.")
COVERS_SERVICES = N_("It takes reports about: {services}.")
OPENS_ON = N_("It opens to everyone on {date}.")
OPENS_SOON = N_("It will open to everyone soon.")
HAVE_A_CODE = N_("If you received an invitation code, send it here.")
SERVICE_ONLY = N_("During the pilot, I can only take reports about: {services}.")


class PilotError(ValueError):
    """A pilot setting that cannot be used; the message says why, for the admin."""


# --- the gate (bot/engine.py) -------------------------------------------------------------


def gate(ctx: Ctx, msg: Inbound) -> Outcome | None:
    """Lets the message through (None), or answers someone outside the pilot."""
    rules = ctx.catalog.pilot
    if not rules.on:
        return None
    if msg.kind == LOCATION and ctx.state in PLACE_STATES and rules.zones:
        _count_place_outside(ctx, msg)
    if not rules.groups or ctx.citizen.admitted_at is not None:
        return None
    command = commands.parse(msg.text) if msg.kind == TEXT else None
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


def _refusal(ctx: Ctx, command: commands.Command | None, code: str | None) -> Outcome:
    """Says what the pilot covers to someone outside it, and counts them."""
    refuse(ctx, REFUSED_GROUP)
    starting = command is not None and command.name == "start"
    if starting and ctx.citizen.opted_out:
        # START undoes STOP even outside the pilot, so the citizen can send a code later.
        update_citizen(ctx.session, ctx.citizen.id, opted_out=False)
    lines = [ctx.t(BAD_CODE)] if starting and code else []
    return Outcome([Reply("\n".join([*lines, *coverage(ctx)]), remove_keyboard=True)], State.START)


def _code_in(msg: Inbound, command: commands.Command | None) -> str | None:
    """The invite code a message carries: `/start CODE`, or the code alone (SMS)."""
    if command is not None:
        return command.arg if command.name == "start" and command.arg else None
    word = fold(msg.text or "").strip(" .!")
    return word if msg.kind == TEXT and CODE_RE.match(word) else None


def _admit_with_code(ctx: Ctx, msg: Inbound, code: str) -> Outcome:
    from bot import flow  # the flow imports the handlers, which import this module

    _admit(ctx, f"code:{code}")
    count_invite_use(ctx.session, code)
    welcome = flow.run_command(ctx, msg, commands.Command("start"))
    return Outcome([Reply(ctx.t(ADMITTED)), *welcome.replies], welcome.state)


def _admit(ctx: Ctx, via: str) -> None:
    now = utcnow()
    admit(ctx.session, ctx.citizen.id, via, now)
    ctx.citizen.admitted_at, ctx.citizen.admitted_via = now, via


def _allowlisted(ctx: Ctx) -> bool:
    channel, address = ctx.citizen.channel, ctx.citizen.address
    # A Telegram private chat's id is the user's id.
    return channel in ALLOW_CHANNELS and is_allowed(ctx.session, channel, address)


def _count_place_outside(ctx: Ctx, msg: Inbound) -> None:
    lat, lon = msg.location  # type: ignore[misc]
    zones = ctx.catalog.zones
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


# --- administration (CLI, console) --------------------------------------------------------
# Each change writes its audit row (bot/audit.py) in the caller's transaction.


def switch(session: Session, actor: Actor, on: bool) -> None:
    """Turns the pilot on (its rules apply) or off (open to everyone, rules kept)."""
    before = get_setting(session, PILOT_ON) is not False  # on unless turned off
    set_setting(session, PILOT_ON, on)
    _record_setting(session, actor, "on", before, on)


def set_opening(session: Session, actor: Actor, text: str | None) -> None:
    """Sets when the service opens to everyone ('1er juin 2026'), as citizens read it."""
    value = (text or "").strip()[:64] or None
    before = get_setting(session, PILOT_OPENS_ON)
    set_setting(session, PILOT_OPENS_ON, value)
    _record_setting(session, actor, "opens_on", before, value)


def set_services(session: Session, actor: Actor, codes: list[str]) -> list[str]:
    """Limits the pilot to these services' categories (empty: all); returns the codes."""
    known = {s.code for s in all_services(session)}
    codes = [c.strip().lower() for c in codes if c.strip()]
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise PilotError(
            f"No service {', '.join(unknown)}; the services are: {', '.join(sorted(known))}."
        )
    chosen = sorted(set(codes))
    before = sorted(get_setting(session, PILOT_SERVICES) or [])
    set_setting(session, PILOT_SERVICES, chosen or None)
    _record_setting(session, actor, "services", before, chosen)
    return chosen


def _record_setting(session: Session, actor: Actor, field: str, before, after) -> None:
    changes = audit.changed({field: before}, {field: after})
    audit.record(session, actor, audit.Thing.PILOT, "pilot", audit.Action.UPDATED, changes)


def normalise_code(code: str) -> str:
    """Folds a code as citizens' messages are folded; raises PilotError when unusable."""
    folded = fold(code).strip()
    if not CODE_RE.match(folded) or not any(ch.isalpha() for ch in folded):
        raise PilotError(
            "A code has 3 to 32 letters, digits, '-' or '_', with at least one letter."
        )
    if commands.parse(folded) is not None:
        raise PilotError(f"{code!r} is a word the bot already understands; choose another.")
    return folded


def add_code(session: Session, actor: Actor, code: str, label: str = "") -> PilotInvite:
    """Creates an invite code, or reactivates it with its new label."""
    folded = normalise_code(code)
    invite = invite_by_code(session, folded)
    created = invite is None
    before = {} if invite is None else {"active": invite.active, "label": invite.label}
    if invite is None:
        invite = PilotInvite(code=folded, label=label.strip()[:128])
    else:
        invite.active, invite.label = True, label.strip()[:128] or invite.label
    session.add(invite)
    session.flush()
    changes = audit.changed(before, {"active": invite.active, "label": invite.label})
    action = audit.Action.CREATED if created else audit.Action.UPDATED
    audit.record(session, actor, audit.Thing.INVITE_CODE, invite.code, action, changes)
    return invite


def deactivate_code(session: Session, actor: Actor, code: str) -> PilotInvite:
    """Stops an invite code from letting new residents in (those let in stay in)."""
    invite = invite_by_code(session, fold(code).strip())
    if invite is None:
        raise PilotError(f"No invite code {code!r}.")
    changes = audit.changed({"active": invite.active}, {"active": False})
    invite.active = False
    session.add(invite)
    session.flush()
    audit.record(
        session, actor, audit.Thing.INVITE_CODE, invite.code, audit.Action.UPDATED, changes
    )
    return invite


def identity(text: str, region: str = "FR") -> tuple[str, str]:
    """Reads an allowlist entry: (channel, address) for a phone number or a Telegram id."""
    raw = text.strip()
    if TELEGRAM_ID_RE.match(raw):
        return "telegram", raw
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise PilotError(f"{text!r} is neither a phone number nor a Telegram user id.") from exc
    if not phonenumbers.is_valid_number(number):
        raise PilotError(f"{text!r} is not a valid phone number.")
    return "sms", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def allow(
    session: Session, actor: Actor, text: str, label: str = "", region: str = "FR"
) -> PilotAllow:
    """Adds a phone number (E.164) or a Telegram user id to the allowlist."""
    channel, address = identity(text, region)
    entry = allowed_entry(session, channel, address)
    if entry is None:
        entry = PilotAllow(channel=channel, address=address, label=label.strip()[:128])
        session.add(entry)
        session.flush()
        changes = audit.changed({}, {"channel": channel, "label": entry.label})
        audit.record(
            session, actor, audit.Thing.ALLOWLIST, _entry_name(entry), audit.Action.CREATED, changes
        )
    return entry


def disallow(session: Session, actor: Actor, text: str, region: str = "FR") -> bool:
    """Takes an identity off the allowlist (a resident already let in stays in)."""
    channel, address = identity(text, region)
    entry = allowed_entry(session, channel, address)
    if entry is None:
        return False
    changes = {"channel": [channel, None], "label": [entry.label, None]}
    session.delete(entry)
    session.flush()
    audit.record(
        session, actor, audit.Thing.ALLOWLIST, _entry_name(entry), audit.Action.REMOVED, changes
    )
    return True


def _entry_name(entry: PilotAllow) -> str:
    """An allowlisted identity as the audit trail keeps it: masked, it outlives the entry."""
    return f"{entry.channel} {audit.mask(entry.address)}"


@dataclass(frozen=True)
class DemandRow:
    day: date
    channel: str
    reason: str
    contacts: int


def demand(session: Session, days: int = 30) -> list[DemandRow]:
    """Contacts the pilot turned away over the last `days` days."""
    from models.pilot import demand_since

    since = utcnow().date() - timedelta(days=days - 1)
    return [DemandRow(r.day, r.channel, r.reason, r.contacts) for r in demand_since(session, since)]


def describe(rules: PilotRules) -> list[str]:
    """Says in plain words what the pilot restricts (for `pilot status` and the console)."""
    if not rules.on:
        return ["Pilot: off. The service is open to everyone."]
    if not rules.restricts:
        return ["Pilot: on, but nothing is restricted: the service is open to everyone."]
    lines = ["Pilot: on."]
    lines.append(f"Zones: {', '.join(rules.zones)}." if rules.zones else "Zones: the whole town.")
    services = ", ".join(sorted(rules.services)) if rules.services else "all"
    lines.append(f"Services: {services}.")
    if rules.groups:
        lines.append(
            f"Groups: {len(rules.codes)} active invite code(s)"
            f"{', allowlist' if rules.allowlist else ''}."
        )
    else:
        lines.append("Groups: everyone.")
    lines.append(f"Opens to everyone: {rules.opens_on or 'date not set'}.")
    return lines
