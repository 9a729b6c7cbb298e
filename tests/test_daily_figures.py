"""The dashboard's daily figures stay equal to a recount from the reports themselves."""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from datetime import timedelta

import numpy
import pytest
from sqlalchemy import select

from models.catalog import category_by_code
from models.daily_figure import backfill, daily_figures
from models.dashboard_queries import backlog, filed_per_channel, filed_since, reports_closed_per_day
from models.db import utcnow
from services.reports import change_status, recategorise
from tests.helpers import add_reports


def _from_table(session, since):
    """What the dashboard reads, summed as it sums it."""
    arrivals, closures, channels = Counter(), Counter(), Counter()
    reopened, hours = Counter(), defaultdict(lambda: ([], []))
    for day, s, c, per_channel, n, again, closed, ack, resolve in daily_figures(
        session, since, None
    ):
        arrivals[str(day), s, c] += n
        closures[str(day), s, c] += closed
        channels.update(json.loads(per_channel))
        reopened[s, c] += again
        hours[s, c][0].extend(numpy.frombuffer(ack, dtype="<f4").tolist())
        hours[s, c][1].extend(numpy.frombuffer(resolve, dtype="<f4").tolist())
    return _clean(arrivals, closures, channels, reopened, hours)


def _from_reports(session, since):
    """The same figures, read from every report as the dashboard did before (issue 16)."""
    arrivals, closures, reopened = Counter(), Counter(), Counter()
    hours = defaultdict(lambda: ([], []))
    for day, s, c, ack, resolve, again in filed_since(session, since, None):
        arrivals[str(day), s, c] += 1
        reopened[s, c] += bool(again)
        if ack is not None:
            hours[s, c][0].append(float(ack))
        if resolve is not None:
            hours[s, c][1].append(float(resolve))
    for day, s, c, n in reports_closed_per_day(session, since, None):
        closures[str(day), s, c] += n
    channels = Counter(filed_per_channel(session, since, None))
    return _clean(arrivals, closures, channels, reopened, hours)


def _clean(arrivals, closures, channels, reopened, hours):
    def keep(counter):
        return {k: v for k, v in counter.items() if v}

    # A key with no hours yet (nothing acknowledged) has none on either side.
    times = {k: (sorted(a), sorted(r)) for k, (a, r) in hours.items() if a or r}
    return keep(arrivals), keep(closures), keep(channels), keep(reopened), times


def _assert_same(kept, counted):
    """Equal counts; equal hours to the figures' precision (float32: seconds in a year)."""
    assert kept[:4] == counted[:4]
    assert kept[4].keys() == counted[4].keys()
    for key, (ack, resolve) in kept[4].items():
        for ours, theirs in zip((ack, resolve), counted[4][key], strict=True):
            assert len(ours) == len(theirs)
            assert numpy.allclose(ours, theirs, rtol=1e-6, atol=1e-3), key


def test_figures_equal_a_recount_after_every_kind_of_change(app):
    rt = app.extensions["webleads"]
    now = utcnow()
    ago = lambda hours: now - timedelta(hours=hours)  # noqa: E731
    numbers = add_reports(
        rt,
        [
            {"created_at": ago(80)},
            {"created_at": ago(50), "channel": "telegram"},
            {"created_at": ago(30), "category": "graffiti", "channel": "sms"},
            {"created_at": ago(26)},
            {"created_at": ago(3), "category": "lampadaire"},
        ],
    )
    first, second, third, fourth, fifth = numbers
    with rt.db.transaction() as session:
        change_status(session, first, "acknowledged")
        change_status(session, second, "resolved", message="Rebouché.")
        change_status(session, third, "closed", message="Hors compétence.")
    with rt.db.transaction() as session:
        change_status(session, second, "in_progress")  # reopened: no longer done
        change_status(session, third, "acknowledged")  # reopened from closed
        change_status(session, fourth, "duplicate", duplicate_of=first, message="Déjà signalé.")
        graffiti = category_by_code(session, "graffiti")
        recategorise(session, fifth, graffiti.id, agent_id=None)
        change_status(session, fifth, "resolved", message="Nettoyé.")

    since_day = (now - timedelta(days=30)).date()
    since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=30)
    with rt.db.reading() as session:
        kept = _from_table(session, since_day)
        counted = _from_reports(session, since)
    _assert_same(kept, counted)
    arrivals, closures, channels, reopened, times = kept
    assert sum(arrivals.values()) == 5
    assert sum(closures.values()) == 2  # the merged one and the recategorised one
    assert channels == {"dev": 3, "telegram": 1, "sms": 1}
    assert sum(reopened.values()) == 2
    # the reopened one keeps its first resolution time, as the reports' own figures do
    assert sum(len(resolve) for _ack, resolve in times.values()) == 2

    # A full recount (what the migration does) finds the very same rows.
    with rt.db.transaction() as session:
        backfill(session.connection())
    with rt.db.reading() as session:
        _assert_same(_from_table(session, since_day), kept)


def test_reports_filed_fresh_are_added_to_their_rows_as_a_recount_would_count_them(app):
    """A report filed open and untouched is added to its row (received, still open, its
    channel) without a recount of the day: on a row a recount wrote, on a row it adds,
    together with a change of the same key in one transaction, and not at all when the
    savepoint that filed it is rolled back. The rows stay one per key, equal to a recount."""
    from models.daily_figure import DailyFigure
    from models.report import Report

    rt = app.extensions["webleads"]
    now = utcnow()
    ago = lambda minutes: {"created_at": now - timedelta(minutes=minutes)}  # noqa: E731
    since_day = (now - timedelta(days=30)).date()
    since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=30)

    def figures():
        with rt.db.reading() as session:
            kept = _from_table(session, since_day)
            _assert_same(kept, _from_reports(session, since))
            keys = session.execute(
                select(DailyFigure.day, DailyFigure.service_id, DailyFigure.category_id,
                       DailyFigure.commune)
            ).all()  # fmt: skip
            assert len(keys) == len(set(keys))  # one row per key
        return kept

    (first,) = add_reports(rt, [ago(50)])
    with rt.db.transaction() as session:
        change_status(session, first, "acknowledged")  # the key's row, from a recount
    for channel in ("telegram", "sms", "telegram"):
        add_reports(rt, [{**ago(40), "channel": channel}])  # added to that row
    add_reports(rt, [{**ago(40), "category": "graffiti"}, ago(30)])  # a new row, and one more
    arrivals, _, channels, *_ = figures()
    assert sum(arrivals.values()) == 6
    assert channels == {"dev": 3, "telegram": 2, "sms": 1}

    (second,) = add_reports(rt, [ago(20)])
    with rt.db.transaction() as session:
        change_status(session, second, "resolved", message="Fait.")
        category = category_by_code(session, "nid-de-poule")
        session.add(Report(category_id=category.id, service_id=category.service_id,
                           channel="sms", description="Encore un", lat=48.1, lon=-1.2,
                           created_at=now - timedelta(minutes=10)))  # fmt: skip
    with rt.db.transaction() as session:
        savepoint = session.begin_nested()
        session.add(Report(category_id=category.id, service_id=category.service_id,
                           channel="sms", description="Annulé", lat=48.1, lon=-1.2,
                           created_at=now - timedelta(minutes=5)))  # fmt: skip
        session.flush()
        savepoint.rollback()
    kept = figures()
    arrivals, closures, channels, *_ = kept
    assert sum(arrivals.values()) == 8 and sum(closures.values()) == 1
    assert channels == {"dev": 4, "telegram": 2, "sms": 2}  # not the one rolled back
    with rt.db.transaction() as session:
        backfill(session.connection())
    with rt.db.reading() as session:
        _assert_same(_from_table(session, since_day), kept)


def test_two_agents_closing_reports_of_one_day_at_once_are_both_counted(app):
    """Two transactions change reports of the same day, service and category and commit
    together: each recounts under the key's lock, so neither's change is lost or doubled."""
    rt = app.extensions["webleads"]
    if rt.db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's writers run one at a time (BEGIN IMMEDIATE): nothing to race")
    now = utcnow()
    numbers = add_reports(rt, [{"created_at": now - timedelta(hours=2)} for _ in range(6)])
    ready = threading.Barrier(len(numbers))
    errors = []

    def close(number):
        try:
            with rt.db.transaction() as session:
                change_status(session, number, "resolved", message="Fait.")
                session.flush()
                ready.wait(timeout=10)  # every transaction has its change, none committed
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=close, args=(n,)) for n in numbers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    since_day = (now - timedelta(days=30)).date()
    since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=30)
    with rt.db.reading() as session:
        kept = _from_table(session, since_day)
        _assert_same(kept, _from_reports(session, since))
    arrivals, closures, *_ = kept
    assert sum(arrivals.values()) == 6
    assert sum(closures.values()) == 6


def test_the_backlog_from_the_figures_counts_overdue_to_the_minute(app):
    """Open and overdue per service come from the daily figures; on a category's deadline
    day, a report filed a minute before the deadline is late and one a minute after is not."""
    rt = app.extensions["webleads"]
    with rt.db.reading() as session:
        pothole = category_by_code(session, "nid-de-poule")
    now = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    deadline = now - timedelta(hours=pothole.sla_hours)
    add_reports(
        rt,
        [
            {"created_at": deadline - timedelta(minutes=1)},  # late by a minute
            {"created_at": deadline + timedelta(minutes=1)},  # a minute left
            {"created_at": deadline - timedelta(days=2)},  # late for days
            {
                "created_at": deadline - timedelta(days=2),
                "status": "resolved",
                "resolved_at": deadline,
            },
            {"created_at": now - timedelta(days=400), "category": "lampadaire"},
        ],
    )
    with rt.db.reading() as session:
        rows = {(s, c): (n, late) for s, c, n, late in backlog(session, None, now)}
    assert rows[pothole.service_id, pothole.id] == (3, 2)
    assert sum(late for _n, late in rows.values()) == 3  # the streetlight of 400 days ago
