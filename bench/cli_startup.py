"""How long `webleads` commands take to start, against `python -c pass` in the same run.

    .venv/bin/python bench/cli_startup.py [--runs 5]

Builds a throwaway SQLite demo town (init-db, seed-demo), then times `webleads --help`
and `webleads report set-status` (wall clock and CPU of the child, best of N runs). The
machine may be shared: the ratio against a bare interpreter measured alongside is the
figure to compare between runs and machines. It also says whether the geocoder notice
was printed (it should not be: no command here looks up an address).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEBLEADS = [sys.executable, "-c", "from app.cli import main; main()"]
NOTICE = "GEOCODER is not set"


def timed(argv: list[str], env: dict) -> tuple[float, float, str]:
    """Runs argv once; returns (wall seconds, CPU seconds of the child, its stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv[3:])} failed:\n{done.stdout}{done.stderr}")
    return wall, cpu, done.stderr


def best(argv: list[str], env: dict, runs: int) -> tuple[float, float, bool]:
    results = [timed(argv, env) for _ in range(runs)]
    return (
        min(r[0] for r in results),
        min(r[1] for r in results),
        any(NOTICE in r[2] for r in results),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite:///{Path(folder, 'bench.db')}",
            "MEDIA_DIR": str(Path(folder, "media")),
        }
        env.pop("GEOCODER", None)
        for setup in (["init-db"], ["seed-demo"]):
            timed([*WEBLEADS, *setup], env)
        # Two statuses in turn, so that every run is a real change that queues a message.
        flip = ["in_progress", "acknowledged"]
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "webleads --help": [*WEBLEADS, "--help"],
        }
        print(f"best of {runs} runs; wall clock, CPU; ratio of wall clock to python -c pass")
        base = None
        for label, argv in cases.items():
            wall, cpu, notice = best(argv, env, runs)
            base = base or wall
            print(f"{label:34} {wall:6.2f} s {cpu:6.2f} s CPU  x{wall / base:5.1f}"
                  f"{'  (geocoder notice printed)' if notice else ''}")  # fmt: skip
        results = []
        for n in range(runs):
            argv = [*WEBLEADS, "report", "set-status", "1005", flip[n % 2], "--message", "x"]
            results.append(timed(argv, env))
        wall, cpu = min(r[0] for r in results), min(r[1] for r in results)
        notice = any(NOTICE in r[2] for r in results)
        print(f"{'webleads report set-status':34} {wall:6.2f} s {cpu:6.2f} s CPU  "
              f"x{wall / base:5.1f}{'  (geocoder notice printed)' if notice else ''}")  # fmt: skip


if __name__ == "__main__":
    main()
