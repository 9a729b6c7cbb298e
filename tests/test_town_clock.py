"""The town's calendar (Europe/Paris): on the days its clocks change the morning digest goes
at the head's hour of that day and counts from that hour the day before; at 00:30 on
1 January in Vitré (23:30 UTC on the 31st) the console shows the town's day and hour."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from models.catalog import service_by_code
from services import crew_digest, crew_links
from tests.helpers import TalkingCitizen, add_reports, admin_id, log_in_as, make_agent

# (the day, 07:30 in Vitré that morning and the morning before, in UTC)
CHANGES = [
    pytest.param(
        datetime(2027, 3, 28, 5, 30, tzinfo=UTC), datetime(2027, 3, 27, 6, 30, tzinfo=UTC),
        id="spring-forward",
    ),
    pytest.param(
        datetime(2027, 10, 31, 6, 30, tzinfo=UTC), datetime(2027, 10, 30, 5, 30, tzinfo=UTC),
        id="fall-back",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("due", "yesterday"), CHANGES)
def test_the_digest_keeps_the_towns_hour_when_the_clocks_change(rt, due, yesterday) -> None:
    minute = timedelta(minutes=1)
    with time_machine.travel(due - timedelta(hours=1), tick=True):
        new, _older = add_reports(
            rt, [{"created_at": yesterday + 10 * minute}, {"created_at": yesterday - 10 * minute}]
        )
        head_id = make_agent(rt, "chef@ville.fr", services=("voirie",))
        phone = TalkingCitizen(rt, "chef-phone", name="Chef", language_code="en")
        with rt.db.transaction() as session:
            code = crew_links.issue_code(session, head_id, rt.settings.SECRET_KEY)
        assert "Linked" in phone.texts(f"/agent {code}")
        with rt.db.transaction() as session:
            roads = service_by_code(session, "voirie").id
            crew_digest.set_head(session, head_id, roads)
            crew_digest.set_digest_time(session, roads, "07:30")
        with rt.db.transaction() as session:
            assert crew_digest.send_due_digests(session, due - minute) == 0
        with rt.db.transaction() as session:
            assert crew_digest.send_due_digests(session, due + minute) == 1
        [digest] = phone.new_messages()
    assert digest.text.startswith("Good morning. Roads: 1 new since yesterday"), digest.text
    assert f"#{new}" in digest.text


def test_the_console_shows_the_towns_day_and_hour(app, new_year_in_vitre) -> None:
    rt = app.extensions["webleads"]
    [number] = add_reports(rt, [{"created_at": datetime(2027, 12, 31, 23, 10, tzinfo=UTC)}])
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    queue = client.get("/console/reports").get_data(as_text=True)
    assert re.search(rf'href="/console/reports/{number}".*?01/01 00:10', queue, re.S)
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "01/01/2028 00:10" in page and "31/12/2027" not in page
