"""Benchmark: a broadcast of status updates to distinct Telegram chats, under the limits.

3,000 reports, each followed by a different Telegram citizen, are resolved at once; the
outbox worker (the real TelegramSender, python-telegram-bot) delivers the 3,000
personalised messages to a local Bot API stand-in that ENFORCES Telegram's limits (30
messages/s overall, 1/s per chat: any excess gets a real 429 with retry_after).

Prints the achieved messages/s as a share of the 30/s limit, and how many 429s came back
(the aim: 95 % or more of the limit, zero 429s).

    python bench/delivery.py [--messages 3000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.outbox import OutboxWorker
from bot.seed import seed_demo
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
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.helpers import make_report

LIMIT = 30.0


def prepare(rt: Runtime, count: int) -> list[int]:
    """Creates `count` reports, each followed by its own Telegram citizen."""
    numbers = []
    with rt.db.transaction() as session:
        for i in range(count):
            citizen = Citizen(
                channel="telegram",
                address=str(700_000_000 + i),
                display_name=f"Citoyen {i}",
                language="fr" if i % 4 else "en",
            )
            session.add(citizen)
            report = make_report(session, "lampadaire", lat=48.12, lon=-1.21)
            session.flush()
            session.add(Follower(report_id=report.id, citizen_id=citizen.id, is_author=True))
            numbers.append(report.id)
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeTelegramAPI() as api:
        url = f"sqlite:///{tmp}/delivery.db"
        db = Database(url)
        migrate.upgrade(db.engine)
        with db.transaction() as session:
            seed_demo(session)
        settings = load_settings(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench",
                "GEOCODER": "none",
                "TELEGRAM_BOT_TOKEN": api.bot_kwargs["token"],
                "TELEGRAM_WEBHOOK_SECRET": "s",
                "TELEGRAM_API_BASE_URL": api.base_url,
            },
            dotenv=False,
        )
        rt = Runtime(settings=settings, db=db, catalog=CatalogCache(), geocoder=NoGeocoder())
        from webhooks.telegram.sender import TelegramSender

        numbers = prepare(rt, args.messages)
        for number in numbers:  # each change queues one personalised message
            with db.transaction() as session:
                reports.change_status(
                    session, number, "in_progress", message="Une équipe intervient cette semaine."
                )
        with db.reading() as session:
            queued = sum(len(messages_for_report(session, n)) for n in numbers)
        worker = OutboxWorker(rt, {"telegram": TelegramSender(settings, db)})
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
        db.dispose()


if __name__ == "__main__":
    main()
