"""The town's services and the categories citizens choose from."""

from __future__ import annotations

from sqlalchemy import JSON, Column, select
from sqlmodel import Field, Session, SQLModel

PROBLEM = "problem"
IDEA = "idea"


class Service(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name_fr: str = Field(max_length=128)
    name_en: str = Field(max_length=128)
    active: bool = True

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_fr


class Category(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name_fr: str = Field(max_length=128)
    name_en: str = Field(max_length=128)
    service_id: int = Field(foreign_key="service.id")
    # "problem" (something to fix) or "idea" (a proposal).
    kind: str = Field(default=PROBLEM, max_length=16)
    active: bool = True
    sla_hours: int = 72
    photo_required: bool = False
    # After "resolved", ask the followers whether it is really fixed.
    ask_if_fixed: bool = True
    position: int = 0
    # The public site: whether the citizens' descriptions of this category are public by
    # default (an agent may still publish, redact or withhold each one).
    description_public: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # What residents call it, comma-separated, for the free-text reader (services/nlu):
    # words (`lampadaire, éclairage`) and the keys of its shipped examples (`streetlight`).
    keywords: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})
    # Up to two short questions asked after the description (models/question.py), as JSON.
    questions: list = Field(default_factory=list, sa_column=Column(JSON, nullable=True))
    # Every report of it is urgent (services/urgency.py), and an urgent one's deadline.
    urgent_by_default: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    urgent_sla_hours: int = Field(default=4, sa_column_kwargs={"server_default": "4"})

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_fr


def sla_hours_for(category: Category, priority: str) -> int:
    """A report's SLA hours: its category's, or the category's urgent one when urgent."""
    if priority == "urgent" and category.urgent_sla_hours:
        return category.urgent_sla_hours
    return category.sla_hours


def active_categories(session: Session) -> list[Category]:
    """Returns the categories a citizen may choose, problems first, in menu order."""
    stmt = (
        select(Category)
        .where(Category.active.is_(True))
        .order_by(Category.kind.desc(), Category.position, Category.id)
    )
    return list(session.scalars(stmt))


def category_by_code(session: Session, code: str) -> Category | None:
    return session.scalar(select(Category).where(Category.code == code))


def service_by_code(session: Session, code: str) -> Service | None:
    return session.scalar(select(Service).where(Service.code == code))


def all_services(session: Session) -> list[Service]:
    return list(session.scalars(select(Service).order_by(Service.id)))


def all_categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.position, Category.id)))
