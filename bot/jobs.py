"""The worker's network work: downloads and geocoding, outside any transaction.

A step that needs another service queues a job (bot/engine.py); here a job is claimed
in one short transaction, its network call made with no transaction open, and its
result handed back to the conversation in another (`engine.resume`), which then replays
what the citizen said meanwhile. A webhook therefore never waits on a geocoder or a
provider's media server, and a slow one delays only the citizen who needs it.

Every kind of job has a fallback result used after its last try, so a conversation
never stays waiting: an address kept as typed, a pin without a name, a picture that
"could not be fetched, please send it again".

Pictures are decoded here too (services.media, in a child process with a CPU limit),
those from the chats and those uploaded on the link page: a few seconds at most each,
and no more than PHOTO_JOBS_PER_CITIZEN of one citizen's at a time (the engine and the
link page answer "one moment" beyond), so one sender cannot hold every thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from bot import engine
from bot.outbox import backoff
from models.citizen import citizens_by_id, conversation_of
from models.db import utcnow
from models.jobs import Job, JobKind, claim_jobs, finish_job, retry_job
from models.messaging import PRIORITY_REPLY, queue_messages
from models.report import add_media, attach_media, lock_report
from services import bodies, channels, links, reports
from services.geo import GeocoderUnavailable
from services.mail import MailRefused, send_message
from services.media import PhotoError, drop_upload, store_photo, take_upload
from services.runtime import Runtime
from services.storage import PhotoNotFound
from services.texts import N_, translate
from services.types import Inbound, Reply, StoredPhoto, WorkerEvent

log = logging.getLogger(__name__)

# A job's worker has this long before another may take it over (a download of 20 MB
# on a slow link, a geocoder's timeout, with room to spare).
LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 5
THREADS = 4

LINK_PHOTO_REFUSED = N_(
    "The photo you sent for {ref} could not be used (JPEG, PNG or WebP photos only). You "
    "can send another one with this link (valid for 24 hours, single use): {link}"
)
LINK_PHOTO_REFUSED_CLOSED = N_("The photo you sent for {ref} could not be used.")

# channel -> fetch(media) -> (StoredPhoto | None, why not | None)
Fetcher = Callable[[dict], tuple[StoredPhoto | None, str | None]]


def channel_fetchers(rt: Runtime) -> dict:
    """How the worker downloads a citizen's picture, for every channel configured."""
    return {c.name: c.fetcher(rt) for c in channels.enabled_channels(rt.settings) if c.fetcher}


class JobRunner:
    def __init__(self, rt: Runtime, fetchers: dict[str, Fetcher] | None = None,
                 threads: int = THREADS) -> None:  # fmt: skip
        self.rt = rt
        self.fetchers = channel_fetchers(rt) if fetchers is None else fetchers
        self.threads = threads

    def run_once(self, limit: int | None = None) -> int:
        """Runs due jobs one after the other; returns how many were run."""
        with self.rt.db.transaction() as session:
            jobs = claim_jobs(session, limit=limit or self.threads, lease=LEASE)
        for job in jobs:
            self.run(job)
        return len(jobs)

    def run_until_idle(self, max_rounds: int = 100) -> int:
        """Runs jobs until none is due (tests, `webleads chat`); returns how many."""
        done = 0
        for _ in range(max_rounds):
            ran = self.run_once()
            if not ran:
                break
            done += ran
        return done

    def run_forever(self, stop: threading.Event, idle_wait: float = 2.0) -> None:
        """Runs jobs on a few threads until `stop`; a slow one holds up only its own."""
        running = threading.Semaphore(self.threads)
        with ThreadPoolExecutor(self.threads, thread_name_prefix="job") as pool:
            while not stop.is_set():
                claimed = self._claim_free(running)
                for job in claimed:
                    pool.submit(self._run_and_release, job, running)
                if not claimed:
                    self.rt.jobs_ready.wait(idle_wait)
                    self.rt.jobs_ready.clear()

    def _claim_free(self, running: threading.Semaphore) -> list[Job]:
        free = 0
        while free < self.threads and running.acquire(blocking=False):
            free += 1
        if not free:
            running.acquire()  # all busy: wait for one to finish
            free = 1
        try:
            with self.rt.db.transaction() as session:
                jobs = claim_jobs(session, limit=free, lease=LEASE)
        except Exception:
            log.exception("claiming jobs failed; retrying shortly")
            jobs = []
        for _ in range(free - len(jobs)):
            running.release()
        return jobs

    def _run_and_release(self, job: Job, running: threading.Semaphore) -> None:
        try:
            self.run(job)
        finally:
            running.release()

    def run(self, job: Job) -> None:
        """Does one job's work and hands its result on; retries it on a failure."""
        last_try = job.attempts >= MAX_ATTEMPTS
        try:
            result = fallback(job) if last_try else WORK[JobKind(job.kind)](self, job)
            self._hand_back(job, result)
        except Exception as exc:
            log.exception("job %s (%s) failed (try %s)", job.id, job.kind, job.attempts)
            if last_try:
                return  # the fallback itself failed: the lease expiry brings it back
            when = utcnow() + timedelta(seconds=backoff(job.attempts))
            with self.rt.db.transaction() as session:
                retry_job(session, job.id, when, f"{type(exc).__name__}: {exc}")

    def _hand_back(self, job: Job, result: dict[str, Any]) -> None:
        if job.kind == JobKind.LINK_PHOTO:
            with self.rt.db.transaction() as session:
                _add_link_photo(session, self.rt, job, result)
                finish_job(session, job.id)
            drop_upload(self.rt.settings, job.payload["upload"])
            self.rt.wake_worker()
            return
        if job.kind in BODY_HAND_BACK:
            with self.rt.db.transaction() as session:
                BODY_HAND_BACK[JobKind(job.kind)](session, job, result)
                finish_job(session, job.id)
            if job.kind == JobKind.BODY_PHOTO:
                drop_upload(self.rt.settings, job.payload["upload"])
            return
        if job.kind == JobKind.NAME_REPORT_PLACE:
            with self.rt.db.transaction() as session:
                reports.name_report_place(
                    session, job.report_id, job.payload["lat"], job.payload["lon"], result["label"]
                )
                finish_job(session, job.id)
            return
        if job.citizen_id is None:
            with self.rt.db.transaction() as session:
                finish_job(session, job.id)
            return
        if job.kind == JobKind.FETCH_MEDIA:
            engine.resume(self.rt, job.id, job.citizen_id, inbound=_with_photo(job, result))
        else:
            engine.resume(self.rt, job.id, job.citizen_id, event=result)


# --- the work of each kind (no transaction open) ---------------------------------------


def find_address(runner: JobRunner, job: Job) -> dict[str, Any]:
    """Geocodes a typed address within the town."""
    rt, text = runner.rt, job.payload["text"]
    with rt.db.reading() as session:
        town = rt.catalog.get(session).town
    try:
        found = rt.geocoder.search(text, town)
    except GeocoderUnavailable:
        return {"kind": WorkerEvent.ADDRESS_FOUND, "text": text, "unavailable": True}
    return {
        "kind": WorkerEvent.ADDRESS_FOUND,
        "text": text,
        "places": [asdict(place) for place in found.places],
        "elsewhere": found.elsewhere,
    }


def name_pin(runner: JobRunner, job: Job) -> dict[str, Any]:
    """Turns a shared location into a readable address, when the geocoder knows one."""
    lat, lon = job.payload["lat"], job.payload["lon"]
    try:
        place = runner.rt.geocoder.reverse(lat, lon)
    except GeocoderUnavailable:
        place = None  # the pin is what matters; agents see the map
    return {
        "kind": WorkerEvent.PIN_NAMED,
        "lat": lat,
        "lon": lon,
        "label": place.label if place else None,
    }


def fetch_media(runner: JobRunner, job: Job) -> dict[str, Any]:
    """Downloads the citizen's picture from the provider and stores it, checked."""
    inbound = job.payload["inbound"]
    with runner.rt.db.reading() as session:
        conversation = conversation_of(session, job.citizen_id)
    if conversation is None or conversation.waiting_on != job.id:
        # STOP meanwhile: nobody waits for this picture any more, so it is not decoded.
        return {"photo": None, "error": "download_failed"}
    fetch = runner.fetchers.get(inbound["channel"])
    if fetch is None:  # the channel was switched off meanwhile
        return {"photo": None, "error": "download_failed"}
    photo, error = fetch(inbound["media"])
    return {"photo": asdict(photo) if photo else None, "error": error}


def check_link_photo(runner: JobRunner, job: Job) -> dict[str, Any]:
    """Decodes a picture uploaded on the link page and stores its clean copy."""
    settings = runner.rt.settings
    try:
        data = take_upload(settings, job.payload["upload"])
    except PhotoNotFound:
        return {"photo": None, "error": "download_failed"}
    try:
        photo = store_photo(data, settings)
    except PhotoError as exc:
        return {"photo": None, "error": exc.reason}
    return {"photo": asdict(photo), "error": None}


def forward_to_body(runner: JobRunner, job: Job) -> dict[str, Any]:
    """E-mails a report to the body its rules name (or reminds the body of it)."""
    rt, reminder = runner.rt, bool(job.payload.get("reminder"))
    with rt.db.reading() as session:
        town = rt.catalog.get(session).area_name
        message = bodies.forward_message(session, rt.settings, job.payload["forward"], town,
                                         reminder=reminder)  # fmt: skip
    if message is None:
        return {"sent": False}
    try:
        send_message(rt.settings.SMTP_URL, message)
    except MailRefused as exc:  # a wrong address: retrying will not help
        log.warning("forward %s refused: %s", job.payload["forward"], exc)
        return {"sent": False}
    return {"sent": True}


WORK: dict[JobKind, Callable[[JobRunner, Job], dict[str, Any]]] = {
    JobKind.FORWARD_BODY: forward_to_body,
    JobKind.BODY_PHOTO: check_link_photo,
    JobKind.FIND_ADDRESS: find_address,
    JobKind.NAME_PIN: name_pin,
    JobKind.NAME_REPORT_PLACE: name_pin,
    JobKind.FETCH_MEDIA: fetch_media,
    JobKind.LINK_PHOTO: check_link_photo,
}


def _forwarded(session: Session, job: Job, result: dict[str, Any]) -> None:
    if result.get("sent"):
        bodies.mark_sent(
            session, job.payload["forward"], reminder=bool(job.payload.get("reminder"))
        )


def _body_photo(session: Session, job: Job, result: dict[str, Any]) -> None:
    photo = StoredPhoto(**result["photo"]) if result.get("photo") else None
    bodies.add_body_photo(session, job.report_id, photo)


# What the result of a body's job changes, in one transaction.
BODY_HAND_BACK: dict[JobKind, Callable[[Session, Job, dict[str, Any]], None]] = {
    JobKind.FORWARD_BODY: _forwarded,
    JobKind.BODY_PHOTO: _body_photo,
}


def _add_link_photo(session: Session, rt: Runtime, job: Job, result: dict[str, Any]) -> None:
    """Adds a link page's photo to its report as the citizen's; or tells them it could
    not be used, with a fresh link to send another while the report is open."""
    report = lock_report(session, job.report_id)
    citizen = citizens_by_id(session, [job.citizen_id]).get(job.citizen_id)
    if report is None:
        return
    if result.get("photo"):
        media_id = add_media(session, StoredPhoto(**result["photo"]), job.citizen_id)
        if citizen is not None:
            reports.add_citizen_message(session, report, citizen, "", [media_id])
        else:  # the citizen erased their data meanwhile: keep the photo all the same
            attach_media(session, [media_id], report.id)
        return
    if citizen is None or not citizen.can_receive:
        return
    if report.is_open:
        settings = rt.settings
        link = links.report_link(settings.PUBLIC_BASE_URL, settings.SECRET_KEY, report.id,
                                 citizen.id)  # fmt: skip
        text = translate(citizen.language, LINK_PHOTO_REFUSED, ref=report.ref, link=link)
    else:
        text = translate(citizen.language, LINK_PHOTO_REFUSED_CLOSED, ref=report.ref)
    queue_messages(
        session,
        [
            {
                "citizen_id": citizen.id,
                "channel": citizen.channel,
                "address": citizen.address,
                "payload": Reply(text).to_payload(),
                "priority": PRIORITY_REPLY,
                "report_id": report.id,
            }
        ],
    )


def fallback(job: Job) -> dict[str, Any]:
    """The result after the last try: the conversation goes on without the service."""
    payload = job.payload
    if job.kind == JobKind.FIND_ADDRESS:
        return {"kind": WorkerEvent.ADDRESS_FOUND, "text": payload["text"], "unavailable": True}
    if job.kind == JobKind.FORWARD_BODY:
        return {"sent": False}
    if job.kind in (JobKind.FETCH_MEDIA, JobKind.LINK_PHOTO, JobKind.BODY_PHOTO):
        return {"photo": None, "error": "download_failed"}
    return {
        "kind": WorkerEvent.PIN_NAMED,
        "lat": payload["lat"],
        "lon": payload["lon"],
        "label": None,
    }


def _with_photo(job: Job, result: dict[str, Any]) -> Inbound:
    inbound = Inbound.from_dict(job.payload["inbound"])
    inbound.media = None
    inbound.photo = StoredPhoto(**result["photo"]) if result.get("photo") else None
    inbound.photo_error = None if inbound.photo else (result.get("error") or "download_failed")
    return inbound
