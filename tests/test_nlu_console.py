"""The free-text reader in the console: a category's keywords, "try a sentence", the
trained versions (train, activate, audited), and the worker's nightly retraining."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import text

from models.catalog import category_by_code
from models.db import utcnow
from models.nlu import all_models
from services.nlu import reader
from tests.conftest import _make_app
from tests.helpers import admin_id, csrf_token, log_in_as, make_agent

BENCH = "le banc est cassé"


def console(app):
    rt = app.extensions["webleads"]
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    return rt, client


def post(client, path, **form):
    return client.post(path, data={**form, "csrf_token": csrf_token(client)})


def guesses(client, sentence: str) -> list[str]:
    """The categories the page shows for a sentence, likeliest first, with confidence."""
    page = client.get("/console/admin/reader", query_string={"sentence": sentence})
    assert page.status_code == 200
    rows = re.findall(r'<tr class="guess-row"><td>(.*?)</td><td class="right">(\d+) %</td>',
                      page.get_data(as_text=True))  # fmt: skip
    return [f"{name} {p} %" for name, p in rows]


def seen_reports(rt) -> None:
    """The demo's reports, an agent having seen each (its category kept): examples."""
    from app.seed import seed_demo_reports

    with rt.db.transaction() as session:
        seed_demo_reports(session)
        session.execute(text("UPDATE report SET seen_by_agent_at = :now"), {"now": utcnow()})


def test_keywords_saved_on_the_category_page_change_the_next_guess(app) -> None:
    rt, client = console(app)
    assert guesses(client, BENCH)[0].startswith("Parc, arbre ou espace vert ")
    with rt.db.reading() as session:
        pavement = category_by_code(session, "trottoir")
        fields = ("code", "name_fr", "name_en", "kind", "service_id", "sla_hours", "position")
        form = {k: str(getattr(pavement, k)) for k in fields}
    page = client.get(f"/console/admin/categories/{pavement.id}").get_data(as_text=True)
    assert 'value="pavement, trottoir"' in page  # the keywords are on the category's form
    keywords = "pavement, trottoir, banc, bancs, banc cassé"
    response = post(client, f"/console/admin/categories/{pavement.id}", **form, active="y",
                    ask_if_fixed="y", keywords=keywords)  # fmt: skip
    assert response.status_code == 303
    assert guesses(client, BENCH)[0].startswith("Trottoir abîmé ")
    with rt.db.reading() as session:  # the bot reads with the same keywords
        assert reader.read(session, rt.catalog.get(session), BENCH).category == "trottoir"
        thing, name, changes = session.execute(
            text("SELECT thing, name, changes FROM adminchange ORDER BY id DESC")
        ).first()
    assert (thing, name) == ("category", "trottoir")
    changes = changes if isinstance(changes, dict) else json.loads(changes)  # JSON on PostgreSQL
    assert changes["keywords"] == [
        "pavement, trottoir",
        "pavement, trottoir, banc, bancs, banc cassé",
    ]


def test_try_a_sentence_shows_the_top_categories_their_confidence_and_the_place(
    database_url, tmp_path
) -> None:
    app = _make_app(database_url, tmp_path, GEOCODER="local")  # the demo's streets
    try:
        rt, client = console(app)
        page = client.get("/console/admin/reader",
                          query_string={"sentence": "ya un gros tro bd des rochers"})  # fmt: skip
        html = page.get_data(as_text=True)
        shown = guesses(client, "ya un gros tro bd des rochers")
        assert len(shown) == 3 and shown[0].startswith("Nid-de-poule ")
        assert int(shown[0].split()[-2]) >= 50
        assert "sûr\u202f: une question le confirme" in html
        assert '<span id="guess-place">Boulevard des Rochers</span>' in html
        assert "exemples fournis" in html  # no trained version yet
    finally:
        rt.db.dispose()


def test_models_page_train_then_activate_both_audited(app) -> None:
    rt, client = console(app)
    seen_reports(rt)
    assert "Aucune version entraînée" in client.get("/console/admin/reader").get_data(as_text=True)
    assert post(client, "/console/admin/reader/train").status_code == 303
    page = client.get("/console/admin/reader").get_data(as_text=True)
    assert "Version 1 entraînée (pas encore utilisée)." in page
    row = re.search(r'<tr data-version="1">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'class="top1">\d+\.\d %<', row) and re.search(r'class="top3">\d+\.\d %<', row)
    assert "Utiliser cette version" in row
    assert re.search(r'<tr class="confusion" data-version="1">.*?<code>\w', page, re.S)
    with rt.db.reading() as session:
        assert [(m.version, m.active) for m in all_models(session)] == [(1, False)]
    assert post(client, "/console/admin/reader/1/activate").status_code == 303
    page = client.get("/console/admin/reader", query_string={"sentence": "lampadaire éteint"})
    html = page.get_data(as_text=True)
    assert "La version 1 est désormais le lecteur utilisé." in html
    assert "version 1" in re.search(r'<div class="card" id="guess">(.*?)</div>', html, re.S)[1]
    with rt.db.reading() as session:
        audit = session.execute(
            text("SELECT actor, thing, action, changes FROM adminchange ORDER BY id")
        ).all()[-2:]
    assert [(a.thing, a.action) for a in audit] == [("reader", "created"), ("reader", "updated")]
    assert all("admin@vitre.example" in a.actor for a in audit)
    assert post(client, "/console/admin/reader/9/activate").status_code == 303
    assert "Il n’y a pas de version 9." in client.get("/console/admin/reader").get_data(
        as_text=True
    )


def test_the_reader_page_is_for_admins_only(app) -> None:
    rt = app.extensions["webleads"]
    client = app.test_client()
    log_in_as(client, make_agent(rt, "agent@vitre.example"))
    assert client.get("/console/admin/reader").status_code == 403
    assert client.post("/console/admin/reader/train",
                       data={"csrf_token": csrf_token(client)}).status_code == 403  # fmt: skip


NIGHT = datetime(2026, 12, 8, 2, 15, tzinfo=UTC)  # 03:15 in Vitré
AFTERNOON = datetime(2026, 12, 8, 13, 15, tzinfo=UTC)


def test_the_worker_retrains_at_night_only_when_there_are_new_examples(app) -> None:
    from app.background import retrain_reader

    rt = app.extensions["webleads"]
    with time_machine.travel(NIGHT, tick=False):
        assert retrain_reader(rt) is None  # no report seen by an agent: nothing to learn
        with rt.db.reading() as session:
            assert all_models(session) == []
    seen_reports(rt)
    with time_machine.travel(AFTERNOON, tick=False):
        assert retrain_reader(rt) is None  # not at night
    with time_machine.travel(NIGHT, tick=False):
        assert retrain_reader(rt) == 1
        assert retrain_reader(rt) is None  # the half-hour's second check: nothing new
    with rt.db.reading() as session:
        assert [(m.version, m.active) for m in all_models(session)] == [(1, False)]


@pytest.fixture(autouse=True)
def fresh_reader():
    reader.forget()
    yield
    reader.forget()


ZORGLUB = [
    "le zorglub de la place est encore tout barbouillé",
    "quelqu'un a barbouillé le zorglub près de l'école",
    "zorglub couvert de peinture rue de Paris",
    "encore de la peinture sur le zorglub du square",
    "le zorglub a été barbouillé cette nuit",
    "peinture partout sur le zorglub de la mairie",
    "zorglub barbouillé devant la poste",
    "ils ont encore peint le zorglub",
    "le zorglub vert est plein de peinture",
    "zorglub barbouillé au parc",
]


def test_the_agents_corrections_teach_the_next_version(app) -> None:
    """Residents file "zorglub" sentences under potholes; agents move each to graffiti from
    the report page. The version trained on them reads the next one as graffiti."""
    from tests.helpers import make_report

    rt, client = console(app)
    with rt.db.transaction() as session:
        numbers = [make_report(session, "nid-de-poule", description=t).id for t in ZORGLUB]
        graffiti = category_by_code(session, "graffiti").id
    sentence = "le zorglub de la gare est barbouillé"
    assert not guesses(client, sentence)[0].startswith("Tag ou graffiti")
    for number in numbers:
        assert client.get(f"/console/reports/{number}").status_code == 200  # seen
        moved = post(client, f"/console/reports/{number}/category", **{"recat-category": graffiti})
        assert moved.status_code == 303
    assert post(client, "/console/admin/reader/train").status_code == 303
    assert post(client, "/console/admin/reader/1/activate").status_code == 303
    assert guesses(client, sentence)[0].startswith("Tag ou graffiti")
