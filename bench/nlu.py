"""Benchmark: the free-text reader on bench/data/nlu_eval.tsv, and the conversation it
saves on SMS, walked through the real engine.

The evaluation set (312 messages written as Vitré's residents write to the mairie: SMS
spelling, no accents, typos, emojis, polite letters, 10 % English, 25 non-reports, 20
emergencies, half naming a place) is kept apart from the shipped training examples
(services/nlu/data/examples_*.tsv). A SQLite database is migrated and seeded with the
demo town (its BAN addresses, GEOCODER=local); then:

- the reader: top-1 and top-3 category, place found and right, non-reports taken for
  reports, emergencies answered, false alarms, the guess's latency (p50/p99), and the
  webhook's (engine.handle for a first message, the guess inside) p50/p99;
- the conversation on SMS: a citizen who answers truthfully (yes to a right guess,
  "another category" and the right one otherwise, PASSER for the photo, the street when
  asked, yes to the address, 1 to send) files every report message twice: from the
  sentence (today's product) and from a greeting (the menu flow before it: the first
  message was never read). Messages sent until the report is filed, median and worst.
  Non-reports must file nothing; every emergency must get the numbers first.

    python bench/nlu.py [--limit N] [--confusion]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from app.factory import create_app
from app.seed import seed_demo
from bot.engine import handle
from models import migrate
from models.db import Database
from services.nlu import evaluate, reader
from services.nlu.classifier import EMERGENCY, NONE
from services.types import Inbound
from tests.helpers import TalkingCitizen

EVAL_FILE = Path(__file__).parent / "data" / "nlu_eval.tsv"
MOST_EXCHANGES = 15
ANY_ADDRESS = "3 rue de Paris"
# engine.handle's time for a first message: read as a sentence (False), a greeting (True)
FIRST_MESSAGE: dict[bool, list[float]] = {}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def make_runtime(folder: Path):
    url = f"sqlite:///{folder / 'bench.db'}"
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
    db.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench",
                      "MEDIA_DIR": str(folder / "media"), "GEOCODER": "local",
                      "PUBLIC_BASE_URL": "https://webleads.example.org"})  # fmt: skip
    return app.extensions["webleads"]


def number_of(choices, value: str) -> str:
    values = [v for v, _ in choices]
    return str(values.index(value) + 1)


def walk(rt, sender: str, first: str, row: evaluate.Labelled) -> int | None:
    """Messages the citizen sends until the report is filed (None: never filed)."""
    citizen = TalkingCitizen(rt, sender, channel="sms", name=None)
    started = time.perf_counter()
    handle(Inbound("sms", sender, f"first-{sender}", text=first), rt)
    FIRST_MESSAGE.setdefault(first == "bonjour", []).append(time.perf_counter() - started)
    replies = citizen.new_messages()
    sent, asked_where = 1, False
    while sent < MOST_EXCHANGES:
        state = citizen.state
        last = replies[-1] if replies else None
        choices = next((r.choices for r in reversed(replies) if r.choices), [])
        if state == "idle":
            filed = any(re.search(r"#\d+", r.text) for r in replies)
            with rt.db.transaction() as session:  # not "nearby" the next walk's report
                session.execute(text("UPDATE report SET hidden = true"))
            return sent if filed else None
        if state == "guess":
            guessed = (citizen.conversation.draft.get("guess") or {}).get("ranked", [[None]])
            answer = "oui" if guessed[0][0] == row.category else "2"
        elif state in ("guess_pick", "menu"):
            wanted = f"cat:{row.category}"
            values = [v for v, _ in choices]
            if wanted in values:
                answer = number_of(choices, wanted)
            elif "guess:more" in values:
                answer = number_of(choices, "guess:more")
            else:
                answer = number_of(choices, "idea")  # the menu's idea entry
        elif state == "description":
            answer = row.text
        elif state == "photo":
            answer = "passer"
        elif state == "location":
            # the street named, then (not found: a landmark the BAN lacks) another address
            answer = row.street if row.street and not asked_where else ANY_ADDRESS
            asked_where = True
        elif state == "location_confirm":
            answer = "1"
        elif state == "nearby":
            answer = number_of(choices, "no")
        elif state == "confirm":
            answer = "1"
        else:
            raise RuntimeError(f"unexpected state {state}: {last}")
        replies = citizen.say(answer)
        sent += 1
    print(f"  not filed: {first!r} ({row.category}), stuck at {citizen.state}")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="Only the first N messages.")
    parser.add_argument("--confusion", action="store_true", help="Print the confusion.")
    args = parser.parse_args()
    rows = evaluate.read_labelled(EVAL_FILE)
    if args.limit:
        rows = rows[: args.limit]
    with tempfile.TemporaryDirectory() as folder:
        rt = make_runtime(Path(folder))
        with rt.db.reading() as session:
            catalog = rt.catalog.get(session)
            started = time.perf_counter()
            the_reader = reader.reader(session, catalog)
            warm = time.perf_counter() - started
            scores = evaluate.Scores()
            latencies = []
            for row in rows:
                started = time.perf_counter()
                reading = reader.read(session, catalog, row.text)
                latencies.append(time.perf_counter() - started)
                evaluate.add(scores, row, reading)
        del the_reader
        figures = scores.as_dict()
        print(f"Evaluation set: {len(rows)} messages ({EVAL_FILE.name})")
        print(f"Model trained from the shipped examples in {warm:.2f} s (first use)")
        print(f"{'top-1 category':<40} {figures['top1']:>8.1%}   goal >= 90 %")
        print(f"{'top-3 category':<40} {figures['top3']:>8.1%}   goal >= 98 %")
        print(f"{'place found (of those naming one)':<40} {figures['place_found']:>8.1%}")
        print(f"{'place right (of those naming one)':<40} {figures['place_right']:>8.1%}"
              "   goal >= 90 %")  # fmt: skip
        print(f"{'sure (one question)':<40} {figures['sure']:>8.1%}"
              f"   of which right {figures['sure_right']:.1%}")  # fmt: skip
        print(f"{'non-reports taken for a report':<40} "
              f"{scores.non_reports_taken:>4}/{scores.non_reports:<3}   goal 0")  # fmt: skip
        print(f"{'emergencies answered (the reader)':<40} "
              f"{scores.emergencies_answered:>4}/{scores.emergencies:<3}   goal all")  # fmt: skip
        print(f"{'reports answered as emergencies':<40} {scores.false_alarms:>8}")
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(f"{'guess latency p50 / p99':<40} {p50 * 1000:>6.1f} / {p99 * 1000:.1f} ms")
        if args.confusion:
            for line in evaluate.confusion_lines(scores):
                print("  " + line)
        conversation(rt, rows)
        rt.db.dispose()


def conversation(rt, rows: list[evaluate.Labelled]) -> None:
    """Walks every message through the engine on SMS, sentence first and menu first."""
    sentence, menu = [], []
    reports = [row for row in rows if row.category not in (NONE, EMERGENCY)]
    filed_by_mistake = answered = emergencies = 0
    for n, row in enumerate(rows):
        sender = f"+3361{n:07d}"
        if row.category == NONE:
            citizen = TalkingCitizen(rt, sender, channel="sms", name=None)
            replies = citizen.say(row.text)
            filed_by_mistake += citizen.state != "menu" or not replies
            continue
        if row.category == EMERGENCY:
            emergencies += 1
            citizen = TalkingCitizen(rt, sender, channel="sms", name=None)
            replies = citizen.say(row.text)
            answered += bool(replies) and "112" in replies[0].text
            continue
        sentence.append(walk(rt, sender, row.text, row))
        menu.append(walk(rt, sender.replace("+3361", "+3362"), "bonjour", row))
    done_sentence = [n for n in sentence if n is not None]
    placed = [n for n, row in zip(sentence, reports, strict=True) if row.street and n is not None]
    done_menu = [n for n in menu if n is not None]
    print(f"SMS walks through the engine: {len(sentence)} reports")
    print(f"{'messages per report, from the sentence':<40} median "
          f"{statistics.median(done_sentence):.0f}, worst {max(done_sentence)}, "
          f"<= 3: {sum(n <= 3 for n in done_sentence) / len(sentence):.0%}"
          f"   goal median <= 3")  # fmt: skip
    if placed:
        print(f"{'  of those naming a place':<40} median {statistics.median(placed):.0f}, "
              f"<= 3: {sum(n <= 3 for n in placed) / len(placed):.0%}")  # fmt: skip
    print(f"{'messages per report, the menu flow':<40} median "
          f"{statistics.median(done_menu):.0f}, worst {max(done_menu)}")  # fmt: skip
    print(f"{'reports not filed (sentence / menu)':<40} "
          f"{len(sentence) - len(done_sentence)} / {len(menu) - len(done_menu)}")  # fmt: skip
    print(f"{'non-reports filed (engine, SMS)':<40} {filed_by_mistake:>8}   goal 0")
    print(f"{'emergencies answered first (engine)':<40} {answered:>4}/{emergencies:<3}   goal all")
    for greeting, label in ((False, "a sentence"), (True, "a greeting")):
        times = FIRST_MESSAGE.get(greeting, [])
        p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
        print(f"{'engine.handle, first message: ' + label:<40} {p50 * 1000:>6.1f} / "
              f"{p99 * 1000:.1f} ms (p50 / p99)")  # fmt: skip


if __name__ == "__main__":
    main()
