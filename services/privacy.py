"""Personal data: a citizen's erasure from the chat, and the retention purge.

What is kept, why and for how long is written for the town's DPO in docs/privacy.md.
In short: a report belongs to the town (a fact about the public space) and stays, with
its description and photos; who filed it does not. Erasing (`/supprimer`, SMS SUPPRIMER)
cuts every link between the citizen and their reports, removes their later free words,
and anonymises their identity. The retention purge does the same to the identity of
citizens whose reports all ended long ago, and trims the message logs.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlmodel import Session

from models.db import utcnow
from models.jobs import purge_done_jobs
from models.privacy_queries import (
    anonymise_citizen,
    delete_finished_outbox,
    delete_inbound_before,
    expired_citizens,
    paths_in_use,
    unfiled_media_before,
)
from services.runtime import Runtime

log = logging.getLogger(__name__)

# The inbound log only dedupes providers' redeliveries, which come within minutes.
INBOUND_LOG_DAYS = 90
# Photos of drafts never sent: the citizen may come back to a draft for a while.
UNFILED_PHOTO_DAYS = 30
# The worker's finished jobs (a typed address, a message held behind it): of no use once
# done, kept a week to look into a conversation that went wrong.
DONE_JOB_DAYS = 7
PSEUDONYM_PREFIX = "erased:"


def pseudonym() -> str:
    """A random stand-in for a channel identity: unique, and tied to nobody."""
    return f"{PSEUDONYM_PREFIX}{uuid.uuid4().hex}"


def erase_citizen(session: Session, citizen_id: int, where) -> None:
    """Anonymises a citizen at their request; their reports stay, without them."""
    unfiled = anonymise_citizen(session, citizen_id, pseudonym(), remove_words=True)
    _remove_files_after_commit(session, unfiled, where)


def purge_citizen(session: Session, citizen_id: int, where) -> None:
    """Forgets who a citizen was, once the retention period is over (words are kept)."""
    unfiled = anonymise_citizen(session, citizen_id, pseudonym(), remove_words=False)
    _remove_files_after_commit(session, unfiled, where)


@dataclass(frozen=True)
class Purged:
    citizens: int
    inbound: int
    outbox: int
    photos: int
    jobs: int = 0

    def __str__(self) -> str:
        return (
            f"{self.citizens} citizen identit(y/ies) forgotten, {self.inbound} inbound log "
            f"row(s), {self.outbox} sent message(s), {self.photos} unsent photo(s) and "
            f"{self.jobs} finished job(s) deleted."
        )


def purge(rt: Runtime, now: datetime | None = None) -> Purged:
    """Applies the retention periods (RETENTION_DAYS, the logs' 90 days); idempotent."""
    now = now or utcnow()
    cutoff = now - timedelta(days=rt.settings.RETENTION_DAYS)
    where = rt.settings
    citizens = 0
    with rt.db.transaction() as session:
        for citizen_id in expired_citizens(session, cutoff):
            purge_citizen(session, citizen_id, where)
            citizens += 1
        inbound = delete_inbound_before(session, now - timedelta(days=INBOUND_LOG_DAYS))
        outbox = delete_finished_outbox(session, cutoff)
        photos = unfiled_media_before(session, now - timedelta(days=UNFILED_PHOTO_DAYS))
        _remove_files_after_commit(session, photos, where)
        jobs = purge_done_jobs(session, now - timedelta(days=DONE_JOB_DAYS))
    purged = Purged(citizens, inbound, outbox, len(photos), jobs)
    log.info("privacy purge: %s", purged)
    return purged


def _remove_files_after_commit(session: Session, paths: list[str], where) -> None:
    """Deletes photo files once the rows are gone for good (never on a rollback)."""
    if not paths:
        return
    session.flush()
    orphans = sorted(set(paths) - paths_in_use(session, paths))
    if not orphans:
        return

    def remove(_session) -> None:
        from services.media import delete_photos

        for key in delete_photos(where, orphans):
            log.warning("could not delete photo %s", key)

    event.listen(session, "after_commit", remove, once=True)
