"""Benchmark: how long an urgent report takes to reach the on-call agent's chat under a
busy outbox.

The app (its real Telegram webhook, in process) and the worker (`run_worker`: the outbox
worker with Telegram's own limits, the job runner, the periodic loop) run against a local
Bot API stand-in that ENFORCES Telegram's limits (30 messages/s overall, 1/s per chat).
1,000 status notices to other chats are kept queued the whole time. Each of N residents,
brought to the last step of the conversation beforehand, confirms their report through the
webhook; the report is filed urgent (the stand-in for the rule that makes a category
urgent: another branch's) out of the service's hours, so the on-call agent is paged.
Prints, from the webhook's request to the page reaching the stand-in, p50 and p99
(the aim: p99 under 5 s).

    python bench/oncall.py [--reports 30] [--notices 1000] [--postgres]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.background import run_worker
from app.factory import create_app
from app.seed import seed_demo
from bench.delivery import LIMIT, database
from bot.engine import handle
from models import migrate
from models.agent import agent_by_email
from models.catalog import service_by_code
from models.citizen import Citizen
from models.db import Database
from models.messaging import PRIORITY_NOTIFICATION, queue_messages
from models.report import Priority
from services import crew_links, oncall
from services.agents import save_agent
from services.audit import Actor
from services.types import Inbound
from tests.fakes.telegram_api import FakeTelegramAPI

AGENT_CHAT = "7000301"
SECRET = "bench-secret"


def urgent_when_filed(session, report) -> None:
    """Stands in for the rule that files this category urgent (another branch's)."""
    report.priority = Priority.URGENT
    oncall.report_became_urgent(session, report)


def prepare(rt, residents: int) -> None:
    """An on-call agent with a linked Telegram chat, the service closed all day, and each
    resident at the conversation's last step."""
    with rt.db.transaction() as session:
        save_agent(session, Actor.command_line(), "paul@ville.fr", "x" * 12, "agent",
                   ["voirie"], "Paul")  # fmt: skip
        agent = agent_by_email(session, "paul@ville.fr")
        roads = service_by_code(session, "voirie")
        oncall.add_shift(session, Actor.command_line(), roads, agent, "00:00", "23:59")
        oncall.set_service_hours(session, Actor.command_line(), roads, ack_minutes=10,
                                 opens="00:00", closes="00:01")  # fmt: skip
        code = crew_links.issue_code(session, agent.id, rt.settings.SECRET_KEY)
    say(rt, AGENT_CHAT, f"/agent {code}")
    for i in range(residents):
        chat = str(600_000 + i)
        say(rt, chat, "/start")
        say(rt, chat, None, choice="cat:nid-de-poule")
        say(rt, chat, "Un trou profond devant le 12")
        say(rt, chat, None, choice="skip")
        say(rt, chat, None, location=(48.1246, -1.2082))  # then: "is this right?"


def say(rt, chat: str, text: str | None, **kwargs) -> None:
    handle(Inbound("telegram", chat, external_id=uuid.uuid4().hex, text=text, **kwargs), rt)


def keep_busy(rt, notices: int, citizens: list[int]) -> None:
    """Tops the outbox up to `notices` status notices waiting for other chats."""
    with rt.db.transaction() as session:
        from sqlalchemy import text

        waiting = session.execute(
            text("SELECT count(*) FROM outbox WHERE status = 'queued' AND priority = :p"),
            {"p": PRIORITY_NOTIFICATION},
        ).scalar()
        missing = itertools.islice(enumerate(citizens), max(notices - waiting, 0))
        rows = [{"citizen_id": cid, "channel": "telegram", "address": str(800_000 + n),
                 "payload": {"text": "Votre signalement avance."},
                 "priority": PRIORITY_NOTIFICATION} for n, cid in missing]  # fmt: skip
        queue_messages(session, rows)


def confirm_update(chat: str, update_id: int) -> dict:
    user = {"id": int(chat), "is_bot": False, "first_name": "Yann", "language_code": "fr"}
    message = {"message_id": 10, "chat": {"id": int(chat), "type": "private"}, "date": 0,
               "text": "Est-ce bien cela ?", "from": {"id": 1, "is_bot": True,
                                                       "first_name": "bot"}}  # fmt: skip
    return {"update_id": update_id, "callback_query": {"id": f"cb{update_id}", "from": user,
            "message": message, "chat_instance": "1", "data": "yes"}}  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=30)
    parser.add_argument("--notices", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    oncall.report_filed = urgent_when_filed
    with tempfile.TemporaryDirectory() as tmp, database(tmp, args.postgres) as url, \
            FakeTelegramAPI() as api:  # fmt: skip
        db = Database(url)
        migrate.upgrade(db.engine)
        with db.transaction() as session:
            seed_demo(session)
        db.dispose()
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "GEOCODER": "none",
                          "MEDIA_DIR": f"{tmp}/media", "TELEGRAM_BOT_TOKEN": api.token,
                          "TELEGRAM_WEBHOOK_SECRET": SECRET,
                          "TELEGRAM_API_BASE_URL": api.base_url})  # fmt: skip
        rt = app.extensions["webleads"]
        prepare(rt, args.reports)
        with rt.db.transaction() as session:
            others = [Citizen(channel="telegram", address=str(800_000 + n))
                      for n in range(args.notices * 3)]  # fmt: skip
            session.add_all(others)
            session.flush()
            citizens = [c.id for c in others]
        api.reset()
        api.enforce_limits(global_per_second=LIMIT, per_chat_per_second=1)
        stop = threading.Event()
        worker = threading.Thread(target=run_worker, args=(rt, stop), daemon=True)
        worker.start()
        client = app.test_client()
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        waits, offset = [], 0
        for i in range(args.reports):
            keep_busy(rt, args.notices, citizens[offset:])
            offset += args.notices
            offset %= len(citizens) - args.notices
            time.sleep(1.2)  # the agent's chat takes 1 message/s: one page at a time
            paged = len(api.sent_messages(AGENT_CHAT))
            start = time.perf_counter()
            body = json.dumps(confirm_update(str(600_000 + i), 900_000 + i))
            answer = client.post("/webhooks/telegram", data=body, headers=headers,
                                 content_type="application/json")  # fmt: skip
            assert answer.status_code == 200, answer.status_code
            while len(api.sent_messages(AGENT_CHAT)) <= paged:  # accepted, not a 429
                if time.perf_counter() - start > 60:
                    raise TimeoutError(f"no page for resident {i} within 60 s")
                time.sleep(0.005)
            waits.append(time.perf_counter() - start)
        others_sent = len(api.sent_messages()) - len(api.sent_messages(AGENT_CHAT))
        stop.set()
        rt.outbox_ready.set()
        pages = [m["text"] for m in api.sent_messages(AGENT_CHAT)]
        assert sum(t.startswith("URGENT") for t in pages) == args.reports, pages[-3:]
        print(
            f"{'PostgreSQL' if args.postgres else 'SQLite'}: {args.reports} urgent reports, "
            f"{args.notices} notices kept queued ({others_sent} sent meanwhile at Telegram's "
            f"{LIMIT:.0f}/s); webhook -> page at the Bot API: "
            f"p50 {percentile(waits, 0.5):.2f} s, p99 {percentile(waits, 0.99):.2f} s, "
            f"max {max(waits):.2f} s"
        )
        worker.join(10)
        rt.db.dispose()


if __name__ == "__main__":
    main()
