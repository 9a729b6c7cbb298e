"""Test helpers: a citizen talking to the engine, small factories, console agents and logins."""

from __future__ import annotations

import io
import itertools
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import text

from bot.engine import handle
from models.agent import agent_by_email
from models.citizen import find_citizen
from models.messaging import messages_for_citizen
from services.agents import save_agent
from services.audit import Actor
from services.runtime import Runtime
from services.types import Inbound, Reply, StoredPhoto

_photo_counter = itertools.count(1)

# The moment conftest's new_year_in_vitre freezes the clock at, for tests of the town's
# calendar: 23:30 UTC on 31 December 2027 is already 00:30 on 1 January 2028 in Vitré.
NEW_YEAR_IN_VITRE = datetime(2027, 12, 31, 23, 30, tzinfo=UTC)


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

    def to_location_question(
        self, category: str = "cat:nid-de-poule", description: str = "Un trou profond"
    ) -> None:
        """Goes through the conversation up to "where is it?" (no photo)."""
        self.say("bonjour")
        self.say(choice=category)
        self.say(description)
        self.say(choice="skip")

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


def jpeg_with_gps(width: int = 640, height: int = 480) -> bytes:
    """A real phone-like JPEG whose EXIF says where it was taken."""
    image = Image.new("RGB", (width, height), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 7.0, 28.0), 3: "W", 4: (1.0, 12.0, 30.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


# Half states, each a query that must find nothing.
HALF_STATES = {
    "citizen without a conversation": "SELECT count(*) FROM citizen c WHERE NOT EXISTS "
    "(SELECT 1 FROM conversation v WHERE v.citizen_id = c.id)",
    "conversation without its citizen": "SELECT count(*) FROM conversation v WHERE NOT EXISTS "
    "(SELECT 1 FROM citizen c WHERE c.id = v.citizen_id)",
    "outbox message without a citizen": "SELECT count(*) FROM outbox o WHERE NOT EXISTS "
    "(SELECT 1 FROM citizen c WHERE c.id = o.citizen_id)",
    "citizen's report they do not follow": "SELECT count(*) FROM report r WHERE "
    "r.citizen_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM follower f "
    "WHERE f.report_id = r.id AND f.citizen_id = r.citizen_id)",
    "report without its created event": "SELECT count(*) FROM report r WHERE NOT EXISTS "
    "(SELECT 1 FROM reportevent e WHERE e.report_id = r.id AND e.kind = 'created')",
}


def consistent(rt) -> None:
    """Whatever was accepted left a whole state: no citizen without a conversation, etc."""
    with rt.db.reading() as session:
        found = {label: session.execute(text(sql)).scalar() for label, sql in HALF_STATES.items()}
    assert {label: n for label, n in found.items() if n} == {}


# --- the console's agents and sessions (test client and browser) ---

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|data-csrf="([^"]+)"')


def make_agent(
    rt, email: str, *, role: str = "agent", services: tuple[str, ...] = ("voirie",), name=""
) -> int:
    """Creates an agent (argon2 hash, as the CLI does); returns its id."""
    with rt.db.transaction() as session:
        save_agent(session, Actor.command_line(), email, PASSWORD, role, list(services), name)
        return agent_by_email(session, email).id


def admin_id(rt) -> int:
    from app.seed import ADMIN_EMAIL

    with rt.db.reading() as session:
        return agent_by_email(session, ADMIN_EMAIL).id


def log_in_as(client, agent_id: int) -> None:
    """Opens a console session for the agent without the password round trip."""
    from console.auth import session_user_id
    from models.agent import Agent

    with client.application.extensions["webleads"].db.reading() as db:
        version = db.get(Agent, agent_id).session_version
    with client.session_transaction() as session:
        session["_user_id"] = session_user_id(agent_id, version)
        session["_fresh"] = True


def csrf_token(client) -> str:
    """Reads the session's CSRF token from a console page, as a browser form would carry it.

    Read once per client (the token lasts the session): reading a page shows, and so
    consumes, the flashed messages a test may want to see later.
    """
    if getattr(client, "csrf", None) is None:
        page = client.get("/console/simulator").get_data(as_text=True)
        match = CSRF_RE.search(page)
        assert match, page[:500]
        client.csrf = match.group(1) or match.group(2)
    return client.csrf


def report_by(rt, sender: str, *, category: str = "cat:nid-de-poule", **kwargs) -> int:
    """A citizen files a report through the real conversation; returns its number."""
    return TalkingCitizen(rt, sender, name=sender.capitalize()).file_report(
        category_choice=category, **kwargs
    )


def add_reports(rt, specs: list[dict]) -> list[int]:
    """Inserts reports directly (fast, for queue tests); each spec names a category code.

    Defaults: roads pothole, dev channel, now, open ("new"), at the town hall.
    """
    from datetime import timedelta

    from models.catalog import category_by_code
    from models.db import utcnow
    from models.report import Report

    now = utcnow()
    numbers = []
    with rt.db.transaction() as session:
        for i, spec in enumerate(specs):
            spec = dict(spec)
            category = category_by_code(session, spec.pop("category", "nid-de-poule"))
            created = spec.pop("created_at", now - timedelta(minutes=len(specs) - i))
            report = Report(
                category_id=category.id,
                service_id=category.service_id,
                channel=spec.pop("channel", "dev"),
                description=spec.pop("description", f"Signalement {i}"),
                lat=spec.pop("lat", 48.1246),
                lon=spec.pop("lon", -1.2082),
                geolocated=True,
                created_at=created,
                updated_at=spec.pop("updated_at", created),
                **spec,
            )
            session.add(report)
            session.flush()
            numbers.append(report.id)
    return numbers


class ContactOnChannel:
    """What a test reads of the citizen behind a phone on one channel (`channel`,
    `number`, `rt` set by the subclass): their row, their state, their outbox."""

    channel: str
    number: str

    @property
    def citizen(self):
        with self.rt.db.reading() as session:
            return find_citizen(session, self.channel, self.number)

    @property
    def state(self) -> str:
        from models.citizen import conversation_of

        with self.rt.db.reading() as session:
            return conversation_of(session, self.citizen.id).state

    def outbox(self):
        with self.rt.db.reading() as session:
            return messages_for_citizen(session, self.citizen.id)


# --- several communes -----------------------------------------------------------------

WEST = (48.1246, -1.2082)  # 12 rue de la Poterie, in Vitré
EAST = (48.1200, -1.1700)  # in the commune next door


def rectangle(west: float, south: float, east: float, north: float) -> dict:
    """A GeoJSON feature: the box as a polygon (a commune's boundary in tests)."""
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


VITRE_AND_ETRELLES = (
    ("35360", "Vitré", (-1.29, 48.08, -1.20, 48.17)),
    ("35109", "Étrelles", (-1.20, 48.08, -1.10, 48.17)),
)


def add_communes(app, tmp_path, communes=VITRE_AND_ETRELLES):
    """Adds communes (INSEE, name, west-south-east-north box) as an admin would, with
    `webleads commune add`; returns the CLI runner."""
    import json

    from app.cli import cli

    runner = app.test_cli_runner()
    for insee, name, box in communes:
        path = tmp_path / f"{insee}.geojson"
        path.write_text(json.dumps(rectangle(*box)))
        result = runner.invoke(
            cli, ["commune", "add", insee, "--name", name, "--boundary", str(path)]
        )
        assert result.exit_code == 0, result.output
    app.extensions["webleads"].catalog.invalidate()
    return runner


# Long category names, as a town may write them (the SMS and WhatsApp length walks).
LONG_CATEGORY_NAMES = [
    "Voirie : nid-de-poule, chaussée déformée ou affaissée",
    "Trottoir abîmé, bordure cassée ou pavés descellés",
    "Panneau de signalisation tombé, marquage au sol effacé",
    "Éclairage public : lampadaire en panne ou qui clignote",
    "Dépôt sauvage, encombrants ou poubelle pleine à ramasser",
    "Tag, graffiti ou affichage sauvage sur un bâtiment public",
    "Parc, jardin, arbre dangereux ou espace vert mal entretenu",
    "Proposer une idée pour améliorer la vie du quartier",
    "Mes signalements et leur avancement",
]


ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh Python process of the project (nothing imported yet, as a
    worker just started), with `args` as sys.argv[1:]; its output is captured as text."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
