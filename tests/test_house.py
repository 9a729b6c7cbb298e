"""The house (docs/architecture.md): a channel is one package plus one registry line, the
modules import each other one way only, and the composition root (app/) is the one place
that knows every package."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import grimp
import pytest

from app.factory import create_app
from bot.outbox import OutboxWorker
from services import channels
from tests.conftest import base_config
from tests.helpers import admin_id, log_in_as
from tests.plugins import pigeon

OURS = ("app", "bot", "services", "handlers", "models", "webhooks", "api", "public")
# pyproject.toml's one layers contract, top to bottom: a layer imports only those below it.
LAYERS = ["app", "console | api | public | webhooks", "bot", "handlers", "services", "models"]
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@pytest.fixture
def pigeon_app(database_url, tmp_path):
    pigeon.LOFT.clear()
    pigeon.plug_in()
    app = create_app(base_config(database_url, tmp_path))
    yield app
    app.extensions["webleads"].db.dispose()
    channels.unregister(pigeon.NAME)


def _fly(client, sender: str, n: int, **message) -> None:
    response = client.post("/webhooks/pigeon", json={"from": sender, "id": f"m{n}", **message})
    assert response.status_code == 200, response.data


def _deliver(rt) -> list[dict]:
    """The real outbox worker, with the senders the registry builds, until it is idle."""
    from bot.outbox import channel_senders, default_limiters

    worker = OutboxWorker(rt, channel_senders(rt), limiters=default_limiters(rt.settings))
    while worker.run_once():
        pass
    return pigeon.LOFT


def test_a_channel_plugged_in_from_a_test_package_walks_a_whole_report(pigeon_app) -> None:
    rt = pigeon_app.extensions["webleads"]
    client = pigeon_app.test_client()
    _fly(client, "coo-1", 1, text="bonjour", name="Colombe")
    assert "nid-de-poule" in _deliver(rt)[-1]["buttons"][0]  # buttons: it can show them
    _fly(client, "coo-1", 2, button="cat:nid-de-poule")
    _fly(client, "coo-1", 3, text="Un trou profond devant la mairie")
    _fly(client, "coo-1", 4, button="skip")
    _fly(client, "coo-1", 5, location=[48.1246, -1.2082])
    _fly(client, "coo-1", 5, location=[48.1246, -1.2082])  # a redelivery: no second effect
    _fly(client, "coo-1", 6, button="yes")
    loft = _deliver(rt)
    filed = loft[-1]["text"]
    assert all(bird["to"] == "coo-1" for bird in loft)
    number = re.search(r"#(\d+)", filed).group(1)

    # The console knows the channel by its spec: its label, its filter, its mask.
    log_in_as(client, admin_id(rt))
    queue = client.get("/console/reports?channel=pigeon").get_data(as_text=True)
    assert f"#{number}" in queue and "Pigeon voyageur" in queue
    other = client.get("/console/reports?channel=sms").get_data(as_text=True)
    assert f"#{number}" not in other
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "Un trou profond devant la mairie" in page
    assert "coo-1" not in page  # masked like any address nobody said was harmless


def test_an_unplugged_channel_is_gone_from_the_app(database_url, tmp_path) -> None:
    app = create_app(base_config(database_url, tmp_path))
    assert app.test_client().post("/webhooks/pigeon", json={}).status_code == 404
    assert pigeon.NAME not in [c.name for c in channels.all_channels()]
    app.extensions["webleads"].db.dispose()


def test_our_modules_import_each_other_one_way_only() -> None:
    """No circles (console/ apart: Flask's blueprint package imports its views)."""
    graph = grimp.build_graph(*OURS)
    circles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                circles.append(f"{module} -> {imported}")
    assert circles == []


def test_the_brain_knows_neither_its_composition_root_nor_the_pages_nor_the_channels() -> None:
    """bot/ and what lies below it name no channel, no page and nothing of app/: the app
    factory, the CLI, the worker's loops and the terminal chat live in app/."""
    graph = grimp.build_graph(*OURS, "console")
    above = {"app", "console", "api", "public", "webhooks"}
    below = {"bot", "handlers", "services", "models"}
    reaching_up = sorted(
        f"{module} -> {imported}"
        for module in graph.modules
        if module.split(".")[0] in below
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.split(".")[0] in above
    )
    assert reaching_up == []
    assert {"app.factory", "app.cli", "app.background"} <= graph.modules


def test_pyproject_keeps_the_house_in_one_layers_contract() -> None:
    """One layers contract for the whole house and one independence contract for the
    channels, over every package of ours (app/ included)."""
    pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    config = pyproject["tool"]["importlinter"]
    assert {*OURS, "console"} == set(config["root_packages"])
    contracts = config["contracts"]
    assert [c["type"] for c in contracts] == ["layers", "independence"]
    assert contracts[0]["layers"] == LAYERS
    assert "ignore_imports" not in contracts[0]
    assert contracts[1]["modules"] == ["webhooks.*"]
    assert pyproject["project"]["scripts"]["webleads"] == "app.cli:main"
