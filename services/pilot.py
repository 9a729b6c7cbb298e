"""The pilot: the service opened step by step (a zone, some services, a group of users).

Everything lives in the database (town settings and the pilot tables), so the town
changes it from the CLI or the console without a redeploy; processes see a change within
the catalog's TTL (services/catalog.py). Each rule applies only when it is set up:

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

from sqlmodel import Session

from models.catalog import all_services
from models.db import utcnow
from models.pilot import PilotAllow, PilotInvite, allowed_entry, invite_by_code
from models.settings import get_setting, set_setting
from services import audit, channels, words
from services.audit import Actor
from services.catalog import PILOT_ON, PILOT_OPENS_ON, PILOT_SERVICES, PilotRules
from services.texts import N_, fold

# Telegram deep-link parameters: A-Z, a-z, 0-9, _ and -, up to 64; we keep 32, lower case.
CODE_RE = re.compile(r"^[a-z0-9_-]{3,32}$")


class PilotError(ValueError):
    """A pilot setting that cannot be used; the message says why, for the admin.

    Like ReportError: an English msgid and its values, str() in English (the command
    line), the console in the admin's language (console/babel.cfg reads this module).
    """

    def __init__(self, text: str, **values) -> None:
        self.text, self.values = text, values
        super().__init__(text % values if values else text)


# --- administration (CLI, console) --------------------------------------------------------
# Each change writes its audit row (services/audit.py) in the caller's transaction.


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
            N_("No service %(codes)s; the services are: %(known)s."),
            codes=", ".join(unknown),
            known=", ".join(sorted(known)),
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
    if words.parse(folded) is not None:
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
        raise PilotError(N_("No invite code “%(code)s”."), code=code)
    changes = audit.changed({"active": invite.active}, {"active": False})
    invite.active = False
    session.add(invite)
    session.flush()
    audit.record(
        session, actor, audit.Thing.INVITE_CODE, invite.code, audit.Action.UPDATED, changes
    )
    return invite


def identity(text: str, region: str = "FR") -> tuple[str, str]:
    """Reads an allowlist entry: (channel, address), asking each channel (a phone number,
    a Telegram user id...); PilotError says why none of them reads it."""
    try:
        found = channels.identity_of(text.strip(), region)
    except ValueError as exc:
        raise PilotError(f"{text!r}: {exc}") from exc
    if found is None:
        known = ", ".join(c.label() for c in channels.all_channels() if channels.reads_identity(c))
        raise PilotError(f"{text!r} is not an address on any channel that reads one ({known}).")
    return found


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
    audit.remove(session, actor, audit.Thing.ALLOWLIST, _entry_name(entry), entry, changes)
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
