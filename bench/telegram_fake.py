"""Benchmark: the latency of one Bot API call to the local stand-in (tests/fakes/telegram_api.py).

python-telegram-bot sends sequential sendMessage calls on one keep-alive connection; each
should cost a millisecond or two. About 40 ms a call means Nagle's algorithm and a delayed
ACK are back (the stand-in must set TCP_NODELAY and write each response at once; the test
`test_an_answer_leaves_at_once_in_one_write_without_nagle` checks both without a clock).

    python bench/telegram_fake.py [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Bot

from tests.fakes.telegram_api import FakeTelegramAPI

TOKEN = "123456789:AAH-fake_token_for_bench_0123456789ab"
CHAT = 3527065


async def sequential_sends(fake: FakeTelegramAPI, calls: int) -> float:
    """Sends `calls` messages one after the other; returns the seconds they took."""
    async with Bot(**fake.bot_kwargs) as bot:
        await bot.send_message(CHAT, "warm-up")
        started = time.perf_counter()
        for n in range(calls):
            await bot.send_message(CHAT, f"message {n}")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    with FakeTelegramAPI(TOKEN) as fake:
        elapsed = asyncio.run(sequential_sends(fake, args.calls))
    print(f"{args.calls} sequential send_message: {elapsed / args.calls * 1000:.2f} ms per call")


if __name__ == "__main__":
    main()
