"""What an agent sees, as SQL: the reports of their services, in their communes.

The one rule (docs: "Who sees what") for every list an agent reads, in the console and
in their field chat alike: the queue, its CSV and map, the messages, the dashboard, the
reports near a shared location, their tasks, the morning digest. The same rule for one
report, in Python, is services/access.py `sees`.

A report whose commune is not known yet (a typed address the geocoder did not find, or
one filed before the communes were added) is in every commune's scope: each agent of
its service sees it, flagged, until its place is settled; no commune's agents lose it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, or_

from models.report import Report

# A commune filter: INSEE codes, and None for "the reports whose commune is not known yet".
Communes = tuple[str | None, ...]


@dataclass(frozen=True)
class AgentScope:
    """The reports an agent sees: of these services (None: every service, an admin's),
    in these communes (empty: every commune, an agent attached to none)."""

    services: tuple[int, ...] | None = None
    communes: tuple[str, ...] = ()

    @property
    def commune_filter(self) -> Communes:
        """The communes as a filter: their own, and the reports without a commune yet."""
        return (*self.communes, None) if self.communes else ()


EVERYTHING = AgentScope()  # an admin's
NOTHING = AgentScope(services=())  # a deactivated agent's


def in_communes(column, communes: Communes):
    """`column` is one of these communes (None among them: or not known yet)."""
    named = [c for c in communes if c is not None]
    inside = column.in_(named) if named else false()
    return or_(inside, column.is_(None)) if None in communes else inside


def service_and_commune(
    services: tuple[int, ...] | None, communes: Communes, *, service=None, commune=None
) -> list:
    """The SQL conditions of a scope on these columns (the report's by default, or a
    table of figures'): in the services (None: any), in the communes (empty: any)."""
    service = Report.service_id if service is None else service
    commune = Report.commune if commune is None else commune
    conds = [in_communes(commune, communes)] if communes else []
    if services is not None:
        conds.append(service.in_(services) if services else false())
    return conds


def in_scope(scope: AgentScope, *, service=None, commune=None) -> list:
    """The SQL conditions of what the agent sees (a list to spread in `.where(...)`)."""
    return service_and_commune(
        scope.services, scope.commune_filter, service=service, commune=commune
    )
