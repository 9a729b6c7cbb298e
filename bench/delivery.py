"""Benchmark: the outbox against Telegram's limits, a broadcast and a flood.

broadcast: 3,000 reports, each followed by a different Telegram citizen, are resolved at once; the
outbox worker (the real TelegramSender, python-telegram-bot) delivers the 3,000
personalised messages to a local Bot API stand-in that ENFORCES Telegram's limits (30
messages/s overall, 1/s per chat: any excess gets a real 429 with retry_after).

Prints the achieved messages/s as a share of the 30/s limit, and how many 429s came back
(the aim: 95 % or more of the limit, zero 429s).

flood: one Telegram sender writes 600 garbage messages at once and 300 status notices to
followers are queued (a third of them by SMS, at SMS_RATE_PER_SECOND = 1); the worker
(Telegram and SMS senders, the channels' own limits) runs, and 3 s later a new citizen
writes /start. Prints how long the new citizen waits for the answer (the aim: a second
or two; the flooder's chat is answered at its own pace, never ahead of everyone else).

    python bench/delivery.py [broadcast|flood] [--messages 3000] [--flood 600] [--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.seed import seed_demo
from bot.engine import handle
from bot.outbox import OutboxWorker
from models import migrate
from models.citizen import Citizen
from models.db import Database
from models.messaging import messages_for_report
from models.report import Follower
from services import reports
from services.catalog import CatalogCache
from services.config import load_settings
from services.geo import NoGeocoder
from services.runtime import Runtime
from services.types import Inbound
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.helpers import make_report

LIMIT = 30.0


def prepare(rt: Runtime, count: int, sms_every: int = 0) -> list[int]:
    """Creates `count` reports, each followed by its own citizen: on Telegram, or by SMS
    for every `sms_every`-th one."""
    numbers = []
    with rt.db.transaction() as session:
        for i in range(count):
            by_sms = sms_every and i % sms_every == 0
            citizen = Citizen(
                channel="sms" if by_sms else "telegram",
                address=f"+336{10_000_000 + i}" if by_sms else str(700_000_000 + i),
                display_name=f"Citoyen {i}",
                language="fr" if i % 4 else "en",
            )
            session.add(citizen)
            report = make_report(session, "lampadaire", lat=48.12, lon=-1.21)
            session.flush()
            session.add(Follower(report_id=report.id, citizen_id=citizen.id, is_author=True))
            numbers.append(report.id)
    return numbers


@contextlib.contextmanager
def database(tmp: str, postgres: bool):
    """A fresh SQLite file, or a throwaway PostgreSQL cluster (tests/pg.py)."""
    if not postgres:
        yield f"sqlite:///{tmp}/delivery.db"
        return
    from tests.pg import PostgresCluster, find_bindir

    cluster = PostgresCluster(find_bindir()).start()
    try:
        yield cluster.create_database("delivery")
    finally:
        cluster.destroy()


def runtime(url: str, api: FakeTelegramAPI, twilio: FakeTwilioAPI | None = None) -> Runtime:
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
    sms = {} if twilio is None else {
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": "+33700000000",
        "TWILIO_API_BASE_URL": twilio.base_url,
        "PUBLIC_BASE_URL": "https://webleads.example.org",
    }  # fmt: skip
    settings = load_settings(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "GEOCODER": "none",
            "TELEGRAM_BOT_TOKEN": api.bot_kwargs["token"],
            "TELEGRAM_WEBHOOK_SECRET": "s",
            "TELEGRAM_API_BASE_URL": api.base_url,
            **sms,
        },
        dotenv=False,
    )
    return Runtime(settings=settings, db=db, catalog=CatalogCache(), geocoder=NoGeocoder())


def resolve_all(rt: Runtime, numbers: list[int]) -> int:
    """Moves every report on (one personalised notice per follower); returns how many."""
    for number in numbers:
        with rt.db.transaction() as session:
            reports.change_status(
                session, number, "in_progress", message="Une équipe intervient cette semaine."
            )
    with rt.db.reading() as session:
        return sum(len(messages_for_report(session, n)) for n in numbers)


def say(rt: Runtime, chat: str, text: str) -> None:
    handle(Inbound("telegram", chat, external_id=uuid.uuid4().hex, text=text), rt)


def broadcast(args) -> None:
    from webhooks.telegram.sender import TelegramSender

    with tempfile.TemporaryDirectory() as tmp, database(tmp, args.postgres) as url, \
            FakeTelegramAPI() as api:  # fmt: skip
        rt = runtime(url, api)
        queued = resolve_all(rt, prepare(rt, args.messages))
        worker = OutboxWorker(rt, {"telegram": TelegramSender(rt.settings, rt.db)})
        worker.run_once()  # warm up the client (connection, event loop) on the first batch
        api.reset()
        api.enforce_limits(global_per_second=LIMIT, per_chat_per_second=1)
        start = time.perf_counter()
        while api.accepted < queued - 50:
            if worker.run_once() == 0:
                time.sleep(0.05)
        elapsed = time.perf_counter() - start
        rate = api.accepted / elapsed
        print(
            f"{api.accepted} messages to distinct chats in {elapsed:.1f} s: {rate:.2f}/s = "
            f"{rate / LIMIT:.1%} of Telegram's {LIMIT:.0f}/s; 429 answers: {api.rejected_429}"
        )
        rt.db.dispose()


def to_chat(chat: str):
    return lambda params: str(params.get("chat_id")) == chat


def flood(args) -> None:
    """A new citizen's first answer while one sender's flood and a broadcast are queued."""
    from webhooks.sms.sender import SmsSender
    from webhooks.telegram.sender import TelegramSender

    flooder, newcomer = "666000666", "700100200"
    with tempfile.TemporaryDirectory() as tmp, database(tmp, args.postgres) as url, \
            FakeTelegramAPI() as api, FakeTwilioAPI() as sms:  # fmt: skip
        rt = runtime(url, api, sms)
        notices = resolve_all(rt, prepare(rt, args.notices, sms_every=args.sms_every))
        for i in range(args.flood):
            say(rt, flooder, f"spam {i} " + "x" * (i % 40))
        with rt.db.reading() as session:
            queued = session.execute(
                text("SELECT count(*) FROM outbox WHERE status = 'queued'")
            ).scalar()
        senders = {"telegram": TelegramSender(rt.settings, rt.db), "sms": SmsSender(rt)}
        worker = OutboxWorker(rt, senders)  # the channels' own limits (SMS: 1/s)
        api.enforce_limits(global_per_second=LIMIT, per_chat_per_second=1)
        stop = threading.Event()
        running = threading.Thread(target=worker.run_forever, args=(stop, 0.05))
        running.start()
        time.sleep(args.arrives)  # the worker is busy with the backlog when the citizen writes
        before = len(api.sent_messages()) + len(sms.messages)
        start = time.perf_counter()
        say(rt, newcomer, "/start")
        try:
            api.wait_for("sendMessage", timeout=args.give_up, predicate=to_chat(newcomer))
            answer = f"{time.perf_counter() - start:.1f} s"
        except TimeoutError:
            answer = f"none within {args.give_up:.0f} s"
        sent = len(api.sent_messages()) + len(sms.messages) - before
        stop.set()
        rt.outbox_ready.set()
        running.join(60)
        print(
            f"{'PostgreSQL' if args.postgres else 'SQLite'}: {args.flood} messages from one "
            f"Telegram sender and {notices} status notices (1 in {args.sms_every} by SMS at "
            f"1/s): {queued} messages queued; a new citizen's /start, "
            f"{args.arrives:.0f} s later, answered in {answer} "
            f"({sent} other messages sent meanwhile; "
            f"{len(api.sent_messages(flooder))} to the flooder in all)"
        )
        rt.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", choices=("broadcast", "flood"), default="broadcast")
    parser.add_argument("--messages", type=int, default=3000, help="broadcast's size")
    parser.add_argument("--flood", type=int, default=600, help="the flooder's messages")
    parser.add_argument("--notices", type=int, default=300, help="notices queued in a flood")
    parser.add_argument("--sms-every", type=int, default=3, help="every Nth notice by SMS")
    parser.add_argument("--arrives", type=float, default=3.0, help="seconds into the run")
    parser.add_argument("--give-up", type=float, default=120.0, help="seconds")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # a flood's cancelled replies: one line each
    {"broadcast": broadcast, "flood": flood}[args.scenario](args)


if __name__ == "__main__":
    main()
