"""Creating and updating agents (CLI and console)."""

from __future__ import annotations

import re

from sqlmodel import Session

from bot.security import hash_password
from models.agent import ROLES, Agent, AgentService, agent_by_email
from models.catalog import service_by_code

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10


class AgentError(ValueError):
    pass


def save_agent(
    session: Session, email: str, password: str, role: str, services: list[str], name: str = ""
) -> bool:
    """Creates the agent or updates it; returns True when created."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise AgentError(f"{email!r} is not an email address.")
    if role not in ROLES:
        raise AgentError(f"Role must be one of {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD:
        raise AgentError(f"The password needs at least {MIN_PASSWORD} characters.")
    service_ids = []
    for code in services:
        service = service_by_code(session, code)
        if service is None:
            raise AgentError(f"There is no service {code!r}.")
        service_ids.append(service.id)
    agent = agent_by_email(session, email)
    created = agent is None
    if agent is None:
        agent = Agent(email=email, password_hash="")
    agent.password_hash = hash_password(password)
    agent.role = role
    if name:
        agent.name = name
    session.add(agent)
    session.flush()
    for service_id in service_ids:
        if session.get(AgentService, (agent.id, service_id)) is None:
            session.add(AgentService(agent_id=agent.id, service_id=service_id))
    return created
