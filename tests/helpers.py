"""Test helpers: a citizen talking to the engine, and small factories."""

from __future__ import annotations

import itertools
import uuid

from bot.engine import handle
from bot.runtime import Runtime
from bot.types import Inbound, Reply, StoredPhoto
from models.citizen import find_citizen
from models.messaging import messages_for_citizen

_photo_counter = itertools.count(1)


def a_photo() -> StoredPhoto:
    n = next(_photo_counter)
    return StoredPhoto(
        sha256=f"{n:064x}",
        path=f"ab/{n:064x}.jpg",
        content_type="image/jpeg",
        size=1234,
        width=800,
        height=600,
    )


def run_jobs(rt: Runtime) -> int:
    """Does the worker's pending network work now (geocoding, downloads), as it would."""
    from bot.jobs import JobRunner

    return JobRunner(rt).run_until_idle()


class TalkingCitizen:
    """A citizen on a channel: `say()` hands a message to the engine, returns the replies."""

    def __init__(
        self,
        rt: Runtime,
        sender: str = "marie",
        *,
        channel: str = "dev",
        name: str | None = "Marie",
        language_code: str | None = None,
    ) -> None:
        self.rt = rt
        self.sender = sender
        self.channel = channel
        self.name = name
        self.language_code = language_code
        self._seen = 0

    def say(self, text: str | None = None, **kwargs) -> list[Reply]:
        inbound = Inbound(
            self.channel,
            self.sender,
            external_id=kwargs.pop("external_id", uuid.uuid4().hex),
            text=text,
            display_name=self.name,
            language_code=self.language_code,
            **kwargs,
        )
        handle(inbound, self.rt)
        run_jobs(self.rt)
        return self.new_messages()

    def texts(self, text: str | None = None, **kwargs) -> str:
        """Says something and returns the replies' text joined, for assertions."""
        return "\n".join(r.text for r in self.say(text, **kwargs))

    def new_messages(self) -> list[Reply]:
        with self.rt.db.reading() as session:
            citizen = find_citizen(session, self.channel, self.sender)
            if citizen is None:
                return []
            rows = messages_for_citizen(session, citizen.id, after_id=self._seen)
        if rows:
            self._seen = rows[-1].id
        # Answers to a pressed button (its spinner) carry no words for the citizen.
        return [Reply.from_payload(r.payload) for r in rows if not r.payload.get("answer_callback")]

    @property
    def citizen(self):
        with self.rt.db.reading() as session:
            return find_citizen(session, self.channel, self.sender)

    @property
    def conversation(self):
        from models.citizen import conversation_of

        with self.rt.db.reading() as session:
            return conversation_of(session, self.citizen.id)

    @property
    def state(self) -> str:
        return self.conversation.state

    def file_report(
        self,
        category_choice: str = "cat:nid-de-poule",
        description: str = "Un trou profond devant le 12",
        location: tuple[float, float] | None = (48.1246, -1.2082),
    ) -> int:
        """Goes through the whole conversation; returns the new report's number."""
        self.say("bonjour")
        self.say(choice=category_choice)
        self.say(description)
        self.say(choice="skip")
        if location:
            self.say(location=location)
        else:
            self.say("12 rue de la Poterie")
        replies = self.say(choice="yes")
        import re

        match = re.search(r"#(\d+)", replies[-1].text)
        assert match, replies[-1].text
        return int(match.group(1))


def make_report(session, category: str = "nid-de-poule", *, lat: float | None = 48.1246,
                lon: float | None = -1.2082, status: str = "new", description: str = "x",
                created_at=None):  # fmt: skip
    """Inserts a report directly (no conversation), for tests of queries and pages."""
    from models.catalog import category_by_code
    from models.db import utcnow
    from models.report import Report

    info = category_by_code(session, category)
    now = created_at or utcnow()
    report = Report(category_id=info.id, service_id=info.service_id, channel="dev",
                    description=description, lat=lat, lon=lon, geolocated=lat is not None,
                    status=status, created_at=now, updated_at=now)  # fmt: skip
    session.add(report)
    session.flush()
    return report
