"""Benchmark: the Telegram webhook under load, against a bare reference, and reply latency.

(b) Throughput: gunicorn with as many sync workers as cores serves the real app
(`app.factory:create_app()`); wrk posts realistic Telegram updates (a first "bonjour", then
more messages, from thousands of distinct chats, each with its own update_id) to
/webhooks/telegram. The reference is bench/reference_app.py in the same gunicorn setup:
it parses the same body and does one select, one update, one insert and one commit on
the same database. Runs alternate (reference, webhook, reference, webhook); the best of
each is kept. Each app's processes are left to settle (idle, their start-up work done)
before the load starts; the replies the last run queued are marked sent, as the worker
would have sent them, and the database's upkeep is done (replies_sent). Prints
requests/s, p50 and p99 latency, errors, each app's CPU per request and the rest of the
machine's, and the ratios: of the bests, and round by round (each webhook run to the
reference run just before it) with their median and spread; then every run's requests/s.
`--before PATH` runs another checkout's webhook (e.g. the code before a change,
`git archive main | tar -x -C PATH`) in the same rounds, after the reference.

(c) Latency to the citizen: with `webleads worker` running beside gunicorn, updates are
posted one at a time from new chats; the time from the POST to the reply reaching the
(local stand-in) Bot API is measured. Prints p50 and p99.

(d) Slow services (bench/slow_services.py): the same webhook while the geocoder (a real
addok) answers after 1.5 s and Telegram's files take 2 s to download, beside a normal run
of the same load. Prints the plain citizens' webhook p50/p99 in both runs and the ratio,
the typists' and photographer's own webhooks, and the time from a typed address to the
bot's question. `--app-root PATH` measures another checkout (e.g. the code before a
change, extracted with `git archive HEAD | tar -x -C PATH`) with this venv.

Needs wrk (apt-get install wrk) for (b), redis-server and addok for (d). On SQLite and on
PostgreSQL (a throwaway cluster).

    python bench/webhook.py [--seconds N] [--rounds 2] [--only sqlite|postgres]
        [--only-measure throughput|latency|slow] [--app-root PATH] [--before PATH]
        [--town 5000]

--town is the number of citizens who wrote before the throughput load (default 5,000, with
their conversations and messages, then ANALYZE): a town that has been running. `--town 0`
starts from the demo's few rows, as a town's first minutes (see bench/town.py).

--seconds is wrk's duration (default 10) and the slow measure's per run (default 15).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.seed import seed_demo  # noqa: E402
from bench import slow_services  # noqa: E402
from bench.processes import free_port  # noqa: E402
from bench.town import grow_town, tidy  # noqa: E402
from models import migrate  # noqa: E402
from models.db import Database, utcnow  # noqa: E402
from models.messaging import QUEUED, SENT, Outbox  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402

SECRET = "bench-secret"
BIN = Path(sys.executable).parent

WRK_SCRIPT = """
local counter = 0
local base = 0
local texts = {"bonjour", "1", "Un trou profond devant la boulangerie", "passer", "#1001"}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  -- Every run and every thread has its own update_ids: no redelivery in the load.
  base = __BASE__ + id * 100000000
  math.randomseed(__BASE__ + id)
end
request = function()
  counter = counter + 1
  local chat = 100000 + math.random(1, 5000)
  local text = texts[(counter % #texts) + 1]
  local body = string.format('{"update_id": %d, "message": {"message_id": %d, ' ..
    '"date": 1764100000, "chat": {"id": %d, "type": "private", "first_name": "Camille"}, ' ..
    '"from": {"id": %d, ' ..
    '"is_bot": false, "first_name": "Camille", "language_code": "fr"}, "text": "%s"}}',
    base + counter, counter, chat, chat, text)
  return wrk.format("POST", "/webhooks/telegram", {
    ["Content-Type"] = "application/json",
    ["X-Telegram-Bot-Api-Secret-Token"] = "%s"}, body)
end
""".replace('%s"}, body)', SECRET + '"}, body)')


def wait_http(port: int, path: str = "/healthz", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def start_gunicorn(app: str, env: dict, port: int, root: Path = ROOT) -> subprocess.Popen:
    workers = os.cpu_count() or 2
    return subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        env={**env, "PYTHONPATH": str(root)},
        cwd=root,
    )


def _cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its children (gunicorn's master, workers)."""
    total, pending = 0.0, [pid]
    while pending:
        pid = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            pending += [int(child) for child in children]
    return total


def _machine_cpu_seconds() -> float:
    """CPU time the whole machine spent busy so far (every process, the kernel too)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def settle(pid: int, timeout: float = 20.0) -> None:
    """Waits until the app's processes are idle before the load starts: the first worker
    answering does not mean the others have booted, nor that work a worker does once at
    start (the webhook app warms its free-text reader, 1-3 s of CPU) is done. Every app
    (the reference too) is measured settled, as a long-running server is."""
    deadline = time.monotonic() + timeout
    used = _cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _cpu_seconds(pid)
        if now - used < 0.05:
            return
        used = now


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_wrk(port: int, seconds: int, script: Path) -> dict:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c8",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/webhooks/telegram",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1))
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def factory_of(root: Path) -> str:
    """The app factory of a checkout: `app.factory` since the composition root left `bot/`."""
    return (
        "app.factory:create_app()"
        if (root / "app" / "factory.py").exists()
        else "bot.app:create_app()"
    )


def throughput(
    label: str, env: dict, seconds: int, rounds: int, script: Path, before: Path | None = None
) -> None:
    """Alternates the reference and the webhook (and the webhook of `before`, another
    checkout, when given) `rounds` times; prints the best of each and every round's ratio
    to the reference run just before it, so the spread shows how noisy the machine is."""
    apps = [("reference", "bench.reference_app:create_app()", ROOT)]
    if before is not None:
        apps.append(("before", factory_of(before), before))
    apps.append(("webhook", "app.factory:create_app()", ROOT))
    best: dict[str, dict] = {}
    rates: dict[str, list[dict]] = {}
    ratios: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in apps[1:]}
    runs = 0
    for _ in range(rounds):
        for name, app, root in apps:
            replies_sent(env["DATABASE_URL"])
            port = free_port()
            proc = start_gunicorn(app, env, port, root)
            runs += 1
            script.write_text(WRK_SCRIPT.replace("__BASE__", str(runs * 10**12)))
            try:
                wait_http(port, "/" if name == "reference" else "/healthz")
                settle(proc.pid)
                app_cpu, all_cpu = _cpu_seconds(proc.pid), _machine_cpu_seconds()
                result = run_wrk(port, seconds, script)
                done = result["rps"] * seconds
                result["app_ms"] = (_cpu_seconds(proc.pid) - app_cpu) / done * 1000
                result["rest_ms"] = (_machine_cpu_seconds() - all_cpu) / done * 1000 - result[
                    "app_ms"
                ]
            finally:
                stop(proc)
            if name == "reference":
                ref = result
            else:
                ratios[name].append((result["rps"] / ref["rps"], result["p99"] / ref["p99"]))
            rates.setdefault(name, []).append(result)
            if name not in best or result["rps"] > best[name]["rps"]:
                best[name] = result
    for name, _, _ in apps:
        r = best[name]
        print(
            f"{label:10} {name:9} {r['rps']:7.0f} req/s  p50 {r['p50']:6.2f} ms  "
            f"p99 {r['p99']:6.2f} ms  errors {r['errors']} {r['socket_errors']}  CPU per "
            f"request: app {r['app_ms']:.2f} ms, the rest (database, wrk, kernel) "
            f"{r['rest_ms']:.2f} ms"
        )
    for name, _, _ in apps[1:]:
        real, ref = best[name], best["reference"]
        rps = [r for r, _ in ratios[name]]
        p99 = [p for _, p in ratios[name]]
        print(
            f"{label:10} {name}/reference: {real['rps'] / ref['rps']:.1%} of the requests/s, "
            f"p99 x{real['p99'] / ref['p99']:.2f} (best of each); round by round: "
            f"median {statistics.median(rps):.1%} [{min(rps):.1%}..{max(rps):.1%}], p99 median "
            f"x{statistics.median(p99):.2f} [x{min(p99):.2f}..x{max(p99):.2f}]"
        )
        each = ", ".join(f"{r:.0%}/x{p:.2f}" for r, p in ratios[name])
        print(f"{label:10} {name} rounds: {each}")
    for name, _, _ in apps:
        runs = ", ".join(
            f"{r['rps']:.0f} ({r['app_ms']:.2f}/{r['rest_ms']:.2f})" for r in rates[name]
        )
        print(f"{label:10} {name} run by run, req/s (CPU ms per request: app/rest): {runs}")


def replies_sent(url: str) -> None:
    """The replies the last run queued, sent, as the town's worker sends them within the
    second: the webhook alone runs here, and without this, by the third round each of the
    load's chats has ten replies waiting and every message cancels the oldest. Then the
    database's own upkeep (bench/town.py `tidy`), so that it does not fall in a run."""
    db = Database(url)
    with db.transaction() as session:
        session.execute(
            update(Outbox)
            .where(Outbox.status == QUEUED)
            .values(status=SENT, attempts=1, sent_at=utcnow())
        )
    tidy(db)
    db.dispose()


def latency(label: str, env: dict, api: FakeTelegramAPI, count: int = 150) -> None:
    port = free_port()
    web = start_gunicorn("app.factory:create_app()", env, port)
    worker = subprocess.Popen(
        [str(BIN / "webleads"), "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(port)
        time.sleep(1.0)  # the worker's start-up
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        took = []
        for i in range(count):
            chat = 900_000 + i
            body = json.dumps(
                {
                    "update_id": 5_000_000 + i,
                    "message": {
                        "message_id": 1,
                        "date": 1764100000,
                        "text": "bonjour",
                        "chat": {"id": chat, "type": "private", "first_name": "Léa"},
                        "from": {"id": chat, "is_bot": False, "first_name": "Léa"},
                    },
                }
            )
            start = time.perf_counter()
            conn.request(
                "POST",
                "/webhooks/telegram",
                body,
                {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
            # The reply is awaited before the webhook's own answer is read: the time is
            # to the citizen's reply, not to the HTTP response.
            api.wait_for(
                "sendMessage",
                predicate=lambda p, c=chat: str(p.get("chat_id")) == str(c),
                timeout=10,
            )
            took.append((time.perf_counter() - start) * 1000)
            conn.getresponse().read()
            time.sleep(0.1)  # 10 updates/s: 20 replies/s, under Telegram's 30/s
        took.sort()
        print(
            f"{label:10} webhook -> reply at the Bot API: p50 {statistics.median(took):.1f} ms, "
            f"p99 {took[int(len(took) * 0.99) - 1]:.1f} ms ({count} messages, worker in its "
            "own process)"
        )
    finally:
        stop(worker)
        stop(web)


def prepared(url: str, town: int = 0) -> str:
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
    grow_town(db, town)
    db.dispose()
    return url


def bench(label: str, new_database, args, script: Path, addok) -> None:
    """Runs the measures asked for, each on a fresh database (the load leaves a long outbox)."""
    if args.only_measure in (None, "throughput", "latency"):
        classic(label, new_database, args, script)
    if args.only_measure in (None, "slow"):
        slow_services.measure(label, new_database, args, addok)


def classic(label: str, new_database, args, script: Path) -> None:
    """The throughput (b) and latency (c) measures."""
    seconds, rounds = args.seconds or 10, args.rounds
    with FakeTelegramAPI() as api:
        env = {
            **os.environ,
            "SECRET_KEY": "bench",
            "GEOCODER": "none",
            "TELEGRAM_BOT_TOKEN": api.bot_kwargs["token"],
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "PYTHONPATH": str(ROOT),
        }
        if args.only_measure in (None, "throughput"):
            url = prepared(new_database("load"), args.town)
            throughput(label, {**env, "DATABASE_URL": url}, seconds, rounds, script, args.before)
        if args.only_measure in (None, "latency"):
            latency(label, {**env, "DATABASE_URL": prepared(new_database("latency"))}, api)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--only-measure", choices=["throughput", "latency", "slow"])
    parser.add_argument(
        "--before", type=Path, help="another checkout's webhook, run in the same rounds"
    )
    parser.add_argument(
        "--town",
        type=int,
        default=5000,
        help="citizens who wrote before the load (0: the demo's few rows, a new town)",
    )
    slow_services.add_arguments(parser)
    args = parser.parse_args()
    if args.app_root and args.only_measure != "slow":
        sys.exit("--app-root applies to the slow measure: add --only-measure slow")
    args.slow_seconds = args.seconds or 15
    if args.only_measure in (None, "throughput") and shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        script = Path(tmp) / "updates.lua"
        if args.only_measure in (None, "throughput"):
            print(
                f"gunicorn, {os.cpu_count()} sync workers; wrk -t2 -c8 for "
                f"{args.seconds or 10} s; {args.rounds} alternating rounds; a town of "
                f"{args.town} citizens who wrote before"
                + (f" (before: {args.before})" if args.before else "")
            )
        addok = None
        if args.only_measure in (None, "slow"):
            print(slow_services.describe(args))
            addok = stack.enter_context(slow_services.geocoder())
        if args.only in (None, "sqlite"):
            bench("SQLite", lambda name: f"sqlite:///{tmp}/{name}.db", args, script, addok)
        if args.only in (None, "postgres"):
            from tests.pg import PostgresCluster, find_bindir

            bindir = find_bindir()
            if bindir is None:
                print("PostgreSQL: skipped (no initdb/pg_ctl)")
                return
            cluster = PostgresCluster(bindir).start()
            try:
                bench("PostgreSQL", cluster.create_database, args, script, addok)
            finally:
                cluster.destroy()


if __name__ == "__main__":
    main()
