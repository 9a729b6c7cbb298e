"""The town's agents, who work the reports in the console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event, inspect, select, update
from sqlmodel import Field, Session, SQLModel

from models.db import utcnow

ROLES = ("admin", "agent")


class Agent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=255, unique=True)
    name: str = Field(default="", max_length=128)
    password_hash: str = Field(max_length=255)
    role: str = Field(default="agent", max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # A console session remembers the version it was opened under and ends when it moves
    # (console.auth): logout, and any change of the fields in SESSION_FIELDS, move it.
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]


class AgentService(SQLModel, table=True):
    agent_id: int = Field(foreign_key="agent.id", primary_key=True, ondelete="CASCADE")
    service_id: int = Field(foreign_key="service.id", primary_key=True, ondelete="CASCADE")


# What a session was opened under: when one changes, every session of the agent ends.
SESSION_FIELDS = ("password_hash", "role", "active")


@event.listens_for(Agent, "before_update")
def _end_sessions_on_change(_mapper, _connection, agent: Agent) -> None:
    # Here rather than in each writer (console admin, `webleads create-agent`, what comes
    # next): a password reset that forgot to end the sessions would leave a stolen one open.
    state = inspect(agent)
    if any(state.attrs[name].history.has_changes() for name in SESSION_FIELDS):
        agent.session_version = Agent.session_version + 1  # in SQL: no lost update


def end_sessions(session: Session, agent_id: int) -> None:
    """Ends every console session of the agent, on every browser."""
    session.execute(
        update(Agent)
        .where(Agent.id == agent_id)
        .values(session_version=Agent.session_version + 1)
        .execution_options(synchronize_session=False)
    )


def agent_by_email(session: Session, email: str) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.email == email.strip().lower()))


def agent_names(session: Session, agent_ids: list[int]) -> dict[int, str]:
    """The display names of these agents, by id (the public view takes them out of words)."""
    if not agent_ids:
        return {}
    agents = session.scalars(select(Agent).where(Agent.id.in_(agent_ids)))
    return {agent.id: agent.display_name for agent in agents}


def services_of_agent(session: Session, agent_id: int) -> list[int]:
    stmt = select(AgentService.service_id).where(AgentService.agent_id == agent_id)
    return list(session.scalars(stmt))
