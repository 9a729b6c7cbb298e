"""`webleads chat`: a citizen's conversation with the bot, in a terminal."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TextIO

from bot.engine import handle
from bot.jobs import JobRunner
from models.citizen import find_citizen, update_citizen
from services import simulated
from services.media import MAX_PHOTO_BYTES
from services.runtime import Runtime
from services.storage import StoreError
from services.types import Inbound

POLL_SECONDS = 1.0


def log_to_file(path: str) -> None:
    """Sends every log line to `path` instead of the terminal (the chat shows replies only)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # With a handler on the root logger, Python no longer prints warnings to stderr.
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


# A line that sends a picture instead of words: `/photo` (the --photo FILE) or `/photo PATH`.
PHOTO_COMMAND = "/photo"


class TerminalChat:
    def __init__(self, rt: Runtime, name: str, lang: str | None, photo: str | None = None) -> None:
        self.rt = rt
        self.name = name
        self.lang = lang
        self.photo = photo
        self._print_lock = threading.Lock()

    def run(self, stdin: TextIO, stdout: TextIO) -> None:
        """Reads lines, hands them to the engine, prints replies and later updates."""
        self.out = stdout
        self._set_language()
        interactive = stdin.isatty()
        self._say(
            f"You are {self.name}, {self._who()} on the dev channel. Type your message "
            "(a number picks a choice); Ctrl-D to quit."
        )
        if self.photo:
            self._say(f"Type {PHOTO_COMMAND} to send the picture {self.photo}.")
        self._say("")
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(stop,), daemon=True)
        watcher.start()
        try:
            while True:
                if interactive:
                    self._say("> ", newline=False)
                line = stdin.readline()
                if not line:
                    break
                text = line.strip()
                if not text:
                    continue
                message = self._message(text)
                if message is None:
                    continue
                handled = handle(message, self.rt)
                if handled.waiting:  # a geocoder to ask: the worker's part, done here
                    JobRunner(self.rt, fetchers={}).run_until_idle()
                self._show(simulated.drain(self.rt, self.name))
        finally:
            stop.set()
            watcher.join(timeout=2)
            self._show(simulated.drain(self.rt, self.name))

    def _who(self) -> str:
        """A citizen, or an agent's phone once linked (`/agent CODE`, or seed-demo's crew)."""
        with self.rt.db.reading() as session:
            chat = find_citizen(session, simulated.CHANNEL, self.name)
            return "a field crew's phone" if chat is not None and chat.field_chat else "a citizen"

    def _message(self, text: str) -> Inbound | None:
        """The line as the citizen's message: words, or `/photo [PATH]` a picture."""
        if text.split()[0] != PHOTO_COMMAND:
            return simulated.inbound(self.name, text, name=self.name, lang=self.lang)
        path = text[len(PHOTO_COMMAND) :].strip() or self.photo
        if not path:
            self._say(f"(no picture: start with --photo FILE, or type {PHOTO_COMMAND} FILE)")
            return None
        try:
            with open(path, "rb") as file:  # no more than the cap: a larger one is refused
                data = file.read(MAX_PHOTO_BYTES + 1)
        except OSError as exc:
            self._say(f"(cannot read {path}: {exc.strerror})")
            return None
        try:
            return simulated.photo_inbound(self.rt, self.name, data, name=self.name, lang=self.lang)
        except StoreError as exc:
            self._say(f"(the photo store cannot be reached, try again: {exc})")
            return None

    def _watch(self, stop: threading.Event) -> None:
        """Shows status updates queued by agents while the citizen is typing."""
        while not stop.wait(POLL_SECONDS):
            try:
                self._show(simulated.drain(self.rt, self.name))
            except Exception as exc:  # a busy database must not kill the terminal
                self._say(f"(could not check for updates: {exc})")

    def _set_language(self) -> None:
        if not self.lang:
            return
        with self.rt.db.transaction() as session:
            citizen = find_citizen(session, simulated.CHANNEL, self.name)
            if citizen is not None and citizen.language != self.lang:
                update_citizen(session, citizen.id, language=self.lang)

    def _show(self, messages: list[str]) -> None:
        for text in messages:
            self._say("bot: " + text.replace("\n", "\n     "))

    def _say(self, text: str, newline: bool = True) -> None:
        with self._print_lock:
            self.out.write(text + ("\n" if newline else ""))
            self.out.flush()
