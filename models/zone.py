"""The town's boundary and pilot zones (GeoJSON polygons)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, select
from sqlmodel import Field, Session, SQLModel

from models.db import utcnow

BOUNDARY = "boundary"
PILOT = "pilot"
ZONE_KINDS = (BOUNDARY, PILOT)


class Zone(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    kind: str = Field(max_length=16)  # boundary or pilot
    # A commune's INSEE code (several communes in one deployment); None for a lone town.
    insee: str | None = Field(default=None, max_length=5, unique=True, index=True)
    active: bool = True
    # A GeoJSON geometry (Polygon or MultiPolygon), lon/lat order as GeoJSON says.
    geometry: dict = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


def active_zones(session: Session) -> list[Zone]:
    stmt = select(Zone).where(Zone.active.is_(True)).order_by(Zone.kind, Zone.id)
    return list(session.scalars(stmt))


def all_zones(session: Session) -> list[Zone]:
    return list(session.scalars(select(Zone).order_by(Zone.kind, Zone.id)))


def zone_by_name(session: Session, name: str, kind: str) -> Zone | None:
    return session.scalar(select(Zone).where(Zone.name == name, Zone.kind == kind))
