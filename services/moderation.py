"""The public site's moderation: what residents may see of a report.

By default a report is on the public site without its citizen's words (unless its
category says they are public) and without photos. An agent (or the CLI) publishes a
report (its words become public, a hidden report comes back), hides it (404 everywhere
public, Open311 included), withholds its words, writes its public text in place of the
citizen's (redaction), approves a photo, or adds a public note (its own kind of event,
shown redacted on the public page, sent to nobody). Each other change is a row of the
report's history (kind "moderated", who and what in the note); the audit log exports
both.
"""

from __future__ import annotations

from sqlmodel import Session

from models.db import utcnow
from models.report import EventKind, Media, Report, add_event
from services.reports import ReportError, report_or_error
from services.texts import N_

# The note's "action", as the audit log shows it.
PUBLISHED, HIDDEN, WITHHELD, REDACTED, PHOTO_APPROVED, PHOTO_WITHDRAWN = (
    "published",
    "hidden",
    "text withheld",
    "public text written",
    "photo approved",
    "photo withdrawn",
)
MAX_PUBLIC_TEXT = 2000


def publish(session: Session, number: int, *, agent_id: int | None) -> Report:
    """Puts the report on the public site with its citizen's words."""
    report = report_or_error(session, number)
    report.hidden, report.text_public = False, True
    return _record(session, report, PUBLISHED, agent_id)


def hide(session: Session, number: int, *, agent_id: int | None) -> Report:
    """Takes the report off the public site (its page, the map, the feed, Open311)."""
    report = report_or_error(session, number)
    report.hidden = True
    return _record(session, report, HIDDEN, agent_id)


def withhold_text(session: Session, number: int, *, agent_id: int | None) -> Report:
    """Keeps the report public without its citizen's words."""
    report = report_or_error(session, number)
    report.text_public = False
    return _record(session, report, WITHHELD, agent_id)


def redact(session: Session, number: int, text: str, *, agent_id: int | None) -> Report:
    """Shows the agent's text in place of the citizen's words."""
    text = (text or "").strip()
    if not text:
        raise ReportError(N_("The public text needs some words (or withhold the text instead)."))
    report = report_or_error(session, number)
    report.public_text, report.text_public = text[:MAX_PUBLIC_TEXT], True
    return _record(session, report, REDACTED, agent_id, text=report.public_text)


def add_public_note(session: Session, number: int, text: str, *, agent_id: int | None):
    """Publishes the agent's note on the public page (redacted there, like every agent's
    words); it is sent to nobody: the followers hear from the agents by a reply. It is
    no news to them either: their reminder still comes when nothing was sent for long
    (`last_public_update_at` is the followers' last news)."""
    text = (text or "").strip()
    if not text:
        raise ReportError(N_("A public note needs some words."))
    report = report_or_error(session, number)
    return add_event(session, report, EventKind.PUBLIC_NOTE, agent_id=agent_id,
                     public_message=text[:MAX_PUBLIC_TEXT])  # fmt: skip


def approve_photo(
    session: Session, number: int, media_id: int, *, approved: bool, agent_id: int | None
) -> Report:
    """Makes one of the report's photos public (or takes it back)."""
    report = report_or_error(session, number)
    media = session.get(Media, media_id)
    if media is None or media.report_id != report.id:
        raise ReportError(
            N_("Report #%(number)d has no photo %(photo)d."), number=number, photo=media_id
        )
    media.approved_at = utcnow() if approved else None
    session.add(media)
    action = PHOTO_APPROVED if approved else PHOTO_WITHDRAWN
    return _record(session, report, action, agent_id, photo=media_id)


def _record(session: Session, report: Report, action: str, agent_id: int | None, **details):
    add_event(session, report, EventKind.MODERATED, agent_id=agent_id,
              detail={"action": action, **details})  # fmt: skip
    return report
