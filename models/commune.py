"""Communes of an intercommunalité: boundary zones with an INSEE code, their own services
for some categories, and the agents attached to them."""

from __future__ import annotations

from sqlalchemy import UniqueConstraint, delete, select
from sqlmodel import Field, Session, SQLModel

from models.zone import BOUNDARY, Zone


class CommuneRoute(SQLModel, table=True):
    """A category of this commune goes to this commune's service (else: the shared one)."""

    __table_args__ = (UniqueConstraint("commune", "category_id", name="uq_communeroute"),)

    id: int | None = Field(default=None, primary_key=True)
    commune: str = Field(max_length=5)
    category_id: int = Field(foreign_key="category.id", ondelete="CASCADE")
    service_id: int = Field(foreign_key="service.id", ondelete="CASCADE")


class AgentCommune(SQLModel, table=True):
    agent_id: int = Field(foreign_key="agent.id", primary_key=True, ondelete="CASCADE")
    commune: str = Field(max_length=5, primary_key=True)


def communes(session: Session) -> list[Zone]:
    """The communes (boundary zones with an INSEE code), by name."""
    stmt = select(Zone).where(Zone.kind == BOUNDARY, Zone.insee.is_not(None)).order_by(Zone.name)
    return list(session.scalars(stmt))


def commune_by_insee(session: Session, insee: str) -> Zone | None:
    return session.scalar(select(Zone).where(Zone.kind == BOUNDARY, Zone.insee == insee))


def routed_service(session: Session, commune: str | None, category_id: int) -> int | None:
    """The commune's own service for this category, if it has one."""
    if commune is None:
        return None
    return session.scalar(
        select(CommuneRoute.service_id).where(
            CommuneRoute.commune == commune, CommuneRoute.category_id == category_id
        )
    )


def set_route(session: Session, commune: str, category_id: int, service_id: int | None) -> None:
    session.execute(
        delete(CommuneRoute).where(
            CommuneRoute.commune == commune, CommuneRoute.category_id == category_id
        )
    )
    if service_id is not None:
        session.add(CommuneRoute(commune=commune, category_id=category_id, service_id=service_id))
    session.flush()


def agent_communes(session: Session, agent_id: int) -> tuple[str, ...]:
    rows = session.scalars(select(AgentCommune.commune).where(AgentCommune.agent_id == agent_id))
    return tuple(sorted(rows))


def set_agent_communes(session: Session, agent_id: int, codes: list[str]) -> None:
    session.execute(delete(AgentCommune).where(AgentCommune.agent_id == agent_id))
    for code in sorted(set(codes)):
        session.add(AgentCommune(agent_id=agent_id, commune=code))
    session.flush()
