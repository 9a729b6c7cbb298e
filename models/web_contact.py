"""The e-mail address a web citizen follows their reports at (webhooks/web).

A browser session is the web channel's citizen; an address is kept only once its owner
opened the confirmation link sent to it, and until then nothing but that link is sent to
it. One address per web citizen; erasing the citizen removes it (ON DELETE CASCADE).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Field, Session, SQLModel, select

from models.db import utcnow


class WebContact(SQLModel, table=True):
    __tablename__ = "webcontact"

    citizen_id: int = Field(foreign_key="citizen.id", primary_key=True, ondelete="CASCADE")
    email: str = Field(max_length=254)
    asked_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = None


def web_contact(session: Session, citizen_id: int) -> WebContact | None:
    return session.scalar(select(WebContact).where(WebContact.citizen_id == citizen_id))


def confirmed_email(session: Session, citizen_id: int) -> str | None:
    """The address a web citizen's notices go to, once confirmed; else None."""
    contact = web_contact(session, citizen_id)
    return contact.email if contact is not None and contact.confirmed_at else None


def ask_email(session: Session, citizen_id: int, email: str) -> None:
    """Records the address to confirm (replacing any earlier one, confirmed or not)."""
    contact = web_contact(session, citizen_id)
    if contact is None:
        session.add(WebContact(citizen_id=citizen_id, email=email))
    else:
        contact.email, contact.asked_at, contact.confirmed_at = email, utcnow(), None
        session.add(contact)
    session.flush()


def confirm_email(session: Session, citizen_id: int, email: str) -> bool:
    """Marks the address confirmed when it is still the one asked for; False otherwise."""
    result = session.execute(
        update(WebContact)
        .where(WebContact.citizen_id == citizen_id, WebContact.email == email)
        .values(confirmed_at=utcnow())
        .returning(WebContact.citizen_id)
    )
    return result.scalar() is not None
