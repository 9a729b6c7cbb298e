"""API keys of the town's other tools (Open311 clients), stored hashed, each with its
scope: the communes it may read and file in (none: all), and what it reads of a report
(the public view, or the town's full record)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, select, update
from sqlmodel import Field, Session, SQLModel

from models.db import utcnow

# A key is shown once as PREFIX + secret; the prefix tells a leaked key's origin.
KEY_PREFIX = "wl_"


class KeyView(StrEnum):
    """What a key reads of a report."""

    PUBLIC = "public"  # what anyone reads without a key (services/public_view.py)
    FULL = "full"  # the town's record: the citizen's words, the typed address, all notes


class ApiKey(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    # sha256 of the key: the key itself is random and long, so no slow hash is needed.
    key_hash: str = Field(max_length=64, unique=True)
    # The first characters, so an admin can tell keys apart without the secret.
    hint: str = Field(max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    # A new key reads the public view unless the town asks for more (keys made before
    # scopes existed were migrated to "full", what they read then).
    view: str = Field(default=KeyView.PUBLIC, max_length=8)
    # INSEE codes of the communes it reads and files in; empty: every commune.
    communes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))

    @property
    def reads_full_record(self) -> bool:
        return KeyView(self.view) is KeyView.FULL

    def covers(self, commune: str | None) -> bool:
        """Whether this key may read or file a report of `commune` (None: no commune yet,
        which a key limited to some communes does not reach)."""
        return not self.communes or commune in self.communes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session,
    name: str,
    *,
    view: KeyView = KeyView.PUBLIC,
    communes: list[str] | tuple[str, ...] = (),
) -> tuple[ApiKey, str]:
    """Creates a key named `name`; returns the row and the key (never stored in clear)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        key_hash=hash_key(key),
        hint=key[: len(KEY_PREFIX) + 6],
        view=KeyView(view),
        communes=sorted(set(communes)),
    )
    session.add(row)
    session.flush()
    return row, key


def key_by_name(session: Session, name: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.name == name))


def all_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def check_key(session: Session, key: str) -> ApiKey | None:
    """Returns the active key matching `key`, and notes that it was used."""
    if not key:
        return None
    row = session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.active.is_(True))
    )
    if row is not None:
        session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=utcnow()))
    return row


def revoke_key(session: Session, name: str) -> bool:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.name == name, ApiKey.active.is_(True))
        .values(active=False, revoked_at=utcnow())
        .returning(ApiKey.id)
    )
    return result.scalar() is not None
