"""Other bodies: reports that are not the commune's go to whoever is responsible, and
their answer comes back (DESIGN.md, "Other bodies").

- A routing rule (a category, optionally within a zone) sends a report to a body
  instead of its service (`Report.with_body`: out of the town's queue) or as well
  (`also`: the service keeps it and follows what the body does). Applied once the report
  has its place (services/body_routing.py, from `file_report` and when a place settles).
- An e-mail body gets the report by e-mail from the worker (a FORWARD_BODY job, never
  inside a transaction) with a signed link to `/b/<token>`, no account needed; an
  Open311 body through the Open311 client (`services/open311_queue.py`).
- On that page the body answers taken (-> in progress), done (-> resolved, a photo
  allowed) or not ours (a reason: back to the service of its category, flagged). Each
  answer is an event of the report's history and reaches its followers through
  services/notify.py, from the view their audience may read.
- A body silent past its response time gets one reminder (`remind_late_bodies`, the
  worker's periodic loop); the dashboard shows each body's figures (`body_figures`).
"""

from __future__ import annotations

import logging
import secrets
import statistics
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from sqlmodel import Session

from models.body import (
    Answer,
    Body,
    BodyForward,
    BodyKind,
    BodyRoute,
    body_by_code,
    find_route,
    forwards_per_body,
    late_forwards,
    open_forwarded_reports,
)
from models.catalog import Category, category_by_code
from models.citizen import Citizen
from models.commune import routed_service
from models.db import utcnow
from models.jobs import JobKind, queue_job
from models.report import (
    Priority,
    Report,
    ReportEvent,
    Status,
    can_transition,
    lock_report,
)
from models.zone import Zone
from services import notify
from services.audit import Action, Actor, Thing, changed, record, remove
from services.body_routing import body_event
from services.crew_notices import osm_link
from services.texts import N_, translate

log = logging.getLogger(__name__)

BODY_PATH = "/b/"
BODY_SALT = "webleads.body-link"
# The link works while its report is open; this only bounds a leaked link's life.
MAX_AGE_SECONDS = 400 * 24 * 3600
DEFAULT_RESPONSE_HOURS = 72

# What each answer does to the report's status (None: no change).
ANSWER_STATUS = {Answer.TAKEN: Status.IN_PROGRESS, Answer.DONE: Status.RESOLVED,
                 Answer.NOT_OURS: None}  # fmt: skip


class BodyError(ValueError):
    """A body or a rule that cannot be saved; the message says why. Like ReportError:
    `text` is an English msgid with %(name)s placeholders filled by `values` (str() gives
    the English for the command line, the console says it in the agent's language)."""

    def __init__(self, text: str, **values) -> None:
        self.text, self.values = text, values
        super().__init__(text % values if values else text)


class LinkProblem(ValueError):
    """Why a body's link does not act: "invalid", "expired", "closed", or "reason" (not
    ours without one)."""


# --- bodies and rules (the command line and the console; audited) ----------------------


def save_body(session: Session, actor: Actor, code: str, name: str, *, email: str | None = None,
              endpoint: str | None = None, api_key: str | None = None,
              hours: int | None = None, contact_url: str | None = None,
              share_identity: bool | None = None,
              service_codes: dict | None = None) -> tuple[Body, bool]:  # fmt: skip
    """Adds a body or changes the one with this code; returns (body, created)."""
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise BodyError(N_("A body needs a code and a name."))
    if bool(email) == bool(endpoint):
        raise BodyError(N_("A body is reached either by e-mail or by an Open311 endpoint."))
    if endpoint and not api_key:
        raise BodyError(N_("An Open311 body needs its API key."))
    if email and "@" not in email:
        raise BodyError(N_("“%(email)s” is not an e-mail address."), email=email)
    if hours is not None and hours < 1:
        raise BodyError(N_("The response time is a number of hours (1 or more)."))
    body = body_by_code(session, code)
    created = body is None
    before = {} if created else _state(body)
    if created:
        body = Body(code=code, name=name, kind=BodyKind.EMAIL, service_codes={})
    body.name = name
    body.kind = BodyKind.EMAIL if email else BodyKind.OPEN311
    body.email, body.endpoint = (email or None), (endpoint or None)
    body.api_key = api_key if endpoint else None
    if hours is not None:
        body.response_hours = hours
    elif created:
        body.response_hours = DEFAULT_RESPONSE_HOURS
    if contact_url is not None:
        body.contact_url = contact_url.strip() or None
    if share_identity is not None:
        body.share_identity = share_identity
    if service_codes is not None:
        body.service_codes = dict(service_codes)
    session.add(body)
    session.flush()
    action = Action.CREATED if created else Action.UPDATED
    record(session, actor, Thing.BODY, body.code, action, changed(before, _state(body)))
    return body, created


def _state(body: Body) -> dict:
    """What the audit trail keeps of a body (never its API key, only whether it has one)."""
    return {
        "name": body.name,
        "kind": body.kind,
        "email": body.email,
        "endpoint": body.endpoint,
        "api_key": "(set)" if body.api_key else None,
        "service_codes": dict(body.service_codes or {}),
        "response_hours": body.response_hours,
        "contact_url": body.contact_url,
        "share_identity": body.share_identity,
    }


def add_route(session: Session, actor: Actor, category_code: str, body_code: str, *,
              zone_name: str | None = None, also: bool = False) -> BodyRoute:  # fmt: skip
    """Sends a category (within a zone, or anywhere) to a body; `also`: the service too."""
    category = category_by_code(session, category_code)
    if category is None:
        raise BodyError(N_("There is no category “%(code)s”."), code=category_code)
    body = body_by_code(session, body_code)
    if body is None:
        raise BodyError(N_("There is no body “%(code)s”."), code=body_code)
    zone = None
    if zone_name:
        zone = _zone_named(session, zone_name)
        if zone is None:
            raise BodyError(N_("There is no zone named “%(name)s”."), name=zone_name)
    rule = find_route(session, category.id, body.id, zone.id if zone else None)
    before = {} if rule is None else {"also": rule.also}
    if rule is None:
        rule = BodyRoute(category_id=category.id, body_id=body.id,
                         zone_id=zone.id if zone else None)  # fmt: skip
    rule.also = also
    session.add(rule)
    session.flush()
    name = _route_name(session, rule)
    after = {"category": category.code, "other_body": body.code,
             "zone": zone.name if zone else None, "also": also}  # fmt: skip
    action = Action.CREATED if not before else Action.UPDATED
    record(session, actor, Thing.BODY_ROUTE, name, action, changed(before, after))
    return rule


def _route_name(session: Session, rule: BodyRoute) -> str:
    """A rule as the audit trail names it: `pothole -> roads (Centre)`."""
    category, body = session.get(Category, rule.category_id), session.get(Body, rule.body_id)
    zone = session.get(Zone, rule.zone_id) if rule.zone_id else None
    return f"{category.code} -> {body.code}" + (f" ({zone.name})" if zone else "")


def remove_route(session: Session, actor: Actor, rule_id: int) -> bool:
    """Removes a routing rule (audited); False when there is none."""
    rule = session.get(BodyRoute, rule_id)
    if rule is None:
        return False
    changes = {"also": [rule.also, None]}
    remove(session, actor, Thing.BODY_ROUTE, _route_name(session, rule), rule, changes)
    return True


def _zone_named(session: Session, name: str) -> Zone | None:
    from sqlalchemy import select

    return session.scalar(select(Zone).where(Zone.name == name).order_by(Zone.id).limit(1))


def body_listing(session: Session) -> list[str]:
    """The bodies and their rules, one line each (`webleads body list`)."""
    from models.body import all_bodies, all_routes

    rules: dict[int, list[str]] = {}
    for rule in all_routes(session):
        zone = session.get(Zone, rule.zone_id) if rule.zone_id else None
        said = session.get(Category, rule.category_id).code + (f" in {zone.name}" if zone else "")
        rules.setdefault(rule.body_id, []).append(said + (" (also the service)" if rule.also
                                                          else ""))  # fmt: skip
    lines = []
    for body in all_bodies(session):
        how = body.email if body.kind == BodyKind.EMAIL else f"Open311 {body.endpoint}"
        lines.append(f"{body.code:12} {body.name}  <{how}>  {body.response_hours} h")
        lines += [f"{'':12} - {rule}" for rule in rules.get(body.id, [])]
    return lines


# --- the signed link (/b/<token>) --------------------------------------------------------


def mint_token(secret_key: str, forward_id: int) -> str:
    value = f"{forward_id}-{secrets.token_urlsafe(6)}"
    return TimestampSigner(secret_key, salt=BODY_SALT).sign(value).decode("ascii")


def body_link(public_base_url: str, secret_key: str, forward_id: int) -> str:
    return f"{public_base_url.rstrip('/')}{BODY_PATH}{mint_token(secret_key, forward_id)}"


def read_token(secret_key: str, token: str, max_age: int = MAX_AGE_SECONDS) -> int:
    """The forward a token is for; raises LinkProblem("invalid"|"expired")."""
    try:
        value = TimestampSigner(secret_key, salt=BODY_SALT).unsign(token, max_age=max_age)
    except SignatureExpired as exc:
        raise LinkProblem("expired") from exc
    except (BadSignature, UnicodeDecodeError) as exc:
        raise LinkProblem("invalid") from exc
    number, _, nonce = value.decode("ascii").partition("-")
    if not number.isdigit() or not nonce:
        raise LinkProblem("invalid")
    return int(number)


@dataclass(frozen=True)
class ForwardView:
    """What the body's page and e-mail show of a report (the town's own record: the body
    acts for the town; the resident's identity only where the body may receive it)."""

    forward: BodyForward
    body: Body
    report: Report
    category: str
    place: str
    map_url: str | None
    photos: list[str]
    identity: str | None


def forward_view(session: Session, forward: BodyForward, base_url: str,
                 language: str) -> ForwardView:  # fmt: skip
    from models.catalog import Service
    from models.public_queries import approved_photos
    from services.audience import Audience, ReportViews

    report = session.get(Report, forward.report_id)
    body = session.get(Body, forward.body_id)
    category = session.get(Category, report.category_id)
    view = ReportViews(session, report, category, session.get(Service, report.service_id))
    place = view.for_audience(Audience.AGENT).place or ""
    map_url = None
    if report.lat is not None:
        place = place or f"{report.lat:.5f}, {report.lon:.5f}"
        map_url = osm_link(report.lat, report.lon)
    base = base_url.rstrip("/")
    photos = [f"{base}/reports/{report.id}/photos/{media_id}"
              for media_id in approved_photos(session, [report.id]).get(report.id, [])]  # fmt: skip
    identity = None
    if body.share_identity and report.citizen_id is not None:
        citizen = session.get(Citizen, report.citizen_id)
        if citizen is not None:
            identity = ", ".join(filter(None, [citizen.display_name, citizen.address]))
    return ForwardView(forward, body, report, category.name(language), place, map_url, photos,
                       identity)  # fmt: skip


# --- the e-mail (built in a reading transaction, sent by the worker outside it) ----------


@dataclass(frozen=True)
class ForwardMail:
    """The words of the e-mail forwarding a report to its body, in the order it reads."""

    subject: str
    intro: str
    fields: str
    no_map: str
    description: str
    photos: str
    identity: str
    link: str


FORWARD_MAIL = ForwardMail(
    subject=N_("[{ref}] {category}, {place}: a report for {body}"),
    intro=N_("Hello,\n\n{town} forwards you a report that is for {body} to deal with."),
    fields=N_("Report: {ref}\nCategory: {category}\nPlace: {place}\nMap: {map}"),
    no_map=N_("no point on the map"),
    description=N_("Description: {description}"),
    photos=N_("Photos:"),
    identity=N_("Reported by: {identity}"),
    link=N_(
        "To answer (taken in hand, done, or not yours), open this page, no account needed:\n"
        "{link}\nIt works until the report is closed. The resident is told each answer."
    ),
)
# The same e-mail, its subject and opening saying it is a reminder.
REMINDER_MAIL = replace(
    FORWARD_MAIL,
    subject=N_("Reminder: [{ref}] {category}, {place}: a report for {body}"),
    intro=N_(
        "Hello,\n\n{town} forwarded you this report on {date} and has had no answer yet: "
        "please say where it stands."
    ),
)


def forward_message(session: Session, settings, forward_id: int, town: str, *,
                    reminder: bool = False):  # fmt: skip
    """The e-mail forwarding a report to its body (or reminding it); None when there is
    nothing to send any more (the report closed, the body answered or was removed)."""
    from services.mail import build_message

    forward = session.get(BodyForward, forward_id)
    if forward is None:
        return None
    language = settings.DEFAULT_LANGUAGE
    view = forward_view(session, forward, settings.PUBLIC_BASE_URL, language)
    if not view.report.is_open or not view.body.email or (reminder and forward.answered_at):
        return None
    words = REMINDER_MAIL if reminder else FORWARD_MAIL
    values = {"ref": view.report.ref, "category": view.category, "place": view.place,
              "body": view.body.name, "town": town,
              "map": view.map_url or translate(language, words.no_map)}  # fmt: skip
    parts = [
        translate(language, words.intro, date=forward.created_at.strftime("%d/%m/%Y"), **values),
        translate(language, words.fields, **values),
        translate(language, words.description, description=view.report.description),
    ]
    if view.photos:
        parts.append("\n".join([translate(language, words.photos), *view.photos]))
    if view.identity:
        parts.append(translate(language, words.identity, identity=view.identity))
    link = body_link(settings.PUBLIC_BASE_URL, settings.SECRET_KEY, forward.id)
    parts.append(translate(language, words.link, link=link))
    subject = translate(language, words.subject, **values)
    return build_message(sender=settings.MAIL_FROM, to=view.body.email, subject=subject,
                         text="\n\n".join(parts) + "\n", sender_name=town)  # fmt: skip


def mark_sent(session: Session, forward_id: int, *, reminder: bool) -> None:
    forward = session.get(BodyForward, forward_id)
    if forward is not None and not reminder and forward.sent_at is None:
        forward.sent_at = utcnow()
        session.add(forward)


# --- the body's answer (its page) --------------------------------------------------------


def usable_forward(session: Session, forward_id: int) -> BodyForward:
    """The forward of a link that still acts; LinkProblem("invalid"|"closed") otherwise."""
    forward = session.get(BodyForward, forward_id)
    if forward is None:
        raise LinkProblem("invalid")
    report = session.get(Report, forward.report_id)
    if report is None or not report.is_open or forward.answer == Answer.NOT_OURS:
        raise LinkProblem("closed")
    return forward


def answer(session: Session, forward_id: int, what: str, *, reason: str | None = None,
           upload: str | None = None) -> ReportEvent:  # fmt: skip
    """Records a body's answer: the report's status moves (taken -> in progress, done ->
    resolved), or the report goes back to its category's service, flagged (not ours);
    every follower is told. `upload`: a photo of the work, decoded by the worker."""
    from services import reports

    what = Answer(what)
    forward = usable_forward(session, forward_id)
    report = lock_report(session, forward.report_id)
    if not report.is_open:  # closed meanwhile, under the lock
        raise LinkProblem("closed")
    body = session.get(Body, forward.body_id)
    reason = (reason or "").strip()[:1000] or None
    if what == Answer.NOT_OURS and not reason:
        raise LinkProblem("reason")
    now = utcnow()
    old = new = None
    target = ANSWER_STATUS[what]
    if target is not None and report.status != target and can_transition(report.status, target):
        old, new = reports.move_status(report, target, now), target
    if what == Answer.NOT_OURS:
        report.with_body = False
        report.service_id = (routed_service(session, report.commune, report.category_id)
                             or session.get(Category, report.category_id).service_id)  # fmt: skip
    report.last_public_update_at = report.updated_at = now
    session.add(report)
    forward.answer, forward.answered_at = what.value, now
    forward.first_answer_at = forward.first_answer_at or now
    session.add(forward)
    event = body_event(session, report, body, what.value, now, old=old, new=new,
                   reason=reason if what == Answer.NOT_OURS else None)  # fmt: skip
    if upload is not None:
        queue_job(session, JobKind.BODY_PHOTO, {"upload": upload, "body": body.code},
                  report_id=report.id)  # fmt: skip
    notify.queue_for_followers(session, report, event)
    if what == Answer.NOT_OURS and report.priority == Priority.NORMAL:
        # Flagged in the town's queue: it comes back after time spent elsewhere.
        reports.set_priority(session, report.id, Priority.HIGH, agent_id=None)
    return event


def add_body_photo(session: Session, report_id: int | None, photo) -> None:
    """Adds the photo a body sent with its answer to the report (the worker decoded it)."""
    from models.report import add_media, attach_media

    if report_id is None or photo is None or session.get(Report, report_id) is None:
        return
    attach_media(session, [add_media(session, photo, None)], report_id)


# --- late bodies (the worker's periodic loop) and the dashboard --------------------------


def remind_late_bodies(rt, now: datetime | None = None) -> int:
    """Reminds, once, each body silent past its response time; returns how many."""
    now = now or utcnow()
    with rt.db.reading() as session:
        late = [forward.id for forward in late_forwards(session, now)]
    reminded = 0
    for forward_id in late:
        with rt.db.transaction() as session:
            forward = session.get(BodyForward, forward_id)
            if forward is None or forward.reminded_at or forward.answered_at:
                continue  # another worker, or the body answered meanwhile
            forward.reminded_at = now
            session.add(forward)
            report = session.get(Report, forward.report_id)
            body_event(session, report, session.get(Body, forward.body_id), "reminded", now)
            queue_job(session, JobKind.FORWARD_BODY, {"forward": forward.id, "reminder": True},
                      report_id=forward.report_id)  # fmt: skip
            reminded += 1
    if reminded:
        rt.wake_worker()
    return reminded


@dataclass(frozen=True)
class BodyFigures:
    body: Body
    forwarded: int
    answered: int
    median_hours: float | None  # from the e-mail to the first answer
    late: int  # unanswered past the response time, report still open


def body_figures(session: Session, now: datetime | None = None) -> list[BodyFigures]:
    now = now or utcnow()
    open_reports = open_forwarded_reports(session)
    figures = []
    for body, forwards in forwards_per_body(session):
        hours = [
            (f.first_answer_at - (f.sent_at or f.created_at)).total_seconds() / 3600
            for f in forwards
            if f.first_answer_at is not None
        ]
        deadline = timedelta(hours=body.response_hours)
        late = sum(
            1
            for f in forwards
            if f.first_answer_at is None
            and f.report_id in open_reports
            and (f.sent_at or f.created_at) + deadline <= now
        )
        median = round(statistics.median(hours), 1) if hours else None
        figures.append(BodyFigures(body, len(forwards), len(hours), median, late))
    return figures
