"""Queuing a report for a body reached by Open311: one row, in the caller's transaction
(no network). The worker's side, which pushes it and pulls the answers, is
services/open311_client.py; routing (services/body_routing.py) needs only this half."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlmodel import Session

from models.catalog import Category
from models.open311_forward import Open311Forward, forward_of
from models.report import Report


@dataclass(frozen=True)
class Open311Target:
    """A body reached by Open311: where, with which key, and its service codes."""

    code: str  # the body's code
    endpoint: str  # the root, like http://host/open311/v2
    api_key: str
    service_codes: dict[str, str] = field(default_factory=dict)  # our category -> theirs
    jurisdiction_id: str = ""


def enqueue_push(session: Session, report: Report, target: Open311Target) -> None:
    """Queues the push of `report` to `target` (part of the caller's transaction; no
    network). A report already queued for that body is left as it is."""
    if forward_of(session, report.id, target.code) is not None:
        return
    category = session.get(Category, report.category_id)
    session.add(
        Open311Forward(
            report_id=report.id,
            target=target.code,
            endpoint=target.endpoint.rstrip("/"),
            api_key=target.api_key,
            # A category the mapping forgets goes with our code: the far end may know it,
            # or refuses it and the console shows why.
            service_code=target.service_codes.get(category.code, category.code),
            jurisdiction_id=target.jurisdiction_id,
            ref=f"wl-{report.id}-{secrets.token_hex(4)}",
        )
    )
    session.flush()
