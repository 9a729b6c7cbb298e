"""The slow-services measure of bench/webhook.py: webhooks while the geocoder and media are slow.

A real addok (tests/fakes/addok_server.py, the demo town's addresses) answers behind a
SlowProxy that holds /search and /reverse for 1.5 s; the Telegram stand-in
(tests/fakes/telegram_api.py) sits behind another that holds file downloads (/file/) for
2 s. gunicorn (as many sync workers as cores) serves the app and `webleads worker` runs
in its own process, both from `app_root`, so another checkout (the code before a change)
can be measured the same way.

The load is Python threads posting Telegram updates for a fixed time:
- plain citizens: new chats saying "bonjour" and two more messages, paced so the bot's
  replies stay under Telegram's 30 messages/s (the outbox's own limit: beyond it, every
  answer would wait in a growing queue and the figures would measure that queue);
- typists: a new citizen walks to the location step (bonjour, a category button, a
  description, "passer"), waits for "Où est-ce ?", then types an address of the town
  (a different one each time: the geocoder caches what it was asked);
- a photographer: the same walk to the photo step, then a photo (2 s to download).
The same load runs twice on fresh databases: a normal run (GEOCODER=none, "passer"
instead of the photo, no delays) and the slow run. Printed: p50/p99 of the plain
webhooks in both runs and their ratio, the typists' and photographer's own webhooks,
and the time from the typed address's POST to the bot's answer reaching the stand-in.

gunicorn's sync workers close the connection after each answer; http.client opens a new
one for the next request (auto_open), as Telegram would.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processes import free_port, wait_http  # noqa: E402
from tests.fakes.addok_server import DEFAULT_DATA_FILE, AddokServer  # noqa: E402
from tests.fakes.slow_proxy import SlowProxy  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.helpers import jpeg_with_gps  # noqa: E402
from tests.telegram_support import payload  # noqa: E402

SECRET = "bench-secret"
BIN = Path(sys.executable).parent
GEOCODER_SECONDS = 1.5
DOWNLOAD_SECONDS = 2.0
TOWN_CITYCODE = "35360"  # Vitré, the demo town
# A citizen reads the question before typing the address or picking the photo; this also
# lets the outbox's pace for one chat (1 message/s, a burst of 3) refill, so the figure
# after it is the bot's and not that pace.
THINK_SECONDS = 2.0
WAIT_SECONDS = 30.0  # for a bot message that should come: far above any figure expected
PLAIN_TEXTS = ("bonjour", "1", "Un trou profond devant la boulangerie")
CATEGORY = "cat:nid-de-poule"

# Run in the measured checkout: the same database preparation as bench/webhook.py's.
PREPARE = """
import sys
from app.seed import seed_demo
from models import migrate
from models.db import Database
db = Database(sys.argv[1])
migrate.upgrade(db.engine)
with db.transaction() as session:
    seed_demo(session)
db.dispose()
"""


@dataclass
class Figures:
    """What one run measured, in milliseconds."""

    plain: list[float] = field(default_factory=list)
    address: list[float] = field(default_factory=list)  # the typists' address webhook
    photo: list[float] = field(default_factory=list)  # the photographer's photo webhook
    steps: list[float] = field(default_factory=list)  # their other webhooks
    to_question: list[float] = field(default_factory=list)  # address POST -> bot's answer
    to_next: list[float] = field(default_factory=list)  # photo POST -> bot's next message
    to_geocoder: list[float] = field(default_factory=list)  # address POST -> addok asked
    from_geocoder: list[float] = field(default_factory=list)  # addok's answer -> question
    answers: Counter = field(default_factory=Counter)  # how the bot answered addresses
    failed: Counter = field(default_factory=Counter)  # non-200, socket errors, no answer
    seconds: float = 0.0  # how long the load ran (the last walk ends after the deadline)
    sent: int = 0  # sendMessage calls the stand-in received meanwhile (the outbox's pace)


# --- what the citizens type ------------------------------------------------


def town_addresses() -> list[str]:
    """Every house number of the demo town in addok's data, as a citizen types it."""
    found = []
    for line in DEFAULT_DATA_FILE.read_text().splitlines():
        street = json.loads(line)
        if street.get("citycode") == TOWN_CITYCODE and street.get("type") == "street":
            found += [f"{number} {street['name'].lower()}" for number in street["housenumbers"]]
    # Rue de la Poterie first (the "12 rue de la Poterie"), then the others.
    found.sort(key=lambda a: ("poterie" not in a, a))
    return found


def is_photo_prompt(text: str) -> bool:
    """The bot's question at the photo step (optional or required photo)."""
    return text.startswith(("Pouvez-vous ajouter une photo", "Une photo est nécessaire"))


# --- posting updates ------------------------------------------------------------------------


class Citizen:
    """One Telegram citizen posting updates to the webhook on its own connection."""

    def __init__(self, run: Run, conn: http.client.HTTPConnection) -> None:
        self.run = run
        self.conn = conn
        self.chat = next(run.chats)

    def sender(self) -> dict:
        return {"id": self.chat, "is_bot": False, "first_name": "Camille", "language_code": "fr"}

    def message(self, **content) -> dict:
        return {
            "update_id": next(self.run.update_ids),
            "message": {
                "message_id": next(self.run.message_ids),
                "date": int(time.time()),
                "chat": {"id": self.chat, "type": "private", "first_name": "Camille"},
                "from": self.sender(),
                **content,
            },
        }

    def press(self, data: str, message: dict) -> dict:
        update_id = next(self.run.update_ids)
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"cbq-{update_id}",
                "from": self.sender(),
                "message": message,
                "chat_instance": f"ci-{self.chat}",
                "data": data,
            },
        }

    def post(self, update: dict) -> float | None:
        """Posts one update; returns the webhook's answer time in ms (None if it failed)."""
        body = json.dumps(update)
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        started = time.perf_counter()
        try:
            self.conn.request("POST", "/webhooks/telegram", body, headers)
            response = self.conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.run.figures.failed[type(exc).__name__] += 1
            return None
        took = (time.perf_counter() - started) * 1000
        if response.status != 200:
            self.run.figures.failed[f"HTTP {response.status}"] += 1
            return None
        return took

    def say(self, text: str) -> float | None:
        return self.post(self.message(text=text))

    def sent_so_far(self) -> int:
        """The bot's sendMessage calls to this chat so far (as `wait_for` counts them)."""
        return sum(1 for m, p in self.run.api.calls if m == "sendMessage" and self.mine(p))

    def mine(self, params: dict) -> bool:
        return str(params.get("chat_id")) == str(self.chat)

    def wait_message(self, test: Callable[[dict], bool]) -> dict | None:
        """Waits for the bot's message to this chat that passes `test`."""
        try:
            [sent] = self.run.api.wait_for(
                "sendMessage",
                predicate=lambda p: self.mine(p) and test(p),
                timeout=WAIT_SECONDS,
            )
        except TimeoutError:
            self.run.figures.failed["bot message missing"] += 1
            return None
        return sent

    def watch_next(self, pool: ThreadPoolExecutor) -> Future:
        """From now, times the bot's next message to this chat: (params, perf_counter)."""
        after = self.sent_so_far()

        def arrival() -> tuple[dict, float]:
            [*_, sent] = self.run.api.wait_for(
                "sendMessage", count=after + 1, predicate=self.mine, timeout=WAIT_SECONDS
            )
            return sent, time.perf_counter()

        return pool.submit(arrival)

    def walk_to(self, step: str) -> bool:
        """Greets, presses a category, describes, up to `step`; False if the bot is silent."""
        figures = self.run.figures
        figures.steps.append(self.say("bonjour"))
        menu = self.wait_message(lambda p: CATEGORY in str(p.get("reply_markup")))
        if menu is None:
            return False
        shown = [m for m in self.run.api.chat_messages(self.chat)
                 if CATEGORY in str(m.get("reply_markup"))]  # fmt: skip
        figures.steps.append(self.post(self.press(CATEGORY, shown[-1])))
        figures.steps.append(self.say("Un trou profond sur la chaussée, dangereux à vélo"))
        if step == "photo":
            return self.wait_message(lambda p: is_photo_prompt(str(p.get("text")))) is not None
        figures.steps.append(self.say("passer"))
        return self.wait_message(lambda p: str(p.get("text")).startswith("Où est-ce")) is not None


# --- the roles --------------------------------------------------------------------------------


class Run:
    """One timed load against one gunicorn + worker."""

    def __init__(self, api: FakeTelegramAPI, port: int, slow: bool, plain_rate: float,
                 searches: dict[str, tuple[float, float]]) -> None:  # fmt: skip
        self.api = api
        self.searches = searches
        self.port = port
        self.slow = slow
        self.plain_rate = plain_rate
        self.figures = Figures()
        self.chats = itertools.count(7_000_000)
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(1)
        self.addresses: Iterator[str] = itertools.cycle(town_addresses())
        self.deadline = 0.0  # no new walk after it
        self.walks_over = threading.Event()  # the plain load runs until the last walk ends
        self.photo = payload("photo_with_caption")["message"]["photo"]
        for size in self.photo:
            api.add_file(size["file_id"], jpeg_with_gps(size["width"], size["height"]))

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def plain(self, threads: int) -> None:
        """New citizens say bonjour and two more things, at this thread's share of the rate."""
        conn, interval = self.connection(), threads / self.plain_rate
        next_at = time.monotonic()
        while not self.walks_over.is_set():
            citizen = Citizen(self, conn)
            for text in PLAIN_TEXTS:
                next_at = max(next_at + interval, time.monotonic())
                if self.walks_over.wait(max(0.0, next_at - time.monotonic())):
                    break
                took = citizen.say(text)
                if took is not None:
                    self.figures.plain.append(took)

    def typist(self) -> None:
        """Citizens who type their address at the location step."""
        conn = self.connection()
        with ThreadPoolExecutor(1) as pool:
            while time.monotonic() < self.deadline:
                citizen = Citizen(self, conn)
                if not citizen.walk_to("location"):
                    continue
                time.sleep(THINK_SECONDS)
                answer, address = citizen.watch_next(pool), next(self.addresses)
                started = time.perf_counter()
                self.figures.address.append(citizen.say(address))
                arrived = self._time_answer(answer, started, self.figures.to_question, count=True)
                if arrived is not None and address in self.searches:
                    asked, answered = self.searches[address]
                    self.figures.to_geocoder.append((asked - started) * 1000)
                    self.figures.from_geocoder.append((arrived - answered) * 1000)

    def photographer(self) -> None:
        """Citizens who send a photo at the photo step ("passer" in the normal run)."""
        conn = self.connection()
        with ThreadPoolExecutor(1) as pool:
            while time.monotonic() < self.deadline:
                citizen = Citizen(self, conn)
                if not citizen.walk_to("photo"):
                    continue
                time.sleep(THINK_SECONDS)
                answer = citizen.watch_next(pool)
                started = time.perf_counter()
                update = citizen.message(photo=self.photo) if self.slow else None
                took = citizen.post(update) if update else citizen.say("passer")
                self.figures.photo.append(took)
                self._time_answer(answer, started, self.figures.to_next)

    def _time_answer(
        self, answer: Future, started: float, into: list, count: bool = False
    ) -> float | None:
        """Records when the bot's answer arrived (and, for addresses, what it was)."""
        try:
            sent, arrived = answer.result()
        except TimeoutError:
            self.figures.failed["bot answer missing"] += 1
            return None
        into.append((arrived - started) * 1000)
        if count:
            text = str(sent.get("text"))
            self.figures.answers["Est-ce …" if text.startswith("Est-ce ") else text[:40]] += 1
        return arrived

    def warm_up(self) -> None:
        """Greets the bot from a few chats at once, so each gunicorn worker has started."""
        workers = os.cpu_count() or 2

        def greet() -> None:
            citizen = Citizen(self, self.connection())
            citizen.say("bonjour")
            citizen.wait_message(lambda p: True)

        threads = [threading.Thread(target=greet) for _ in range(2 * workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.figures = Figures()

    def load(self, seconds: float, plain: int, typists: int, photographers: int) -> Figures:
        """Starts walks for `seconds`; the plain load goes on until the last one ends."""
        self.warm_up()
        started, sent_before = time.monotonic(), len(self.api.calls_to("sendMessage"))
        self.deadline = started + seconds
        walkers = [self.typist] * typists + [self.photographer] * photographers
        walks = [threading.Thread(target=role, daemon=True) for role in walkers]
        plains = [
            threading.Thread(target=self.plain, args=(plain,), daemon=True) for _ in range(plain)
        ]
        for thread in walks + plains:
            thread.start()
        for thread in walks:
            thread.join()
        time.sleep(max(0.0, self.deadline - time.monotonic()))  # when there are no walkers
        self.walks_over.set()
        for thread in plains:
            thread.join()
        self.figures.seconds = time.monotonic() - started
        self.figures.sent = len(self.api.calls_to("sendMessage")) - sent_before
        for name in ("plain", "address", "photo", "steps"):
            values = getattr(self.figures, name)
            values[:] = [v for v in values if v is not None]
        return self.figures


# --- the processes ----------------------------------------------------------------------------


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def hush(proxy: SlowProxy) -> None:
    """No traceback when a client hangs up on the proxy (the worker stopping, a timeout)."""
    server, report_error = proxy.server, proxy.server.handle_error

    def handle_error(request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], OSError):
            report_error(request, client_address)

    server.handle_error = handle_error


def clock_searches(proxy: SlowProxy) -> dict[str, tuple[float, float]]:
    """From now, when the geocoder was asked about each address, and when it answered."""
    searches: dict[str, tuple[float, float]] = {}
    forward = proxy._forward

    def timed(handler) -> None:
        asked = time.perf_counter()
        forward(handler)
        url = urllib.parse.urlsplit(handler.path)
        if url.path.rstrip("/") == "/search":
            for q in urllib.parse.parse_qs(url.query).get("q", []):
                searches.setdefault(q, (asked, time.perf_counter()))

    proxy._forward = timed  # the proxy's handler calls it through the instance
    return searches


def prepare(url: str, env: dict, app_root: Path) -> None:
    """Migrates and seeds a fresh database with the measured checkout's own code."""
    subprocess.run([sys.executable, "-c", PREPARE, url], env=env, cwd=app_root, check=True)


@contextlib.contextmanager
def serving(env: dict, app_root: Path, logs: Path) -> Iterator[int]:
    """gunicorn (sync workers, one per core) and `webleads worker`, from `app_root`."""
    port = free_port()
    with open(logs / "gunicorn.log", "ab") as web_log, open(logs / "worker.log", "ab") as log:
        web = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(os.cpu_count() or 2),
             "--worker-class", "sync", "--bind", f"127.0.0.1:{port}",
             "--log-level", "warning", "app.factory:create_app()"],
            env=env, cwd=app_root, stdout=web_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        # `webleads` is app.cli:main (pyproject's [project.scripts]); -m runs app_root's.
        worker = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env, cwd=app_root, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_http(port, web)
            time.sleep(1.0)  # the worker's start-up
            if worker.poll() is not None:
                raise RuntimeError(f"webleads worker exited: see {logs / 'worker.log'}")
            yield port
        finally:
            stop(worker)
            stop(web)


def one_run(slow: bool, url: str, addok: AddokServer, args, app_root: Path, logs: Path) -> Figures:
    """Prepares the database, starts the stand-ins and the app, runs the load once."""
    geocoder_delays = {r"^/(search|reverse)": GEOCODER_SECONDS} if slow else {}
    file_delays = {r"^/file/": DOWNLOAD_SECONDS} if slow else {}
    with (
        FakeTelegramAPI() as api,
        SlowProxy(api.base_url, file_delays) as telegram,
        SlowProxy(addok.base_url, geocoder_delays) as geocoder,
    ):
        for proxy in (telegram, geocoder):
            hush(proxy)
        searches = clock_searches(geocoder)
        env = {
            **os.environ,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "GEOCODER": "ban" if slow else "none",
            "GEOCODER_URL": geocoder.url,
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_API_BASE_URL": telegram.url,
            "MEDIA_DIR": str(logs / "media"),
            "PYTHONPATH": str(app_root),
        }
        prepare(url, env, app_root)
        with serving(env, app_root, logs) as port:
            run = Run(api, port, slow, args.plain_rate, searches)
            return run.load(args.slow_seconds, args.plain, args.typists, args.photographers)


# --- the figures ------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (p99 of 50 values is the largest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def p50_p99(values: list[float]) -> str:
    if not values:
        return f"{'-':>22}"
    text = f"{statistics.median(values):7.1f} / {percentile(values, 0.99):7.1f} ms"
    return f"{text} n={len(values):<4}"


def ratio(normal: list[float], slow: list[float]) -> str:
    if not normal or not slow:
        return ""
    p50 = statistics.median(slow) / statistics.median(normal)
    p99 = percentile(slow, 0.99) / percentile(normal, 0.99)
    return f"x{p50:.2f} / x{p99:.2f}"


def report(label: str, normal: Figures, slow: Figures) -> None:
    rows = [
        ("plain citizens' webhooks", "plain"),
        ("typists' address webhook", "address"),
        ("photographer's photo webhook", "photo"),
        ("their other webhooks", "steps"),
        ("address POST -> bot's answer", "to_question"),
        ("photo POST -> bot's next message", "to_next"),
        ("address POST -> geocoder asked", "to_geocoder"),
        ("geocoder's answer -> bot's question", "from_geocoder"),
    ]
    print(f"{label:10} {'p50 / p99':36} {'normal run':28} {'slow services':28} slow/normal")
    for title, name in rows:
        before, after = getattr(normal, name), getattr(slow, name)
        print(f"{label:10} {title:36} {p50_p99(before)} {p50_p99(after)} {ratio(before, after)}")
    print(
        f'{label:10} (normal run: GEOCODER=none, no delays, the photographer says "passer" '
        "at the photo step)"
    )
    paces = [f"{f.sent} in {f.seconds:.1f} s ({f.sent / f.seconds:.1f}/s)" for f in (normal, slow)]
    print(
        f"{label:10} the bot's messages (the outbox keeps under 30/s): normal run {paces[0]}, "
        f"slow run {paces[1]}"
    )
    answers = ", ".join(f"{n} x {text!r}" for text, n in slow.answers.most_common())
    print(f"{label:10} the bot's answers to the addresses (slow run): {answers or 'none'}")
    for name, figures in (("normal", normal), ("slow", slow)):
        if figures.failed:
            failed = ", ".join(f"{n} x {what}" for what, n in figures.failed.items())
            print(f"{label:10} failures in the {name} run: {failed}")


def measure(label: str, new_database: Callable[[str], str], args, addok: AddokServer) -> None:
    """The normal run, then the slow run, each on a fresh database; prints both."""
    app_root = Path(args.app_root or ROOT).resolve()
    with tempfile.TemporaryDirectory(prefix="bench-slow-") as tmp:
        logs = Path(tmp)
        normal = one_run(False, new_database("slow_normal"), addok, args, app_root, logs)
        slow = one_run(True, new_database("slow_slow"), addok, args, app_root, logs)
        report(label, normal, slow)
        if normal.failed or slow.failed:
            for name in ("gunicorn.log", "worker.log"):
                tail = (logs / name).read_text(errors="replace").splitlines()[-15:]
                print(f"--- last lines of {name}:", *tail, sep="\n")


def describe(args) -> str:
    app_root = Path(args.app_root or ROOT).resolve()
    return (
        f"slow services: app from {app_root}; gunicorn {os.cpu_count()} sync workers + "
        f"`webleads worker`; {args.slow_seconds:g} s a run; {args.plain} plain threads "
        f"({args.plain_rate:g} messages/s in all), {args.typists} typists, "
        f"{args.photographers} photographer; slow run: addok +{GEOCODER_SECONDS} s on "
        f"/search and /reverse, Telegram files +{DOWNLOAD_SECONDS} s"
    )


def add_arguments(parser) -> None:
    """The slow measure's options, on bench/webhook.py's parser."""
    parser.add_argument("--app-root", help="the checkout to measure (slow measure)")
    parser.add_argument("--plain", type=int, default=4, help="plain citizen threads")
    parser.add_argument("--plain-rate", type=float, default=12.0,
                        help="messages/s of all plain threads together")  # fmt: skip
    parser.add_argument("--typists", type=int, default=2)
    parser.add_argument("--photographers", type=int, default=1)


@contextlib.contextmanager
def geocoder() -> Iterator[AddokServer]:
    """The real addok with the demo town, shared by every run."""
    ok, reason = AddokServer.available()
    if not ok:
        sys.exit(f"slow services: {reason}")
    with AddokServer() as server:
        yield server
