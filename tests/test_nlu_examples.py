"""A town exports its one-sentence examples and another imports them: from the command
line and from the reader's page, the residents' words without their phone numbers, the
rows another town's catalog cannot take reported and skipped."""

from __future__ import annotations

import html
import io
import shutil
import uuid

import pytest

from app.cli import cli
from models.audit import AdminChange
from models.catalog import category_by_code
from models.report import mark_seen_by_agent
from services import reports
from tests.conftest import _make_app
from tests.helpers import TalkingCitizen, admin_id, csrf_token, log_in_as

CONFIRMED = "Le lampadaire clignote depuis lundi, appelez-moi au 06 12 34 56 78"
CORRECTED = "Des tags partout sur le mur du gymnase"
HEADER = "text\tcategory\tlanguage\tsource"


@pytest.fixture
def fresh_url(database_url, request, tmp_path) -> str:
    """A second town's database, the demo town only, on the same backend."""
    if database_url.startswith("sqlite"):
        target = tmp_path / "fresh.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    import psycopg

    cluster, template = (
        request.getfixturevalue("pg_cluster"),
        request.getfixturevalue("pg_template"),
    )
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield cluster.url(name)
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(app, *args) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_town_exports_its_examples_and_another_imports_them(app, fresh_url, tmp_path) -> None:
    rt = app.extensions["webleads"]
    confirmed = TalkingCitizen(rt, "5550001").file_report("cat:lampadaire", CONFIRMED)
    corrected = TalkingCitizen(rt, "5550002").file_report("cat:nid-de-poule", CORRECTED)
    with rt.db.transaction() as session:
        graffiti = category_by_code(session, "graffiti").id
        reports.recategorise(session, corrected, graffiti, agent_id=admin_id(rt))
        for number in (confirmed, corrected):
            mark_seen_by_agent(session, number)

    exported = tmp_path / "vitre.tsv"
    assert run(app, "nlu", "export", str(exported))[0] == 0
    rows = exported.read_text(encoding="utf-8").splitlines()
    assert rows[0] == HEADER
    assert (
        "Le lampadaire clignote depuis lundi, appelez-moi au …\tlampadaire\tfr\tconfirmed" in rows
    )
    assert f"{CORRECTED}\tgraffiti\tfr\tcorrected" in rows
    assert sum(row.endswith("\tshipped") for row in rows) > 100
    assert "06 12" not in exported.read_text(encoding="utf-8")
    # The reader's page offers the same file, its columns named in French.
    admin = app.test_client()
    log_in_as(admin, admin_id(rt))
    download = admin.get("/console/admin/reader/examples.tsv").get_data(as_text=True)
    assert download.splitlines() == ["texte\tcatégorie\tlangue\tsource", *rows[1:]]

    # A fresh town imports them: the two of Vitré's own are new, the shipped ones known.
    fresh = _make_app(fresh_url, tmp_path)
    try:
        code, out = run(fresh, "nlu", "import", str(exported))
        assert code == 0, out
        assert f"2 example(s) imported, {len(rows) - 3} already known, 0 row(s) skipped." in out
        again = tmp_path / "fresh.tsv"
        run(fresh, "nlu", "export", str(again))
        assert sorted(again.read_text(encoding="utf-8").splitlines()) == sorted(rows)
        # Twice is once.
        assert "0 example(s) imported" in run(fresh, "nlu", "import", str(exported))[1]
    finally:
        fresh.extensions["webleads"].db.dispose()


def test_rows_another_catalog_cannot_take_are_listed_and_skipped(app, tmp_path) -> None:
    rt = app.extensions["webleads"]
    admin = app.test_client()
    log_in_as(admin, admin_id(rt))
    lines = [
        "texte\tcatégorie\tlangue\tsource",  # as the console names them; English works too
        "la trottinette est garée sur le trottoir\ttrottinettes\tfr\tconfirmed",
        "\tlampadaire\tfr\tconfirmed",
        "Der Mülleimer ist voll\tdechets\tde\tconfirmed",
        "il y a un nid-de-poule sur la route\tnid-de-poule\tfr\tshipped",  # shipped: known
        "le banc du square est cassé en deux\tespaces-verts\tfr\tcorrected",
    ]
    upload = {
        "examples": (io.BytesIO(("\n".join(lines) + "\n").encode()), "autre-ville.tsv"),
        "csrf_token": csrf_token(admin),
    }
    done = admin.post("/console/admin/reader/examples", data=upload)
    assert done.status_code == 303
    page = html.unescape(admin.get("/console/admin/reader").get_data(as_text=True))
    assert "1 exemple(s) importé(s), 1 déjà connu(s), 3 ligne(s) ignorée(s)." in page
    assert (
        "Ligne 2\u202f: catégorie inconnue «\u202ftrottinettes\u202f»\u202f: la trottinette" in page
    )
    assert "Ligne 3\u202f: pas de texte" in page
    assert "Ligne 4\u202f: langue inconnue «\u202fde\u202f»" in page
    with rt.db.reading() as session:
        assert session.query(AdminChange).filter_by(name="examples").count() == 1

    # The command line says the same in English, and what is wrong with a file.
    bad = tmp_path / "bad.tsv"
    bad.write_text("\n".join([HEADER, *lines[1:]]), encoding="utf-8")
    code, out = run(app, "nlu", "import", str(bad))
    assert code == 0 and "0 example(s) imported, 2 already known, 3 row(s) skipped." in out
    assert "line 2: unknown category “trottinettes”: la trottinette" in out
    no_header = tmp_path / "no-header.tsv"
    no_header.write_text("le banc est cassé\tespaces-verts\n", encoding="utf-8")
    code, out = run(app, "nlu", "import", str(no_header))
    assert code == 1 and "The first line must name the columns" in out
    latin = tmp_path / "latin.tsv"
    latin.write_bytes(
        (HEADER + "\nle banc est cassé\tespaces-verts\tfr\timported\n").encode("latin-1")
    )
    code, out = run(app, "nlu", "import", str(latin))
    assert code == 1 and "not UTF-8" in out
    code, out = run(app, "nlu", "import", str(tmp_path / "missing.tsv"))
    assert code == 1 and "Cannot read" in out
