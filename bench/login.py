"""Benchmark: how long the console's login answers for a known and an unknown email.

A wrong password for an agent's email and any password for an email nobody has must
take the same time, or the answer's delay tells which emails are agents'. The login
form is posted in-process (Flask's test client, the real view, argon2 and database),
each attempt from its own address so the throttle stays out of the way; the median and
the 90th percentile are printed in ms, with the ratio of the medians (1.00 = same).
`--old` also times what the unknown email used to cost: no hash at all (a lookup only).

    python bench/login.py [--attempts 30] [--database-url URL]
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

from app.factory import create_app
from app.seed import seed_demo
from console.throttle import MAX_FAILURES_ACCOUNT
from models import migrate
from models.agent import agent_by_email
from models.db import Database
from services.agents import save_agent
from services.audit import Actor

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
AGENT = "lea@vitre.example"


def time_logins(app, email: str, attempts: int, first_address: int) -> list[float]:
    """Posts a wrong password for the email from fresh addresses; returns the times in ms."""
    times = []
    for n in range(attempts):
        client = app.test_client()
        address = {"REMOTE_ADDR": f"10.{first_address}.{n // 250}.{n % 250 + 1}"}
        page = client.get("/console/login", environ_base=address).get_data(as_text=True)
        form = {"email": email, "password": "not the password", "csrf_token": ""}
        form["csrf_token"] = CSRF_RE.search(page).group(1)
        started = time.perf_counter()
        response = client.post("/console/login", data=form, environ_base=address)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 401, response.status_code
    return times


def time_lookup_only(app, attempts: int) -> list[float]:
    """What an unknown email cost before: a lookup that finds nothing, and no hash."""
    rt = app.extensions["webleads"]
    times = []
    for n in range(attempts):
        started = time.perf_counter()
        with rt.db.reading() as session:
            agent_by_email(session, f"nobody{n}@vitre.example")
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=30)
    parser.add_argument("--database-url", help="a database to use (default: a new SQLite)")
    parser.add_argument("--old", action="store_true", help="also time a lookup without hash")
    args = parser.parse_args()
    if not 1 <= args.attempts <= MAX_FAILURES_ACCOUNT:
        parser.error(f"--attempts: 1 to {MAX_FAILURES_ACCOUNT} (the throttle's cap per account)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-login-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
        if agent_by_email(session, AGENT) is None:
            save_agent(session, Actor.command_line(), AGENT, "x" * 12, "agent", ["voirie"])
    db.dispose()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "GEOCODER": "none",
            "MEDIA_DIR": str(tmp / "media"),
        }
    )
    time_logins(app, "warm@vitre.example", 2, 250)  # the stand-in hash is made once
    known = summary(time_logins(app, AGENT, args.attempts, 1))
    unknown = summary(time_logins(app, "nobody@vitre.example", args.attempts, 2))
    print(f"login answer, {args.attempts} attempts each{'median ms':>24}{'p90 ms':>10}")
    print(f"  known email, wrong password{known[0]:>31.1f}{known[1]:>10.1f}")
    print(f"  unknown email{unknown[0]:>45.1f}{unknown[1]:>10.1f}")
    print(f"  ratio unknown / known (medians){unknown[0] / known[0]:>27.2f}")
    if args.old:
        old = summary(time_lookup_only(app, args.attempts))
        print(f"  before: unknown email, lookup only{old[0]:>24.1f}{old[1]:>10.1f}")
    app.extensions["webleads"].db.dispose()


if __name__ == "__main__":
    main()
