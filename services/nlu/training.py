"""Retraining: the shipped examples plus the town's reports an agent has seen (their
category kept or corrected) and the examples it imported (services/nlu/examples.py),
scored on held-out reports against the active version."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import event
from sqlmodel import Session

from models.nlu import (
    NluModel,
    activate_version,
    active_version,
    imported_examples,
    next_version,
    seen_reports_text,
)
from services.audit import Action, Actor, Thing, record
from services.nlu import evaluate, reader
from services.nlu.classifier import Model, read_examples, training_set

# One report in HELD_OUT_EVERY is kept out of the training, to score on.
HELD_OUT_EVERY = 5


@dataclass(frozen=True)
class Trained:
    version: int
    shipped: int
    town: int
    held_out: int
    scores: dict  # the new version's on the held-out reports
    active_scores: dict | None  # the active one's (or the shipped examples' model)
    active_version: int | None


def split_reports(rows: list[tuple[int, str, str]]):
    kept = [(text, code) for number, text, code in rows if number % HELD_OUT_EVERY]
    held = [evaluate.Labelled(text, code) for number, text, code in rows
            if number % HELD_OUT_EVERY == 0]  # fmt: skip
    return kept, held


def train(session: Session, catalog) -> Trained:
    """Trains and stores a new version (not active); scores both on held-out reports."""
    categories = reader.category_words(catalog)
    kept, held = split_reports(seen_reports_text(session))
    kept += [(row.text, row.category_code) for row in imported_examples(session)]
    examples = read_examples()
    model = Model.train(*training_set(categories, examples, kept))
    places = reader.gazetteer(session, tuple(sorted(catalog.town.codes)))
    codes = {c.code for c in catalog.categories}
    scored = evaluate.score(reader.Reader(model, places, None), held, codes)
    new_scores = scored.as_dict()
    current = reader.reader(session, catalog)
    current_scores = evaluate.score(current, held, codes).as_dict()
    version = next_version(session)
    about = {
        "shipped": len(examples),
        "town": len(kept),
        "held_out": len(held),
        "categories": sorted(codes),
        "scores": new_scores,
        "active_scores": current_scores,
        "active_version": active_version(session),
        # expected category -> what it was read as -> how many, on the held-out reports
        "confusion": {code: dict(read) for code, read in sorted(scored.confusion.items())},
    }
    session.add(NluModel(version=version, data=model.to_bytes(), about=json.dumps(about)))
    session.flush()
    return Trained(version, len(examples), len(kept), len(held), new_scores, current_scores,
                   about["active_version"])  # fmt: skip


def activate(session: Session, actor: Actor, version: int) -> bool:
    """Makes a stored version the reader in use, and writes it in the audit trail."""
    before = active_version(session)
    if not activate_version(session, version):
        return False
    # This process reads with it from the commit on (others within VERSION_TTL_SECONDS).
    event.listen(session, "after_commit", lambda _: reader.version_changed(), once=True)
    record(session, actor, Thing.READER, "free-text reader", Action.UPDATED,
           {"version": [before, version]} if before != version else {})  # fmt: skip
    return True
