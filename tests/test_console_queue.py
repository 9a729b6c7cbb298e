"""The queue: filters, keyset pages (forward and back, ties included), counts, map, CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from models.db import utcnow
from models.queue_queries import QueueFilter, queue_page
from models.zone import Zone
from tests.helpers import add_reports, admin_id, log_in_as, make_agent

NUMBER_RE = re.compile(r'<tr class="[^"]*" data-number="(\d+)">')


def numbers_on(page_html: str) -> list[int]:
    return [int(n) for n in NUMBER_RE.findall(page_html)]


def walk(session, f: QueueFilter, size: int) -> tuple[list[int], list[int]]:
    """Reads the queue page by page to the end, then back to the start; returns both orders."""
    forward, page = [], queue_page(session, f, size=size)
    pages = [page]
    while True:
        forward += [r.id for r in page.reports]
        if page.next_cursor is None:
            break
        page = queue_page(session, f, after=page.next_cursor, size=size)
        pages.append(page)
    backward = [r.id for r in reversed(page.reports)]
    while page.prev_cursor is not None:
        page = queue_page(session, f, before=page.prev_cursor, size=size)
        backward += [r.id for r in reversed(page.reports)]
    return forward, backward


@pytest.mark.parametrize("sort", ["newest", "oldest", "updated"])
def test_keyset_pages_cover_every_report_once_both_ways(app, sort):
    rt = app.extensions["webleads"]
    stamp = utcnow() - timedelta(days=1)
    # Many reports share an update time: the report number breaks the ties.
    numbers = add_reports(rt, [{"updated_at": stamp + timedelta(hours=i // 4)} for i in range(23)])
    with rt.db.reading() as session:
        f = QueueFilter(statuses=("new",), sort=sort)
        forward, backward = walk(session, f, size=5)
    from models.report import Report

    with rt.db.reading() as session:
        rows = [session.get(Report, n) for n in numbers]
    expected = {
        "newest": sorted(numbers, reverse=True),
        "oldest": sorted(numbers),
        "updated": [r.id for r in sorted(rows, key=lambda r: (r.updated_at, r.id), reverse=True)],
    }[sort]
    assert forward == expected
    assert backward == list(reversed(expected))


def test_queue_pages_through_next_links(app):
    rt = app.extensions["webleads"]
    numbers = add_reports(rt, [{} for _ in range(120)])
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    seen, url = [], "/console/reports"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += numbers_on(html)
        link = re.search(r'rel="next" href="([^"]+)"', html)
        url = link.group(1).replace("&amp;", "&") if link else None
    # the default order, most urgent first: one category, so the oldest (due first) first
    assert seen == sorted(numbers)
    assert "OFFSET" not in str(queue_page.__doc__).upper()


def test_filters_and_counts(app):
    rt = app.extensions["webleads"]
    old = utcnow() - timedelta(days=10)
    lea = make_agent(rt, "lea@vitre.example")
    n = add_reports(
        rt,
        [
            {"description": "Trou devant l'école", "address": "3 rue de Paris"},
            {"category": "lampadaire", "channel": "sms"},
            {"status": "resolved", "description": "Trou rebouché"},
            {"created_at": old, "updated_at": old},  # 10 days > 72 h: overdue
            {"assigned_agent_id": lea, "status": "in_progress"},
            {"lat": 48.2000, "lon": -1.1000},  # outside the zone below
        ],
    )
    with rt.db.transaction() as session:
        zone = Zone(
            name="Centre",
            kind="pilot",
            geometry={
                "type": "Polygon",
                "coordinates": [
                    [[-1.22, 48.11], [-1.19, 48.11], [-1.19, 48.14], [-1.22, 48.14], [-1.22, 48.11]]
                ],
            },
        )
        session.add(zone)
        session.flush()
        zone_id = zone.id
    client = app.test_client()
    log_in_as(client, lea)

    def shown(query: str) -> set[int]:
        return set(numbers_on(client.get("/console/reports?" + query).get_data(as_text=True)))

    roads = {n[0], n[3], n[4], n[5]}  # Léa's service (roads); the streetlight is not hers
    assert shown("") == roads
    assert shown("status=all") == roads | {n[2]}
    assert shown("status=resolved") == {n[2]}
    assert shown("overdue=1") == {n[3]}
    assert shown("mine=1") == {n[4]}
    assert shown("q=trou&status=all") == {n[0], n[2]}
    assert shown("q=rue+de+paris") == {n[0]}
    assert shown(f"q=%23{n[3]}") == {n[3]}
    assert shown(f"zone={zone_id}") == roads - {n[5]}
    assert shown("channel=sms") == set()
    html = client.get("/console/reports?q=trou").get_data(as_text=True)
    counts = dict(re.findall(r'data-status="(\w+)">\s*[^<]*<span class="count">(\d+)</span>', html))
    assert counts["new"] == "1" and counts["resolved"] == "1" and counts["all"] == "2"
    admin = app.test_client()
    log_in_as(admin, admin_id(rt))
    assert set(numbers_on(admin.get("/console/reports?channel=sms").get_data(as_text=True))) == {
        n[1]
    }
    points = admin.get(f"/console/reports.json?zone={zone_id}").get_json()["features"]
    assert {p["properties"]["number"] for p in points} == {n[0], n[1], n[3], n[4]}


def test_csv_export_of_a_filtered_queue(app):
    rt = app.extensions["webleads"]
    numbers = add_reports(
        rt,
        [
            {"description": '=HYPERLINK("http://evil")', "address": "12 rue de la Poterie"},
            {"category": "lampadaire"},
            *[{} for _ in range(30)],
        ],
    )
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    response = client.get("/console/reports.csv?status=open&category=1&sort=newest")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [int(r["Numéro"]) for r in rows] == sorted(set(numbers) - {numbers[1]}, reverse=True)
    first = rows[-1]
    assert first["Catégorie"] == "Nid-de-poule" and first["Service"] == "Voirie"
    assert first["Adresse"] == "12 rue de la Poterie" and first["Statut"] == "new"
    assert first["Description"].startswith("'=")  # never a live formula in a spreadsheet
