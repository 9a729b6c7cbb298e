"""The dashboard's daily figures stay equal to a recount from the reports themselves."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import timedelta

import numpy

from models.catalog import category_by_code
from models.console_queries import filed_per_channel, filed_since, reports_closed_per_day
from models.daily_figure import backfill, daily_figures
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
        hours[s, c][0].extend(numpy.frombuffer(ack, dtype=numpy.float64).tolist())
        hours[s, c][1].extend(numpy.frombuffer(resolve, dtype=numpy.float64).tolist())
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

    times = {k: (sorted(round(h, 4) for h in a), sorted(round(h, 4) for h in r))
             for k, (a, r) in hours.items()}  # fmt: skip
    return keep(arrivals), keep(closures), keep(channels), keep(reopened), times


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
    assert kept == counted
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
        assert _from_table(session, since_day) == kept
