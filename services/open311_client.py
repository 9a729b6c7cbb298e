"""The Open311 client: a report pushed to a body's back-office (a GMAO, another town's
tool) that speaks GeoReport v2, and its status changes pulled back to the residents.

The caller (a routing rule, an agent) calls `enqueue_push` inside its own transaction: it
only writes a row (models/open311_forward.py). The worker (`Open311Worker`, run every
minute by app/background.py) does the network work with no transaction open:

- **push**: `POST {endpoint}/requests.json`, form-encoded: api_key, service_code (the
  body's own, from the target's mapping), lat/long, address_string, a description and
  media_url. What is sent is what the public may read of the report (services/audience.py):
  the resident's words with the names, numbers and addresses the public view takes out,
  the public street, an agent-approved photo only; never who reported it.
- **no duplicate**: every request carries our `ref` (at the end of its description and as
  `attribute[webleads_ref]`). A push that may have reached the far end without its answer
  reaching us (a timeout, a 5xx, a worker that died between the send and the commit) is
  looked up by that ref (`GET requests.json`) before it is sent again. The far end must
  show the description to our key (the full record, on this product's server).
- **answers**: the `service_request_id` is kept; a `token` alone is resolved later
  (`GET tokens/{token}.json`).
- **pull**: `GET requests.json?service_request_id=a,b,c` every few minutes; their
  `closed` resolves our report, a reopening puts it back in progress, new `status_notes`
  reach the followers as the service's words, through services.reports (which tells the
  followers what their audience may read).
- **failures**: a timeout, a refused connection, a 5xx or a 429 is tried again later
  (exponential backoff, then given up); a 4xx is the far end refusing the request, shown
  at once. Both show in the console (Admin › Open311 forwards) with the last error.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from sqlmodel import Session

from models.catalog import Category, Service
from models.db import utcnow
from models.open311_forward import (
    ForwardState,
    Open311Forward,
    claim_pushes,
    forwards_to_pull,
    tokens_to_resolve,
)
from models.report import Report, Status, get_report, lock_report
from services import reports
from services.audience import Audience, ReportViews
from services.public_view import public_report
from services.runtime import Runtime

log = logging.getLogger(__name__)

# Connect and read timeouts (seconds): the worker's thread waits no longer for a far end.
TIMEOUT = 10.0
CONNECT_TIMEOUT = 3.0
LEASE = timedelta(minutes=2)  # a push's worker has this long before another takes it over
BASE_DELAY = 60.0  # the first retry, doubled each time
MAX_DELAY = 6 * 3600.0
MAX_ATTEMPTS = 10  # about a day and a half of tries, then given up (console)
TOKEN_EVERY = timedelta(minutes=1)  # a token is asked for its number this often
PULL_EVERY = timedelta(minutes=5)
PULL_BATCH = 50  # ids in one GET requests.json
# Pulled this long after the push, closed or not (a far end may reopen a request).
PULL_FOR = timedelta(days=90)
LOOKBACK = timedelta(days=1)  # the far end's clock may lag ours: looked up from a day before
MAX_DESCRIPTION = 3900  # GeoReport servers take 4000 characters at most (this one does)
RETRY_STATUSES = frozenset({408, 425, 429})
API_KEY_IN_URL = re.compile(r"(api_key=)[^&\s]+")
# The far end's words on the report's history (internal notes; agents read them).
SENT_NOTE = "Sent to {target} by Open311: request {number}."
STATUS_NOTE = "{target} (Open311 request {number}) says: {status}."


class FarEndError(Exception):
    """The far end answered, refusing (`retry` False) or failing (`retry` True)."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Push:
    """What one push needs, read in a transaction and used outside it."""

    id: int
    target: str
    endpoint: str
    api_key: str
    jurisdiction_id: str
    service_code: str
    ref: str
    attempts: int
    created_at: datetime
    fields: dict


class Open311Worker:
    """Pushes, resolves tokens and pulls; each network call with no transaction open."""

    def __init__(self, rt: Runtime, *, timeout: float = TIMEOUT) -> None:
        self.rt = rt
        self.timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        self.http = requests.Session()

    def run_once(self, now: datetime | None = None) -> None:
        """One round: the pushes due, the tokens to resolve, the statuses to pull."""
        now = now or utcnow()
        self.push_due(now)
        self.resolve_tokens(now)
        self.pull(now - PULL_EVERY, now)

    # --- push ----------------------------------------------------------------------

    def push_due(self, now: datetime | None = None, limit: int = 20) -> int:
        """Sends the pushes due; returns how many were tried."""
        now = now or utcnow()
        with self.rt.db.transaction() as session:
            ids = claim_pushes(session, limit=limit, lease=LEASE, now=now)
        for forward_id in ids:
            push = self.prepare(forward_id)
            if push is not None:
                self.send(push, now)
        return len(ids)

    def prepare(self, forward_id: int) -> Push | None:
        """Reads a claimed push and what the far end may be told of its report."""
        with self.rt.db.reading() as session:
            forward = session.get(Open311Forward, forward_id)
            report = get_report(session, forward.report_id) if forward else None
            if report is None:
                return None
            fields = request_fields(session, report, forward, self.rt.settings.PUBLIC_BASE_URL)
            return Push(
                forward.id, forward.target, forward.endpoint, forward.api_key,
                forward.jurisdiction_id, forward.service_code, forward.ref, forward.attempts,
                forward.created_at, fields,
            )  # fmt: skip

    def send(self, push: Push, now: datetime) -> None:
        """Posts the request (after looking for it, when an earlier try may have landed)
        and stores the answer."""
        try:
            found = self.find(push) if push.attempts > 1 else None
            answer = found or self.post(push)
        except FarEndError as exc:
            self._failed(push, str(exc), retry=exc.retry, now=now)
            return
        except requests.RequestException as exc:
            self._failed(push, _network_error(exc), retry=True, now=now)
            return
        self._store_answer(push, answer, now)

    def post(self, push: Push) -> dict:
        data = {"api_key": push.api_key, "service_code": push.service_code, **push.fields}
        if push.jurisdiction_id:
            data["jurisdiction_id"] = push.jurisdiction_id
        response = self.http.post(f"{push.endpoint}/requests.json", data=data, timeout=self.timeout)
        items = _items(response)
        if not items or not (items[0].get("service_request_id") or items[0].get("token")):
            raise FarEndError("The answer has neither service_request_id nor token.", retry=True)
        return items[0]

    def find(self, push: Push) -> dict | None:
        """The request carrying our ref at the far end, if an earlier try stored it."""
        since = push.created_at.replace(tzinfo=push.created_at.tzinfo or UTC) - LOOKBACK
        params = {
            "api_key": push.api_key,
            "service_code": push.service_code,
            "start_date": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if push.jurisdiction_id:
            params["jurisdiction_id"] = push.jurisdiction_id
        response = self.http.get(
            f"{push.endpoint}/requests.json", params=params, timeout=self.timeout
        )
        for item in _items(response):
            if push.ref in (item.get("description") or ""):
                return item
        return None

    def _store_answer(self, push: Push, answer: dict, now: datetime) -> None:
        number = _text(answer.get("service_request_id"))
        token = _text(answer.get("token"))
        with self.rt.db.transaction() as session:
            forward = session.get(Open311Forward, push.id)
            if forward is None:
                return
            forward.service_request_id, forward.token = number, token
            forward.last_error = None
            if number:
                _mark_sent(session, forward, now)
            else:
                forward.state = ForwardState.TOKEN_PENDING
                forward.next_try_at = now + TOKEN_EVERY
            session.add(forward)

    def _failed(self, push: Push, error: str, *, retry: bool, now: datetime) -> None:
        log.warning("Open311 push %s to %s failed: %s", push.id, push.target, error)
        with self.rt.db.transaction() as session:
            forward = session.get(Open311Forward, push.id)
            if forward is None:
                return
            forward.last_error = error[:500]
            if retry and forward.attempts < MAX_ATTEMPTS:
                forward.state = ForwardState.QUEUED
                forward.next_try_at = now + timedelta(seconds=backoff(forward.attempts))
            else:
                forward.state = ForwardState.FAILED
            session.add(forward)

    # --- tokens ----------------------------------------------------------------------

    def resolve_tokens(self, now: datetime | None = None) -> int:
        """Asks the far end the number of the requests it answered with a token only;
        returns how many got theirs."""
        now = now or utcnow()
        with self.rt.db.reading() as session:
            pending = [(f.id, f.endpoint, f.api_key, f.jurisdiction_id, f.token)
                       for f in tokens_to_resolve(session, now)]  # fmt: skip
        resolved = 0
        for forward_id, endpoint, api_key, jurisdiction, token in pending:
            params = {
                "api_key": api_key,
                **({"jurisdiction_id": jurisdiction} if jurisdiction else {}),
            }
            try:
                response = self.http.get(
                    f"{endpoint}/tokens/{token}.json", params=params, timeout=self.timeout
                )
                items = _items(response)
                number = _text(items[0].get("service_request_id")) if items else None
                error = None if number else "The token has no service_request_id yet."
            except (requests.RequestException, FarEndError) as exc:
                number, error = None, _network_error(exc)
            with self.rt.db.transaction() as session:
                forward = session.get(Open311Forward, forward_id)
                if forward is None or forward.state != ForwardState.TOKEN_PENDING:
                    continue
                if number:
                    forward.service_request_id, forward.last_error = number, None
                    _mark_sent(session, forward, now)
                    resolved += 1
                else:
                    forward.last_error = error
                    forward.next_try_at = now + TOKEN_EVERY
                session.add(forward)
        return resolved

    # --- pull ------------------------------------------------------------------------

    def pull(self, pulled_before: datetime | None = None, now: datetime | None = None) -> int:
        """Reads the status of the requests not pulled since `pulled_before` (default: now)
        and passes their changes on; returns how many changed our reports."""
        now = now or utcnow()
        with self.rt.db.reading() as session:
            rows = forwards_to_pull(session, pulled_before or now, now - PULL_FOR)
            groups: dict[tuple, dict[str, int]] = defaultdict(dict)
            for f in rows:
                groups[(f.endpoint, f.api_key, f.jurisdiction_id)][f.service_request_id] = f.id
        changed = 0
        for (endpoint, api_key, jurisdiction), by_number in groups.items():
            numbers = list(by_number)
            for start in range(0, len(numbers), PULL_BATCH):
                batch = {n: by_number[n] for n in numbers[start : start + PULL_BATCH]}
                changed += self._pull_batch(endpoint, api_key, jurisdiction, batch, now)
        return changed

    def _pull_batch(self, endpoint: str, api_key: str, jurisdiction: str,
                    batch: dict[str, int], now: datetime) -> int:  # fmt: skip
        params = {"api_key": api_key, "service_request_id": ",".join(batch)}
        if jurisdiction:
            params["jurisdiction_id"] = jurisdiction
        try:
            response = self.http.get(f"{endpoint}/requests.json", params=params,
                                     timeout=self.timeout)  # fmt: skip
            items = {_text(item.get("service_request_id")): item for item in _items(response)}
        except (requests.RequestException, FarEndError) as exc:
            log.warning("Open311 pull from %s failed: %s", endpoint, exc)
            with self.rt.db.transaction() as session:
                for forward_id in batch.values():
                    _pulled(session, forward_id, now, error=_network_error(exc))
            return 0
        changed = 0
        for number, forward_id in batch.items():
            item = items.get(number)
            with self.rt.db.transaction() as session:
                if item is None:
                    _pulled(session, forward_id, now)
                elif apply_remote_status(session, forward_id, item, now):
                    changed += 1
        return changed


def run_forwards(rt: Runtime) -> None:
    """The worker's periodic task (app/background.py)."""
    Open311Worker(rt).run_once()


# --- what the far end is told ------------------------------------------------------------


def request_fields(session: Session, report: Report, forward: Open311Forward,
                   base_url: str) -> dict:  # fmt: skip
    """The request's fields: what the public may read of the report (the audience rule),
    with our ref; never who reported it."""
    category = session.get(Category, report.category_id)
    service = session.get(Service, report.service_id)
    public = ReportViews(session, report, category, service).for_audience(Audience.PUBLIC)
    words = public.words(report.public_text or report.description) if public else None
    description = (words or category.name_fr)[:MAX_DESCRIPTION]
    fields = {
        "description": f"{description}\n\n[{forward.ref}]",
        f"attribute[{REF_ATTRIBUTE}]": forward.ref,
    }
    if report.lat is not None and report.lon is not None:
        fields["lat"], fields["long"] = f"{report.lat:.6f}", f"{report.lon:.6f}"
        if public and public.place:
            fields["address_string"] = public.place
    elif report.address:
        # Not placed on the map yet: the typed place is the only one the body can go to.
        fields["address_string"] = report.address
    view = public_report(session, report.id)
    if view is not None and view.media_ids:
        fields["media_url"] = (
            f"{base_url.rstrip('/')}/reports/{report.id}/photos/{view.media_ids[0]}"
        )
    return fields


REF_ATTRIBUTE = "webleads_ref"


# --- what the far end says back ------------------------------------------------------------


def apply_remote_status(session: Session, forward_id: int, item: dict, now: datetime) -> bool:
    """Records the far end's status and notes; passes a change on to the report (and so
    to its followers). Returns whether the report changed."""
    forward = session.get(Open311Forward, forward_id)
    if forward is None:
        return False
    status = (_text(item.get("status")) or "").lower() or None
    notes = (_text(item.get("status_notes")) or "").strip() or None
    was_status, was_notes = forward.remote_status, forward.remote_notes
    forward.remote_status, forward.remote_notes = status, notes
    forward.last_pulled_at, forward.last_error = now, None
    session.add(forward)
    new_notes = notes if notes != was_notes else None
    if status == was_status and new_notes is None:
        return False
    report = lock_report(session, forward.report_id)
    if report is None:
        return False
    note = STATUS_NOTE.format(target=forward.target, number=forward.service_request_id,
                              status=status or "?")  # fmt: skip
    move = our_move(report, status, was_status, new_notes)
    try:
        if move == REPLY:
            reports.reply(session, report.id, new_notes)
        elif move is not None:
            reports.change_status(session, report.id, move, message=new_notes, note=note)
        else:
            return False
    except reports.ReportError as exc:
        # Our agents moved the report meanwhile (merged it, say): theirs stays recorded.
        log.info("Open311 status of report %s not applied: %s", report.id, exc)
        return False
    return True


REPLY = "reply"  # the far end's new words alone, with no change of status


def our_move(report: Report, status: str | None, was_status: str | None,
             new_notes: str | None) -> str | None:  # fmt: skip
    """What the far end's change means here: a status to move to, REPLY, or None.

    Theirs is only open or closed: closed resolves our open report, open again after
    closed puts it back in progress, and their first words while it is new or acknowledged
    say the work has started.
    """
    if status == "closed" and status != was_status and report.is_open:
        return Status.RESOLVED
    reopened = status == "open" and was_status == "closed" and not report.is_open
    if reopened or (new_notes and report.status in (Status.NEW, Status.ACKNOWLEDGED)):
        return Status.IN_PROGRESS
    if new_notes and report.is_open:
        return REPLY
    return None


def _mark_sent(session: Session, forward: Open311Forward, now: datetime) -> None:
    forward.state, forward.sent_at = ForwardState.SENT, now
    forward.remote_status = forward.remote_status or "open"
    if lock_report(session, forward.report_id) is not None:
        text = SENT_NOTE.format(target=forward.target, number=forward.service_request_id)
        reports.add_note(session, forward.report_id, text, agent_id=None)


def _pulled(session: Session, forward_id: int, now: datetime, error: str | None = None) -> None:
    forward = session.get(Open311Forward, forward_id)
    if forward is not None:
        forward.last_pulled_at, forward.last_error = now, error
        session.add(forward)


def backoff(attempts: int) -> float:
    """Seconds before the next try: doubled at each, up to MAX_DELAY."""
    return min(BASE_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)


def _items(response: requests.Response) -> list[dict]:
    """The list a GeoReport answer holds; raises FarEndError on an error answer."""
    if response.status_code >= 400:
        retry = response.status_code >= 500 or response.status_code in RETRY_STATUSES
        raise FarEndError(f"HTTP {response.status_code}: {_error_text(response)}", retry=retry)
    try:
        body = response.json()
    except ValueError as exc:
        raise FarEndError("The answer is not JSON.", retry=True) from exc
    if isinstance(body, dict):  # some servers wrap the list
        body = body.get("service_requests") or body.get("requests") or [body]
    if not isinstance(body, list):
        raise FarEndError("The answer is not a list of requests.", retry=True)
    return [item for item in body if isinstance(item, dict)]


def _error_text(response: requests.Response) -> str:
    """The far end's own descriptions (the spec's error list), else the start of the body."""
    try:
        errors = response.json()
        return " ".join(str(e.get("description", "")) for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError, TypeError):
        return response.text[:200]


def _network_error(exc: Exception) -> str:
    """A failure in words for the console; never the key a URL may hold."""
    if isinstance(exc, requests.Timeout):
        return "No answer in time (timeout)."
    if isinstance(exc, requests.ConnectionError):
        return "Could not connect."
    if isinstance(exc, FarEndError):
        return str(exc)[:500]
    return API_KEY_IN_URL.sub(r"\1***", f"{type(exc).__name__}: {exc}")[:500]


def _text(value) -> str | None:
    return str(value) if value not in (None, "") else None
