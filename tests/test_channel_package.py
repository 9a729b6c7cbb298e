"""A channel is its package: its settings (declared on its spec, documented in
.env.example, checked at start) and what it records of each message it receives (in the
engine's one transaction)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

import webhooks  # noqa: F401  (registers every channel)
from app.factory import create_app
from models.messaging import Outbox
from services import channels, pilot
from services.audit import Actor
from services.config import _CORE, ConfigError, load_settings
from services.launchkit import agent_guide_pdf, kit_for, poster_pdf
from tests.conftest import base_config
from tests.helpers import admin_id, log_in_as
from tests.plugins import pigeon
from tests.test_launchkit import read_pdf
from tests.whatsapp_support import WhatsApp

FRENCH = {"Accept-Language": "fr"}

ENV_EXAMPLE = Path(__file__).parents[1] / ".env.example"


def _documented() -> dict[str, str]:
    """NAME -> its value in .env.example; a commented-out example counts, as "#"."""
    lines = re.findall(r"^(# )?([A-Z][A-Z0-9_]+)=(.*)$", ENV_EXAMPLE.read_text(), re.M)
    return {name: "#" if commented else value for commented, name, value in lines}


def _undocumented() -> list[str]:
    """The core's and the registered channels' settings .env.example does not list."""
    documented = _documented()
    names = [*_CORE, *(s.name for c in channels.all_channels() for s in c.settings)]
    return [name for name in names if name not in documented]


def test_env_example_lists_every_setting_of_the_core_and_of_every_channel() -> None:
    assert _undocumented() == []
    documented = _documented()
    for channel in channels.all_channels():
        for setting in channel.settings:
            assert setting.doc, f"{setting.name} has no comment"
            if setting.secret:
                assert documented[setting.name] in ("", "#"), f"{setting.name}: a secret"


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"TELEGRAM_BOT_TOKEN": "123:abc"}, "TELEGRAM_WEBHOOK_SECRET is required"),
        ({"WHATSAPP_RATE_PER_SECOND": 0}, "WHATSAPP_RATE_PER_SECOND must be above 0"),
    ],
)
def test_a_channels_settings_are_checked_at_start(values, says, monkeypatch) -> None:
    for name in values:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match=says):
        load_settings({"SECRET_KEY": "x", **values}, dotenv=False)


def test_a_channels_settings_are_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("WHATSAPP_RATE_PER_SECOND", "0.33")
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "VitreBot")
    settings = load_settings({"SECRET_KEY": "x"}, dotenv=False)
    assert settings.WHATSAPP_RATE_PER_SECOND == 0.33
    assert (settings.TELEGRAM_BOT_USERNAME, settings.SMS_RATE_PER_SECOND) == ("VitreBot", 1)
    assert settings.replaced(SMS_RATE_PER_SECOND=5).SMS_RATE_PER_SECOND == 5


# --- one WhatsApp message, one transaction ---------------------------------------------

REFUSE_OUTBOX = {
    "sqlite": [
        "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox "
        "BEGIN SELECT RAISE(ABORT, 'the outbox refuses'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_outbox() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'the outbox refuses'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox "
        "FOR EACH ROW EXECUTE FUNCTION refuse_outbox()",
    ],
}
ALLOW_OUTBOX = {
    "sqlite": ["DROP TRIGGER refuse_outbox"],
    "postgresql": ["DROP TRIGGER refuse_outbox ON outbox", "DROP FUNCTION refuse_outbox()"],
}


def _run_sql(rt, statements: list[str]) -> None:
    with rt.db.transaction() as session:
        for statement in statements:
            session.execute(text(statement))


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_a_whatsapp_message_the_engine_fails_on_leaves_the_window_and_held_news(
    wa_app, twilio
) -> None:
    """The window's bookkeeping is in the engine's transaction: when the engine fails (the
    database refuses its replies), the window stays closed and the held news stays held;
    the next message, handled, opens it and releases the news."""
    rt = wa_app.extensions["webleads"]
    wa = WhatsApp(wa_app, twilio)
    wa.text("Bonjour")
    wa.inbox()
    wa.window_closed(hours=30)
    closed_at = _as_utc(wa.citizen.last_inbound_at)
    with rt.db.transaction() as session:
        first = min(m.id for m in wa.outbox())
        session.execute(update(Outbox).where(Outbox.id == first).values(status="held"))
    dialect = rt.db.engine.dialect.name
    _run_sql(rt, REFUSE_OUTBOX[dialect])
    try:
        wa.text("Il y a un trou")  # acknowledged (200), its transaction rolled back
    finally:
        _run_sql(rt, ALLOW_OUTBOX[dialect])
    assert _as_utc(wa.citizen.last_inbound_at) == closed_at
    assert [m.status for m in wa.outbox() if m.id == first] == ["held"]

    wa.text("Il y a un trou")
    assert _as_utc(wa.citizen.last_inbound_at) > datetime.now(UTC) - timedelta(minutes=1)
    assert [m for m in wa.outbox() if m.status == "held"] == []


# --- a throwaway channel: its settings and its name in the town's copy, from its package ---


@pytest.fixture
def pigeon_app(database_url, tmp_path):
    pigeon.plug_in()
    app = create_app(base_config(database_url, tmp_path))
    yield app
    app.extensions["webleads"].db.dispose()
    channels.unregister(pigeon.NAME)


def test_a_throwaway_channels_settings_are_read_and_must_be_documented(pigeon_app) -> None:
    rt = pigeon_app.extensions["webleads"]
    assert rt.settings.PIGEON_LOFT == "Mairie"
    assert _undocumented() == ["PIGEON_LOFT"]  # what the .env.example check would say


def test_a_throwaway_channel_is_named_in_the_pilot_and_the_launch_kit(pigeon_app) -> None:
    rt = pigeon_app.extensions["webleads"]
    with rt.db.transaction() as session:
        pilot.add_code(session, Actor("admin@vitre.example"), "Centre", "Quartier du centre")
    client = pigeon_app.test_client()
    log_in_as(client, admin_id(rt))
    page = client.get("/console/admin/pilot", headers=FRENCH).get_data(as_text=True)
    assert 'href="pigeon://Mairie?start=centre"' in page  # the code's link, from the invite
    assert re.search(r"Numéro de téléphone, identifiant ou adresse \([^)]*Pigeon voyageur", page)
    assert re.search(r"L’habitant envoie le code seul \([^)]*Pigeon voyageur", page)
    assert re.search(r"Habitants admis sans code \([^)]*Pigeon voyageur", page)
    kit_page = client.get("/console/admin/launch-kit", headers=FRENCH).get_data(as_text=True)
    assert "Lâchez un pigeon vers la mairie." in kit_page
    assert re.search(
        r"chacun ouvre une conversation avec la commune \([^)]*Pigeon voyageur", kit_page
    )
    codes, text = read_pdf(poster_pdf(kit_for(rt)))
    flat = " ".join(text.split())
    assert "pigeon://Mairie?start=centre" in codes and "Lâchez un pigeon" in flat
    assert "Envoyez SUPPRIMER pour les effacer" in flat  # no command menu: no /supprimer
    _, guide = read_pdf(agent_guide_pdf(kit_for(rt)))
    assert "Pigeon voyageur" in " ".join(guide.split())
