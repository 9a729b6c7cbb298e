"""Creating and updating agents (CLI and console); each change writes its audit row."""

from __future__ import annotations

import re

from sqlmodel import Session

from models.agent import ROLES, Agent, AgentService, agent_by_email, services_of_agent
from models.catalog import Service, service_by_code
from models.console_queries import set_agent_services
from services.audit import Action, Actor, Thing, changed, record
from services.security import hash_password

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10


class AgentError(ValueError):
    pass


def save_agent(
    session: Session,
    actor: Actor,
    email: str,
    password: str,
    role: str,
    services: list[str],
    name: str = "",
) -> bool:
    """Creates the agent or sets its password and role, adding services; True when created."""
    email = _checked_email(email)
    _check_role(role)
    _check_password(password)
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
    before = {} if created else _state(session, agent)
    agent.password_hash = hash_password(password)
    agent.role = role
    if name:
        agent.name = name
    session.add(agent)
    session.flush()
    for service_id in service_ids:
        if session.get(AgentService, (agent.id, service_id)) is None:
            session.add(AgentService(agent_id=agent.id, service_id=service_id))
    session.flush()
    _record(session, actor, agent, before, password_set=True)
    return created


def edit_agent(
    session: Session,
    actor: Actor,
    agent_id: int | None,
    *,
    email: str,
    name: str,
    role: str,
    active: bool,
    service_ids: list[int],
    password: str | None = None,
) -> Agent:
    """Creates an agent (no id) or changes one: email, name, role, services, password."""
    email = _checked_email(email)
    _check_role(role)
    agent = session.get(Agent, agent_id) if agent_id is not None else None
    if agent_id is not None and agent is None:
        raise AgentError(f"No agent #{agent_id}.")
    other = agent_by_email(session, email)
    if other is not None and (agent is None or other.id != agent.id):
        raise AgentError(f"{email} is already an agent's email.")
    if agent is None and not password:
        raise AgentError("A new agent needs a password.")
    before = {} if agent is None else _state(session, agent)
    agent = agent or Agent(email=email, password_hash="")
    if password:
        _check_password(password)
        agent.password_hash = hash_password(password)
    agent.email, agent.name, agent.role, agent.active = email, name.strip(), role, active
    session.add(agent)
    session.flush()
    set_agent_services(session, agent.id, service_ids)
    session.flush()
    _record(session, actor, agent, before, password_set=bool(password))
    return agent


def _checked_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise AgentError(f"{email!r} is not an email address.")
    return email


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AgentError(f"Role must be one of {', '.join(ROLES)}.")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AgentError(f"The password needs at least {MIN_PASSWORD} characters.")


def _state(session: Session, agent: Agent) -> dict:
    """What the audit trail keeps of an agent (never the password or its hash)."""
    codes = sorted(
        service.code
        for service_id in services_of_agent(session, agent.id)
        if (service := session.get(Service, service_id)) is not None
    )
    return {
        "email": agent.email,
        "name": agent.name,
        "role": agent.role,
        "active": agent.active,
        "services": codes,
    }


def _record(session: Session, actor: Actor, agent: Agent, before: dict, password_set: bool) -> None:
    created = not before
    changes = changed(before, _state(session, agent))
    if password_set:
        # Only that it changed: a hash in the audit trail would be one more to guard.
        changes["password"] = [None, "(set)"] if created else ["(old)", "(new)"]
    action = Action.CREATED if created else Action.UPDATED
    record(session, actor, Thing.AGENT, agent.email, action, changes)
