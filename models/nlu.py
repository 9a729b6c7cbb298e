"""The free-text reader's trained models, one row per version, and its training data.

A model is data: its pickled bytes, what it was trained on (how many shipped examples and
town reports, the categories it knows) and its scores on held-out reports, stored
together. At most one version is active; with none, the reader trains one from the
shipped examples in memory (services/nlu).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text, func, select, update
from sqlmodel import Field, Session, SQLModel

from models.catalog import Category
from models.citizen import Citizen
from models.db import utcnow
from models.report import EventKind, Report, ReportEvent


class NluModel(SQLModel, table=True):
    __tablename__ = "nlu_model"

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    active: bool = False
    activated_at: datetime | None = None
    # the fitted scikit-learn pipeline (services/nlu/classifier.py), pickled
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # '{"shipped": 321, "town": 40, "categories": [...], "scores": {...}}' (JSON text)
    about: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class NluExample(SQLModel, table=True):
    """A one-sentence example a town imported (`webleads nlu import`, the reader's page):
    trained on beside the shipped examples and the town's own reports."""

    __tablename__ = "nlu_example"

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    category_code: str = Field(max_length=32)
    language: str = Field(default="fr", max_length=2)
    # where the exporting town had it: shipped, confirmed, corrected, imported
    source: str = Field(default="imported", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


def imported_examples(session: Session) -> list[NluExample]:
    return list(session.scalars(select(NluExample).order_by(NluExample.id)))


def add_examples(session: Session, rows: list[tuple[str, str, str, str]]) -> None:
    """Stores examples given as (text, category code, language, source)."""
    for text, code, language, source in rows:
        session.add(NluExample(text=text, category_code=code, language=language, source=source))
    session.flush()


def seen_reports_examples(session: Session) -> list[tuple[str, str, str, bool]]:
    """(description, category code, the citizen's language, whether an agent changed the
    category) of the reports an agent has seen, oldest first: the town's own examples."""
    corrected = (
        select(ReportEvent.id)
        .where(ReportEvent.report_id == Report.id, ReportEvent.kind == EventKind.RECATEGORISED)
        .exists()
    )
    stmt = (
        select(Report.description, Category.code, Citizen.language, corrected)
        .join(Category, Category.id == Report.category_id)
        .outerjoin(Citizen, Citizen.id == Report.citizen_id)
        .where(Report.seen_by_agent_at.is_not(None), Report.duplicate_of_id.is_(None))
        .order_by(Report.id)
    )
    return [
        (text, code, lang or "", bool(fixed)) for text, code, lang, fixed in session.execute(stmt)
    ]


def active_version(session: Session) -> int | None:
    return session.scalar(select(NluModel.version).where(NluModel.active.is_(True)))


def model_of_version(session: Session, version: int) -> NluModel | None:
    return session.scalar(select(NluModel).where(NluModel.version == version))


def next_version(session: Session) -> int:
    return (session.scalar(select(func.max(NluModel.version))) or 0) + 1


def all_models(session: Session) -> list[NluModel]:
    return list(session.scalars(select(NluModel).order_by(NluModel.version)))


def activate_version(session: Session, version: int) -> bool:
    """Makes this version the one in use (and no other); False if there is none such."""
    if model_of_version(session, version) is None:
        return False
    session.execute(update(NluModel).values(active=False))
    session.execute(
        update(NluModel)
        .where(NluModel.version == version)
        .values(active=True, activated_at=utcnow())
    )
    return True


def seen_reports_text(session: Session) -> list[tuple[int, str, str]]:
    """(report number, description, category code) of the reports an agent has seen:
    their category is the agent's (kept or corrected), so they are labelled examples."""
    stmt = (
        select(Report.id, Report.description, Category.code)
        .join(Category, Category.id == Report.category_id)
        .where(Report.seen_by_agent_at.is_not(None), Report.duplicate_of_id.is_(None))
        .order_by(Report.id)
    )
    return [(id_, text, code) for id_, text, code in session.execute(stmt)]
