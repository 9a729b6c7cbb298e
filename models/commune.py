"""Communes of an intercommunalité: boundary zones with an INSEE code, their own services
for some categories, and the agents attached to them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import UniqueConstraint, delete, select, update
from sqlmodel import Field, Session, SQLModel

from models.report import Report
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


def boundaries_without_commune(session: Session) -> list[Zone]:
    """Boundary zones with no INSEE code: a lone town's own boundary, active ones first."""
    stmt = select(Zone).where(Zone.kind == BOUNDARY, Zone.insee.is_(None))
    return list(session.scalars(stmt.order_by(Zone.active.desc(), Zone.id)))


def placed_reports_without_commune(session: Session) -> Iterator[tuple[int, float, float]]:
    """(number, lat, lon) of the reports that have a place but no commune yet."""
    stmt = select(Report.id, Report.lat, Report.lon).where(
        Report.commune.is_(None), Report.lat.is_not(None), Report.lon.is_not(None)
    )
    yield from session.execute(stmt.execution_options(yield_per=10_000))


def give_reports_commune(session: Session, numbers: Iterable[int], insee: str) -> int:
    """Gives these reports (still without one) the commune; returns how many."""
    numbers, done = list(numbers), 0
    for start in range(0, len(numbers), 1000):
        chunk = numbers[start : start + 1000]
        done += _set_commune(session, insee, Report.id.in_(chunk))
    return done


def give_placeless_reports_commune(session: Session, insee: str) -> int:
    """Gives the reports with no place and no commune the commune; returns how many."""
    return _set_commune(session, insee, Report.lat.is_(None) | Report.lon.is_(None))


def _set_commune(session: Session, insee: str, condition) -> int:
    stmt = update(Report).where(Report.commune.is_(None), condition).values(commune=insee)
    return session.execute(stmt.execution_options(synchronize_session=False)).rowcount


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
