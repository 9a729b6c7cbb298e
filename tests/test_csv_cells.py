"""Every CSV the console and the CLI write: an empty cell stays empty, a formula is defused."""

from __future__ import annotations

import csv
import io

import pytest

from services import reports
from services.audit import csv_line
from tests.helpers import add_reports, admin_id, log_in_as

# (what is written, what a spreadsheet reads back)
CELLS = [
    ("", ""),
    ("12 rue de la Poterie", "12 rue de la Poterie"),
    ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
    ("+33 6 12 34 56 78", "'+33 6 12 34 56 78"),
    ("-1+1", "'-1+1"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    (-1.2082, "-1.2082"),  # a number is a number, its sign included
    (0, "0"),
]


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.mark.parametrize(("written", "read_back"), CELLS, ids=[repr(c[0]) for c in CELLS])
def test_one_cell(written, read_back) -> None:
    assert read(csv_line(["a", written, "z"])) == [["a", read_back, "z"]]


def test_the_queue_export_keeps_empty_cells_empty(app) -> None:
    rt = app.extensions["webleads"]
    (number,) = add_reports(rt, [{"description": "-- trou", "address": None}])
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    header, *rows = read(client.get("/console/reports.csv?status=all").get_data(as_text=True))
    row = dict(zip(header, next(r for r in rows if r[0] == str(number)), strict=True))
    assert row["Adresse"] == "" and row["Attribué à"] == "" and row["Résolu le"] == ""
    assert row["Description"] == "'-- trou"
    assert row["Longitude"] == "-1.2082"


def test_the_audit_export_keeps_empty_cells_empty(app) -> None:
    rt = app.extensions["webleads"]
    (number,) = add_reports(rt, [{}])
    with rt.db.transaction() as session:
        reports.reply(session, number, "@équipe demain", agent_id=admin_id(rt))
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    response = client.get("/console/admin/audit.csv?since=2000-01-01&until=2999-12-31")
    assert response.status_code == 200
    header, *rows = read(response.get_data(as_text=True))
    row = dict(zip(header, rows[-1], strict=True))
    assert (row["Statut de départ"], row["Nouveau statut"], row["Note interne"]) == ("", "", "")
    assert row["Message public"] == "'@équipe demain"
