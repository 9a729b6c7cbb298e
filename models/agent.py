"""The town's agents, who work the reports in the console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
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

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]


class AgentService(SQLModel, table=True):
    agent_id: int = Field(foreign_key="agent.id", primary_key=True, ondelete="CASCADE")
    service_id: int = Field(foreign_key="service.id", primary_key=True, ondelete="CASCADE")


def agent_by_email(session: Session, email: str) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.email == email.strip().lower()))


def services_of_agent(session: Session, agent_id: int) -> list[int]:
    stmt = select(AgentService.service_id).where(AgentService.agent_id == agent_id)
    return list(session.scalars(stmt))
