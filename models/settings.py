"""Settings the town changes at run time (from the console or the CLI), not env vars."""

from __future__ import annotations

from sqlalchemy import JSON, Column, select
from sqlmodel import Field, Session, SQLModel


class TownSetting(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=64)
    value: dict | list | str | int | float | bool | None = Field(
        default=None, sa_column=Column(JSON)
    )


def get_setting(session: Session, key: str, default=None):
    row = session.get(TownSetting, key)
    return default if row is None else row.value


def all_settings(session: Session) -> dict:
    return {row.key: row.value for row in session.scalars(select(TownSetting))}


def set_setting(session: Session, key: str, value) -> None:
    row = session.get(TownSetting, key)
    if row is None:
        session.add(TownSetting(key=key, value=value))
    else:
        row.value = value
        session.add(row)
