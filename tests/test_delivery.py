"""Delivery that loses nothing: faults at the provider, at the worker, at the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import literal_column, select, text

from bot.engine import handle
from bot.outbox import OutboxWorker
from models.citizen import Citizen
from models.messaging import MAX_QUEUED_REPLIES, waiting_replies
from models.report import Follower
from services import reports
from services.types import Inbound
from tests.helpers import TalkingCitizen, make_report
from tests.sms_support import make_sms_app
from tests.telegram_support import post, telegram_config, text_update
from webhooks.sms.sender import SmsSender
from webhooks.telegram.sender import TelegramSender


def worker_for(rt, limiters: dict | None = None) -> OutboxWorker:
    """The real worker and sender; the pacing buckets off unless a test is about them."""
    return OutboxWorker(
        rt,
        {"telegram": TelegramSender(rt.settings, rt.db)},
        limiters={} if limiters is None else limiters,
    )


def drain(worker: OutboxWorker, until: float = 20.0) -> None:
    deadline = time.monotonic() + until
    while worker.run_once() and time.monotonic() < deadline:
        pass


def time_passes(rt) -> None:
    """Makes every waiting retry due now (as if its backoff had elapsed)."""
    with rt.db.transaction() as session:
        session.execute(
            text("UPDATE outbox SET next_attempt_at = created_at WHERE status = 'queued'")
        )


def statuses(rt) -> dict[str, int]:
    with rt.db.reading() as session:
        rows = session.execute(text("SELECT status, count(*) FROM outbox GROUP BY status"))
        return dict(rows.all())


def queued_texts(rt, chat: int) -> list[str]:
    with rt.db.reading() as session:
        rows = session.execute(
            text("SELECT payload FROM outbox WHERE address = :a ORDER BY id"), {"a": str(chat)}
        )
        import json

        return [(p if isinstance(p, dict) else json.loads(p))["text"] for (p,) in rows]


def citizens_talking(rt, count: int = 3) -> list[int]:
    """Several Telegram citizens each say a few things: replies queue up for them."""
    chats = [4_100_000 + i for i in range(count)]
    for chat in chats:
        citizen = TalkingCitizen(rt, str(chat), channel="telegram", name="Ana")
        citizen.say("/start")
        citizen.say(choice="cat:lampadaire")
        citizen.say("Le lampadaire clignote")
    return chats


def test_provider_down_then_back_everything_arrives_in_order(tg_rt, telegram) -> None:
    chats = citizens_talking(tg_rt)
    worker = worker_for(tg_rt)
    telegram.set_down(True)
    drain(worker)
    assert statuses(tg_rt) == {"queued": sum(len(queued_texts(tg_rt, c)) for c in chats)}
    telegram.set_down(False)
    for _ in range(3):
        time_passes(tg_rt)
        drain(worker)
    assert set(statuses(tg_rt)) == {"sent"}
    for chat in chats:
        received = [m["text"] for m in telegram.sent_messages(chat)]
        assert received == queued_texts(tg_rt, chat)  # all of them, in order


def test_a_429_storm_delays_but_loses_nothing(tg_rt, telegram) -> None:
    chats = citizens_talking(tg_rt, 2)
    telegram.fail_next(6, status=429, retry_after=1, method="sendMessage")
    worker = worker_for(tg_rt)
    deadline = time.monotonic() + 30
    while statuses(tg_rt).get("queued") or statuses(tg_rt).get("sending"):
        assert time.monotonic() < deadline, statuses(tg_rt)
        drain(worker)
        time.sleep(0.3)  # retry_after is obeyed: nothing is retried before a second
    assert set(statuses(tg_rt)) == {"sent"}
    for chat in chats:
        assert [m["text"] for m in telegram.sent_messages(chat)] == queued_texts(tg_rt, chat)


def test_a_429_storm_longer_than_the_tries_still_loses_nothing(tg_rt, telegram) -> None:
    # Two workers sharing Telegram's 30/s meet 429s for minutes: a 429 is not a try.
    [chat] = citizens_talking(tg_rt, 1)
    storm = tg_rt.settings.OUTBOX_MAX_ATTEMPTS + 3
    telegram.fail_next(storm, status=429, retry_after=1, method="sendMessage")
    worker = worker_for(tg_rt)
    for _ in range(storm + 10):
        time_passes(tg_rt)
        drain(worker)
        if set(statuses(tg_rt)) == {"sent"}:
            break
    assert set(statuses(tg_rt)) == {"sent"}
    assert [m["text"] for m in telegram.sent_messages(chat)] == queued_texts(tg_rt, chat)


def test_blocked_bot_stops_at_once_and_marks_the_citizen(tg_rt, telegram) -> None:
    [chat] = citizens_talking(tg_rt, 1)
    telegram.block_chat(chat)
    drain(worker_for(tg_rt))
    counts = statuses(tg_rt)
    assert counts.get("failed") == 1 and counts.get("cancelled", 0) >= 1
    assert "queued" not in counts and "sending" not in counts
    assert TalkingCitizen(tg_rt, str(chat), channel="telegram").citizen.unreachable
    assert len(telegram.calls_to("sendMessage")) == 1  # tried once, never again


def _broadcast(rt, count: int, channel: str = "telegram") -> list[int]:
    """`count` reports each followed by one citizen, then all move on at once."""
    chats = []
    with rt.db.transaction() as session:
        for i in range(count):
            chat = 5_000_000 + i
            address = f"+3361{chat}" if channel == "sms" else str(chat)
            citizen = Citizen(channel=channel, address=address, display_name=f"C{i}")
            session.add(citizen)
            report = make_report(session, "graffiti")
            session.flush()
            session.add(Follower(report_id=report.id, citizen_id=citizen.id, is_author=True))
            chats.append((chat, report.id))
    for _, number in chats:
        with rt.db.transaction() as session:
            reports.change_status(session, number, "acknowledged")
    return [chat for chat, _ in chats]


@pytest.mark.postgres
def test_two_workers_on_postgres_never_send_twice(tg_rt, telegram) -> None:
    if not tg_rt.db.is_postgres:
        pytest.skip("SQLite runs one worker")
    chats = _broadcast(tg_rt, 150)
    workers = [worker_for(tg_rt), worker_for(tg_rt)]
    for w in workers:
        w.batch = 10
    threads = [threading.Thread(target=drain, args=(w, 60)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    sent = [m["chat_id"] for m in telegram.sent_messages()]
    assert sorted(int(c) for c in sent) == sorted(chats)  # each once, none twice
    assert statuses(tg_rt) == {"sent": 150}


def test_worker_killed_mid_batch_loses_nothing(tg_app, tg_rt, telegram, database_url) -> None:
    """SIGKILL in the middle of a batch: after a restart every message is sent."""
    chats = _broadcast(tg_rt, 60)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "x",
        "GEOCODER": "none",
        "OUTBOX_LEASE_SECONDS": "2",
        **telegram_config(telegram),
    }
    webleads = str(Path(sys.executable).parent / "webleads")

    def start():
        return subprocess.Popen(
            [webleads, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    worker = start()
    try:
        deadline = time.monotonic() + 30
        while telegram.accepted < 15:  # paced at ~30/s: a batch of 50 takes more than a second
            assert time.monotonic() < deadline, "the worker sent nothing"
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert statuses(tg_rt).get("sending", 0) > 0  # claimed, not sent: the worst case
        worker = start()
        deadline = time.monotonic() + 40
        while {int(m["chat_id"]) for m in telegram.sent_messages()} != set(chats):
            assert time.monotonic() < deadline, statuses(tg_rt)
            time.sleep(0.1)
        duplicates = len(telegram.sent_messages()) - len(chats)
        assert duplicates <= 1  # at-least-once: at most the one in flight at the kill
    finally:
        worker.kill()
        worker.wait(10)


@pytest.mark.postgres
def test_database_restart_under_the_webhook(tg_rt, tg_client, request) -> None:
    """Requests fail cleanly while the database is down; Telegram's redelivery succeeds."""
    if not tg_rt.db.is_postgres:
        pytest.skip("the restart is of the PostgreSQL server")
    cluster = request.getfixturevalue("pg_cluster")
    if not cluster.can_restart:
        pytest.skip("the server was given by TEST_DATABASE_URL: not ours to restart")
    updates = [text_update("bonjour", 8_000 + i) for i in range(30)]
    for update, i in zip(updates, range(30), strict=True):
        update["message"]["chat"]["id"] = update["message"]["from"]["id"] = 6_000_000 + i
    answers = {}
    restarter = threading.Thread(target=cluster.restart)
    for i, update in enumerate(updates):
        if i == 5:
            restarter.start()
        # worker=False: only the webhook is under test while the server restarts.
        answers[update["update_id"]] = post(tg_client, update, worker=False).status_code
    restarter.join(60)
    assert set(answers.values()) <= {200, 503}, answers  # never a 500, never a hang
    failed = [u for u in updates if answers[u["update_id"]] != 200]
    for update in failed:  # Telegram delivers again
        assert post(tg_client, update).status_code == 200
    for update in updates:  # and a redelivery of a handled one is a no-op
        assert post(tg_client, update).status_code == 200
    with tg_rt.db.reading() as session:
        handled = session.execute(
            text("SELECT count(*) FROM inboundmessage WHERE channel = 'telegram'")
        ).scalar()
        citizens = session.execute(text("SELECT count(*) FROM citizen")).scalar()
        conversations = session.execute(text("SELECT count(*) FROM conversation")).scalar()
    assert handled == 30 and citizens == conversations == 30


@pytest.mark.postgres
def test_postgres_wakes_listening_workers_on_every_queued_message(rt) -> None:
    """The engine, the console's retry, any path: the database itself notifies."""
    if not rt.db.is_postgres:
        pytest.skip("SQLite workers are woken through a socket")
    import psycopg

    from models.messaging import NOTIFY_CHANNEL, mark_dead, requeue

    url = rt.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        citizen = TalkingCitizen(rt)
        citizen.say("bonjour")
        assert list(listener.notifies(timeout=2, stop_after=1))
        with rt.db.transaction() as session:
            message_id = session.execute(text("SELECT max(id) FROM outbox")).scalar()
            mark_dead(session, message_id, "gave up")
        assert not list(listener.notifies(timeout=0.3, stop_after=1))  # dead: no wake-up
        with rt.db.transaction() as session:
            assert requeue(session, message_id)
        assert list(listener.notifies(timeout=2, stop_after=1))


# --- fair delivery: no chat, no channel, no broadcast holds the others back -------------------

FLOODER, NEWCOMER = 6_660_666, 7_001_002


def says(rt, sender: str | int, words: str, channel: str = "telegram") -> None:
    handle(Inbound(channel, str(sender), external_id=uuid.uuid4().hex, text=words), rt)


def flood(rt, count: int) -> None:
    for i in range(count):
        says(rt, FLOODER, f"spam {i} " + "x" * i)


@pytest.fixture
def both_channels(database_url, tmp_path, telegram, twilio):
    """The app with Telegram and SMS, SMS at its real default pace (1/s)."""
    app = make_sms_app(
        database_url, tmp_path, twilio, SMS_RATE_PER_SECOND=1, **telegram_config(telegram)
    )
    yield app.extensions["webleads"]
    app.extensions["webleads"].db.dispose()


class RunningWorker:
    """The worker as in production: its own thread, both senders, the channels' limits."""

    def __init__(self, rt) -> None:
        senders = {"telegram": TelegramSender(rt.settings, rt.db), "sms": SmsSender(rt)}
        self.rt, self.worker = rt, OutboxWorker(rt, senders)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.worker.run_forever, args=(self.stop, 0.05))

    def __enter__(self) -> RunningWorker:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.rt.outbox_ready.set()
        self.thread.join(60)


def answered_in(telegram, chat: int, timeout: float) -> float:
    """Seconds until the first message to `chat` (fails the test past `timeout`)."""
    start = time.monotonic()
    telegram.wait_for(
        "sendMessage", timeout=timeout, predicate=lambda p: str(p.get("chat_id")) == str(chat)
    )
    return time.monotonic() - start


def test_a_new_citizen_is_answered_at_once_behind_a_flood_and_a_broadcast(
    both_channels, telegram, twilio
) -> None:
    rt = both_channels
    flood(rt, 40)
    _broadcast(rt, 15, channel="sms")  # notices by SMS, 1/s: 15 s of them
    notices = _broadcast(rt, 60)  # and by Telegram, 30/s: 2 s of them
    telegram.enforce_limits(global_per_second=30, per_chat_per_second=1)
    with RunningWorker(rt):
        time.sleep(0.5)  # the worker is busy with the backlog when the citizen writes
        says(rt, NEWCOMER, "/start")
        waited = answered_in(telegram, NEWCOMER, timeout=6)
        sent = telegram.sent_messages()
    assert waited < 2.5
    first = next(i for i, m in enumerate(sent) if int(m["chat_id"]) == NEWCOMER)
    notices_sent = sum(int(m["chat_id"]) in notices for m in sent[:first])
    assert notices_sent < len(notices)  # the reply went before the rest of the notices
    assert len(telegram.sent_messages(FLOODER)) <= 3  # the flood at its own pace, 1/s
    assert len(twilio.messages) <= 4  # and the SMS notices at theirs, held back by nobody


def test_a_flooding_chat_is_answered_only_to_its_last_messages(tg_rt, telegram) -> None:
    flood(tg_rt, 30)
    with tg_rt.db.reading() as session:
        replies = session.execute(
            text("SELECT status, payload, last_error FROM outbox WHERE address = :a ORDER BY id"),
            {"a": str(FLOODER)},
        ).all()
    waiting = [r for r in replies if r.status == "queued"]
    assert len(waiting) == MAX_QUEUED_REPLIES  # not 60 replies ahead of everyone
    assert {r.last_error for r in replies if r.status == "cancelled"} == {
        "superseded: more replies were waiting for this chat than it can take"
    }
    drain(worker_for(tg_rt))
    received = telegram.sent_messages(FLOODER)
    assert len(received) == MAX_QUEUED_REPLIES
    assert received[-1]["text"] == queued_texts(tg_rt, FLOODER)[-1]  # the latest answer


def _a_backlog_the_statistics_have_not_seen(rt, chats: int, each: int) -> list[int]:
    """Chats with replies waiting, queued after the outbox was analyzed with none waiting
    (the worker keeps it empty; then a burst, or the provider down): their ids."""
    with rt.db.engine.begin() as conn:
        ids = [
            conn.execute(
                text(
                    "INSERT INTO citizen (channel, address, language, opted_out, unreachable,"
                    " field_chat, created_at) VALUES ('dev', :address, 'fr', :no, :no, :no,"
                    " CURRENT_TIMESTAMP) RETURNING id"
                ),
                {"address": f"backlog-{i}", "no": False},
            ).scalar_one()
            for i in range(chats)
        ]
    replies = text(
        "INSERT INTO outbox (citizen_id, channel, address, payload, priority, status,"
        " attempts, next_attempt_at, created_at) VALUES (:chat, 'dev', 'x', '{}', 0,"
        " :status, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    with rt.db.engine.begin() as conn:  # their history: every reply sent
        conn.execute(replies, [{"chat": chat, "status": "sent"} for chat in ids * 3 * each])
    with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    with rt.db.engine.begin() as conn:
        conn.execute(replies, [{"chat": chat, "status": "queued"} for chat in ids * each])
    return ids


def test_a_chats_waiting_replies_are_read_from_its_own_entries_whatever_the_backlog(
    rt,
) -> None:
    """The trim after each reply (and SQLite's count as the citizen is locked) reads the
    chat's own waiting replies, ten at most, not every chat's: read from ix_outbox_due with
    a filter on the chat, a backlog of 3,000 cost each message of the burst 3,000 rows.
    PostgreSQL is asked as the webhook's backends ask it after five messages: a generic
    plan, which knows the chat only as $1."""
    chat = _a_backlog_the_statistics_have_not_seen(rt, chats=300, each=10)[7]
    with rt.db.engine.connect() as conn:
        if rt.db.is_postgres:
            asked = select(waiting_replies(literal_column("$1")))
            sql = asked.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            conn.exec_driver_sql(f"PREPARE waiting(integer) AS {sql}")
            plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE) EXECUTE waiting({chat})").scalars()
            waiting = conn.exec_driver_sql(f"EXECUTE waiting({chat})").scalar_one()
        else:
            asked = select(waiting_replies(literal_column("?")))
            sql = str(asked.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (chat,))]
            waiting = conn.exec_driver_sql(sql, (chat,)).scalar_one()
        plan = "\n".join(plan)
    assert waiting == 10
    assert "ix_outbox_waiting_reply" in plan, plan
    assert "ix_outbox_due" not in plan and "Rows Removed by Filter" not in plan, plan


def test_replies_go_before_notices(tg_rt, telegram) -> None:
    notices = _broadcast(tg_rt, 30)
    says(tg_rt, NEWCOMER, "/start")
    worker = worker_for(tg_rt)
    worker.batch = 5
    worker.run_once()
    first_five = [int(m["chat_id"]) for m in telegram.sent_messages()]
    assert first_five[0] == NEWCOMER and set(first_five[1:]) <= set(notices)


def test_a_channel_its_provider_throttles_does_not_hold_another(
    both_channels, telegram, twilio
) -> None:
    rt = both_channels
    for i in range(15):  # fifteen texters wait for their SMS answers...
        says(rt, f"+336120000{i:02}", "Bonjour", channel="sms")
    twilio.fail_next(200, status=429)  # ...and Twilio answers 429 to every one of them
    says(rt, NEWCOMER, "/start")
    with RunningWorker(rt):
        waited = answered_in(telegram, NEWCOMER, timeout=6)
    assert waited < 2.5
    assert twilio.messages == []  # nothing went by SMS; nothing of it was lost either
    with rt.db.reading() as session:
        sms_waiting = session.execute(
            text("SELECT count(*) FROM outbox WHERE channel = 'sms' AND status = 'queued'")
        ).scalar()
    assert sms_waiting >= 15


def test_a_twilio_429_storm_longer_than_the_tries_loses_nothing(both_channels, twilio) -> None:
    rt = both_channels
    says(rt, "+33612000099", "Bonjour", channel="sms")
    storm = rt.settings.OUTBOX_MAX_ATTEMPTS + 3
    twilio.fail_next(storm, status=429)
    worker = OutboxWorker(rt, {"sms": SmsSender(rt)}, limiters={})
    for _ in range(storm + 10):
        time_passes(rt)
        drain(worker)
        if set(statuses(rt)) == {"sent"}:
            break
    assert set(statuses(rt)) == {"sent"}  # a 429 is a pace, not a try: nothing dead
    bodies = [m["Body"] for m in twilio.sent_to("+33612000099")]
    expected = queued_texts(rt, "+33612000099")  # (SMS writes the choices in the text)
    assert len(bodies) == len(expected)
    assert all(body.startswith(text) for body, text in zip(bodies, expected, strict=True))
