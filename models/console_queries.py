"""Named queries of the console's report page: its followers, the agents to assign, the
reports merged into it. The queue is models/queue_queries.py, the dashboard
models/dashboard_queries.py, delivery models/delivery_queries.py."""

from __future__ import annotations

from sqlalchemy import (
    delete,
    func,
    select,
)
from sqlmodel import Session

from models.agent import Agent, AgentService
from models.report import (
    Follower,
    Report,
)

# --- a report's details --------------------------------------------------------------


def follower_count(session: Session, report_id: int) -> int:
    stmt = select(func.count()).select_from(Follower).where(Follower.report_id == report_id)
    return session.scalar(stmt) or 0


def all_agents(session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).order_by(Agent.name, Agent.email)))


def agents_by_id(session: Session) -> dict[int, Agent]:
    return {a.id: a for a in all_agents(session)}


def service_ids_by_agent(session: Session) -> dict[int, list[int]]:
    links: dict[int, list[int]] = {}
    for agent_id, service_id in session.execute(
        select(AgentService.agent_id, AgentService.service_id)
    ):
        links.setdefault(agent_id, []).append(service_id)
    return links


def set_agent_services(session: Session, agent_id: int, service_ids: list[int]) -> None:
    """Replaces the services an agent belongs to."""
    session.execute(delete(AgentService).where(AgentService.agent_id == agent_id))
    for service_id in sorted(set(service_ids)):
        session.add(AgentService(agent_id=agent_id, service_id=service_id))


def merged_into(session: Session, report_id: int) -> list[int]:
    """Returns the numbers of the reports merged into this one as duplicates."""
    stmt = select(Report.id).where(Report.duplicate_of_id == report_id).order_by(Report.id)
    return list(session.scalars(stmt))
