"""The pilot's groups (invite codes, allowlist) and the demand it turned away."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel

from models.citizen import Citizen
from models.db import utcnow
from models.report import Follower

# Why someone was turned away (the reasons the demand is counted by).
REFUSED_GROUP, REFUSED_SERVICE, REFUSED_ZONE = "group", "service", "zone"


class PilotInvite(SQLModel, table=True):
    """An invitation code: `t.me/<bot>?start=CODE`, or the code alone by SMS."""

    id: int | None = Field(default=None, primary_key=True)
    # Stored folded (lower case, no accents): codes are case-insensitive.
    code: str = Field(max_length=32, unique=True)
    label: str = Field(default="", max_length=128)
    active: bool = True
    uses: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class PilotAllow(SQLModel, table=True):
    """A channel identity let into the pilot: an E.164 number, a Telegram user id."""

    __table_args__ = (UniqueConstraint("channel", "address", name="uq_pilotallow_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=64)
    label: str = Field(default="", max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class PilotDemand(SQLModel, table=True):
    """Contacts turned away by the pilot, per day, channel and reason (counts only)."""

    day: date = Field(primary_key=True)
    channel: str = Field(primary_key=True, max_length=16)
    reason: str = Field(primary_key=True, max_length=16)
    contacts: int = 0


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# --- invite codes ------------------------------------------------------------------------


def invite_by_code(session: Session, code: str) -> PilotInvite | None:
    return session.scalar(select(PilotInvite).where(PilotInvite.code == code))


def all_invites(session: Session) -> list[PilotInvite]:
    return list(session.scalars(select(PilotInvite).order_by(PilotInvite.id)))


def active_invite_codes(session: Session) -> list[str]:
    stmt = select(PilotInvite.code).where(PilotInvite.active.is_(True)).order_by(PilotInvite.id)
    return list(session.scalars(stmt))


def count_invite_use(session: Session, code: str) -> None:
    session.execute(
        update(PilotInvite).where(PilotInvite.code == code).values(uses=PilotInvite.uses + 1)
    )


# --- allowlist ---------------------------------------------------------------------------


def is_allowed(session: Session, channel: str, address: str) -> bool:
    stmt = select(PilotAllow.id).where(PilotAllow.channel == channel, PilotAllow.address == address)
    return session.scalar(stmt) is not None


def allowed_entry(session: Session, channel: str, address: str) -> PilotAllow | None:
    return session.scalar(
        select(PilotAllow).where(PilotAllow.channel == channel, PilotAllow.address == address)
    )


def all_allowed(session: Session) -> list[PilotAllow]:
    return list(session.scalars(select(PilotAllow).order_by(PilotAllow.channel, PilotAllow.id)))


def count_allowed(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PilotAllow)) or 0


# --- citizens ------------------------------------------------------------------------------


def admit(session: Session, citizen_id: int, via: str, now: datetime) -> None:
    """Lets a citizen in for good (unless they already are)."""
    session.execute(
        update(Citizen)
        .where(Citizen.id == citizen_id, Citizen.admitted_at.is_(None))
        .values(admitted_at=now, admitted_via=via[:48])
    )


def follows_any_report(session: Session, citizen_id: int) -> bool:
    stmt = select(Follower.report_id).where(Follower.citizen_id == citizen_id).limit(1)
    return session.scalar(stmt) is not None


def count_refusal(session: Session, citizen_id: int, channel: str, reason: str, day: date) -> bool:
    """Counts a refused contact, once per citizen per day; returns True when counted."""
    marked = session.execute(
        update(Citizen)
        .where(
            Citizen.id == citizen_id,
            (Citizen.refused_on.is_(None)) | (Citizen.refused_on != day),
        )
        .values(refused_on=day)
        .returning(Citizen.id)
    ).scalar()
    if marked is None:
        return False
    insert = _insert(session)(PilotDemand.__table__).values(
        day=day, channel=channel, reason=reason, contacts=1
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["day", "channel", "reason"],
            set_={"contacts": PilotDemand.__table__.c.contacts + 1},
        )
    )
    return True


def demand_since(session: Session, since: date) -> list[PilotDemand]:
    stmt = (
        select(PilotDemand)
        .where(PilotDemand.day >= since)
        .order_by(PilotDemand.day, PilotDemand.channel, PilotDemand.reason)
    )
    return list(session.scalars(stmt))


def admitted_counts(session: Session) -> dict[str, int]:
    """How many citizens were let in, by way (a code, the allowlist, earlier reports)."""
    stmt = (
        select(Citizen.admitted_via, func.count())
        .where(Citizen.admitted_at.is_not(None))
        .group_by(Citizen.admitted_via)
    )
    return {via or "": n for via, n in session.execute(stmt)}
