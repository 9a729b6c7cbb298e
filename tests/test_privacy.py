"""Privacy: a citizen erases their data from the chat; the retention purge."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image
from sqlmodel import select

from app.cli import cli
from models.citizen import Citizen, Conversation, find_citizen
from models.db import utcnow
from models.jobs import Job, JobKind, finish_job, queue_job
from models.messaging import InboundMessage, messages_for_citizen, record_inbound
from models.privacy_queries import WORDS_REMOVED_NOTE
from models.report import Media, follower_ids, get_report, media_of_report, report_events
from services import reports
from services.media import media_path, store_photo
from services.privacy import purge
from tests.helpers import TalkingCitizen

PHONE = "+33612345678"


def real_photo(rt, colour: str = "red"):
    """A photo stored under MEDIA_DIR, as a channel stores it."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, format="PNG")
    return store_photo(out.getvalue(), rt.settings.MEDIA_DIR)


def last_text(rt, citizen_id: int) -> str:
    with rt.db.reading() as session:
        return messages_for_citizen(session, citizen_id)[-1].payload["text"]


def test_erasing_keeps_the_reports_without_the_citizen(rt) -> None:
    citizen = TalkingCitizen(rt, PHONE, channel="sms", name="Marie", language_code="en")
    number = citizen.file_report(description="A deep hole in front of number 12")
    citizen.say("It got bigger, call me on 06 12 34 56 78")
    citizen.say(choice=f"add:{number}")
    citizen.say("menu")
    citizen.say(choice="cat:graffiti")
    unsent = real_photo(rt, "blue")
    citizen.say("Tag on the wall", photo=unsent)  # a draft with a photo, never sent
    citizen_id = citizen.citizen.id
    assert citizen.texts("SUPPRIMER").startswith("Delete your data?")
    assert citizen.texts("no").startswith("Nothing was deleted.")
    assert citizen.state == "location"  # back to the pending question, draft kept
    citizen.say("delete")
    citizen.say("yes")
    assert last_text(rt, citizen_id).startswith("Done: your data is deleted.")
    with rt.db.reading() as session:
        erased = session.get(Citizen, citizen_id)
        assert erased.address.startswith("erased:") and erased.display_name is None
        assert erased.erased_at is not None
        assert find_citizen(session, "sms", PHONE) is None
        conversation = session.get(Conversation, citizen_id)
        assert (conversation.state, conversation.draft) == ("start", {})
        report = get_report(session, number)
        assert report.description == "A deep hole in front of number 12"
        assert report.citizen_id is None and follower_ids(session, number) == []
        events = report_events(session, number)
        assert all(e.citizen_id is None for e in events)
        added = [e for e in events if e.kind == "citizen_message"]
        assert added[0].public_message is None and added[0].internal_note == WORDS_REMOVED_NOTE
        # Only the confirmation is left in the outbox, to the number they wrote from.
        outbox = messages_for_citizen(session, citizen_id)
        assert [m.address for m in outbox] == [PHONE]
        assert session.exec(select(Media).where(Media.citizen_id == citizen_id)).all() == []
    assert not media_path(rt.settings.MEDIA_DIR, unsent.path).exists()
    # The same number starts afresh, with nothing of before.
    again = TalkingCitizen(rt, PHONE, channel="sms", language_code="en")
    assert "no reports" in again.texts("my reports").lower()
    assert again.citizen.id != citizen_id


def test_a_filed_photo_stays_with_its_report(rt) -> None:
    citizen = TalkingCitizen(rt, "3527065", channel="telegram", language_code="en")
    photo = real_photo(rt)
    citizen.say("/start")
    citizen.say(choice="cat:graffiti")
    citizen.say("Tag on the town hall", photo=photo)
    citizen.say(location=(48.1246, -1.2082))
    number = int(citizen.texts(choice="yes").split("#")[1].split()[0])
    assert citizen.texts("/supprimer").startswith("Delete your data?")
    citizen.say(choice="erase:yes")
    with rt.db.reading() as session:
        media = media_of_report(session, number)
    assert len(media) == 1 and media[0].citizen_id is None
    assert media_path(rt.settings.MEDIA_DIR, photo.path).exists()
    # An agent's update reaches nobody: nobody follows the report any more.
    with rt.db.transaction() as session:
        reports.change_status(session, number, "in_progress", message="On it")
    with rt.db.reading() as session:
        from models.messaging import messages_for_report

        assert messages_for_report(session, number) == []


def test_an_unclear_answer_asks_again(rt) -> None:
    citizen = TalkingCitizen(rt, language_code="en")
    citizen.say("hello")
    citizen.say("delete")
    replies = citizen.say("maybe")
    assert replies[0].text == "Please answer with one of the choices."
    assert replies[1].text.startswith("Delete your data?")
    assert citizen.citizen.erased_at is None


# --- retention ---------------------------------------------------------------------------


def set_conversation_time(rt, citizen_id: int, when) -> None:
    with rt.db.transaction() as session:
        conversation = session.get(Conversation, citizen_id)
        conversation.updated_at = when
        session.add(conversation)


def test_retention_purge_forgets_identities_of_long_finished_reports(app, rt) -> None:
    now = utcnow()
    later = now + timedelta(days=rt.settings.RETENTION_DAYS + 35)
    done = TalkingCitizen(rt, "+33611111111", channel="sms", language_code="en")
    done_report = done.file_report(description="Pothole, fixed long ago")
    still_writing = TalkingCitizen(rt, "+33622222222", channel="sms", language_code="en")
    writing_report = still_writing.file_report(location=(48.1300, -1.2000))
    waiting = TalkingCitizen(rt, "+33633333333", channel="sms", language_code="en")
    waiting.file_report(location=(48.1200, -1.2200))
    with rt.db.transaction() as session:
        reports.change_status(session, done_report, "resolved", message="Filled")
        reports.change_status(session, writing_report, "resolved", message="Filled")
        record_inbound(session, "sms", "SM-old")
        record_inbound(session, "sms", "SM-recent")
        recent = session.exec(
            select(InboundMessage).where(InboundMessage.external_id == "SM-recent")
        ).one()
        recent.received_at = later - timedelta(days=10)
        session.add(recent)
    set_conversation_time(rt, still_writing.citizen.id, later - timedelta(days=3))
    done_id = done.citizen.id

    purged = purge(rt, now=later)

    assert purged.citizens == 1
    with rt.db.reading() as session:
        forgotten = session.get(Citizen, done_id)
        assert forgotten.address.startswith("erased:") and forgotten.erased_at is not None
        report = get_report(session, done_report)
        assert report.description == "Pothole, fixed long ago" and report.citizen_id is None
        assert messages_for_citizen(session, done_id) == []
        assert find_citizen(session, "sms", "+33622222222") is not None  # wrote recently
        assert find_citizen(session, "sms", "+33633333333") is not None  # report still open
        kept = {m.external_id for m in session.exec(select(InboundMessage))}
    assert "SM-old" not in kept and "SM-recent" in kept
    assert purge(rt, now=later).citizens == 0  # idempotent
    result = app.test_cli_runner().invoke(cli, ["privacy", "purge"], catch_exceptions=False)
    assert "Retention: 365 day(s). 0 citizen identit" in result.output


def test_purge_deletes_photos_of_abandoned_drafts(sqlite_app) -> None:
    rt = sqlite_app.extensions["webleads"]
    citizen = TalkingCitizen(rt, language_code="en")
    photo = real_photo(rt, "green")
    citizen.say("hello")
    citizen.say(choice="cat:graffiti")
    citizen.say("Tag", photo=photo)
    assert purge(rt).photos == 0  # the citizen may still come back to the draft
    purged = purge(rt, now=utcnow() + timedelta(days=31))
    assert purged.photos == 1
    assert not media_path(rt.settings.MEDIA_DIR, photo.path).exists()


def test_purge_deletes_the_workers_finished_jobs_after_a_week(app, rt) -> None:
    """A job's payload holds what the citizen typed: it goes a week after the job is done."""
    with rt.db.transaction() as session:
        done = queue_job(session, JobKind.FIND_ADDRESS, {"text": "chez Hugo, 12 rue X"})
        queue_job(session, JobKind.FIND_ADDRESS, {"text": "still to look up"})
        finish_job(session, done)
    assert purge(rt).jobs == 0
    purged = purge(rt, now=utcnow() + timedelta(days=8))
    assert purged.jobs == 1 and "1 finished job(s) deleted" in str(purged)
    with rt.db.reading() as session:
        left = [job.payload["text"] for job in session.exec(select(Job))]
    assert left == ["still to look up"]  # a job not done yet is never purged


# --- audit -------------------------------------------------------------------------------


def test_the_audit_log_lists_every_agent_action(app, rt, tmp_path) -> None:
    import csv

    from models.agent import agent_by_email
    from models.catalog import service_by_code
    from services.audit import audit_rows, iter_lines
    from tests.helpers import make_report

    with rt.db.transaction() as session:
        admin = agent_by_email(session, "admin@vitre.example")
        number = make_report(session).id
        other = make_report(session, "graffiti").id
        reports.change_status(
            session,
            number,
            "acknowledged",
            message="Bien reçu",
            note='=HYPERLINK("x")',
            agent_id=admin.id,
        )
        reports.reply(session, number, "Équipe demain", agent_id=admin.id)
        reports.add_note(session, number, "Voir avec la voirie", agent_id=admin.id)
        reports.assign(
            session,
            number,
            service_id=service_by_code(session, "eclairage").id,
            assignee_id=None,
            agent_id=admin.id,
        )
        reports.change_status(session, other, "closed", message="Hors compétence")
    out = tmp_path / "audit.csv"
    runner = app.test_cli_runner()
    result = runner.invoke(
        cli,
        ["audit", "export", "--since", utcnow().date().isoformat(), "--out", str(out)],
        catch_exceptions=False,
    )
    assert "5 action(s) written" in result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["action"] for r in rows] == ["status", "reply", "note", "assigned", "status"]
    first = rows[0]
    assert first["agent"] == "admin@vitre.example" and first["report"] == f"#{number}"
    assert (first["from"], first["to"], first["public_message"]) == (
        "new",
        "acknowledged",
        "Bien reçu",
    )
    assert first["internal_note"] == '\'=HYPERLINK("x")'  # no formula for spreadsheets
    assert rows[3]["internal_note"] == "service: voirie -> eclairage"
    assert rows[4]["agent"] == "(command line)"
    with rt.db.reading() as session:  # what the console's download streams
        streamed = "".join(iter_lines(audit_rows(session, since=utcnow().date())))
    assert streamed == out.read_bytes().decode("utf-8")
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    later = runner.invoke(cli, ["audit", "export", "--since", tomorrow]).output
    assert later.strip() == "when,agent,report,action,from,to,public_message,internal_note"
