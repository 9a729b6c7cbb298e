"""A real SMTP server (aiosmtpd, Debian's python3-aiosmtpd) that keeps what it receives.

Run by the system's Python, apart from the project's venv: aiosmtpd needs atpublic, whose
module is named `public` like this product's public site. Each message is written to
DIR as NNNNNN.json ({"rcpt": [...], "data": the raw message}); an address listed in
DIR/refused (one a line) is answered 550, like a mailbox that does not exist.

    /usr/bin/python3 -I tests/fakes/smtp_server.py PORT DIR   (-I: none of the venv's paths)
"""

import itertools
import json
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Keeper:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()

    def refused(self) -> set:
        try:
            with open(os.path.join(self.folder, "refused"), encoding="utf-8") as listed:
                return {line.strip().lower() for line in listed if line.strip()}
        except FileNotFoundError:
            return set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused():
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            number = next(self.numbers)
        kept = {"rcpt": envelope.rcpt_tos, "data": envelope.content.decode("latin-1")}
        path = os.path.join(self.folder, f"{number:06d}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(kept, out)
        os.replace(path + ".tmp", path)  # readers never see half a message
        return "250 Message accepted for delivery"


def main() -> None:
    port, folder = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Keeper(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
