"""Who sees what, for an agent: the reports of their services, in their communes, in the
console (console/auth.py) and in their field chat (services/crews.py) alike.

One rule, written once: `scope_for` says what an agent's role, services and communes
give them, `sees` applies it to one report, and models/scope.py `in_scope` to a list (SQL).
A report whose commune is not known yet is seen by every agent of its service, flagged
(`commune_unknown`), so that no commune's agents lose it.
"""

from __future__ import annotations

from sqlmodel import Session

from models.agent import Agent, services_of_agent
from models.commune import agent_communes
from models.report import Report
from models.scope import EVERYTHING, NOTHING, AgentScope


def scope_for(role: str, service_ids, communes) -> AgentScope:
    """An admin sees every report; an agent, those of their services in their communes
    (attached to no commune: every commune)."""
    if role == "admin":
        return EVERYTHING
    return AgentScope(tuple(sorted(service_ids)), tuple(sorted(communes)))


def scope_of(session: Session, agent: Agent) -> AgentScope:
    """The agent's scope as stored now; a deactivated agent sees nothing."""
    if not agent.active:
        return NOTHING
    if agent.role == "admin":
        return EVERYTHING
    return scope_for(
        agent.role, services_of_agent(session, agent.id), agent_communes(session, agent.id)
    )


def sees(scope: AgentScope, report: Report) -> bool:
    """Whether the report is within the scope (the SQL of models/scope.py `in_scope`)."""
    if scope.services is not None and report.service_id not in scope.services:
        return False
    return not scope.communes or report.commune is None or report.commune in scope.communes


def commune_unknown(report: Report, several_communes: bool) -> bool:
    """Whether the report waits for its commune (only where there are communes at all)."""
    return several_communes and report.commune is None
