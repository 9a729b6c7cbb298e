"""The town's calendar: timestamps are stored in UTC, people read days in Europe/Paris."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

TOWN_ZONE = ZoneInfo("Europe/Paris")


def in_town(moment: datetime) -> datetime:
    """A stored moment (aware, or naive UTC as a database returns it) in the town's time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TOWN_ZONE)


def town_date(moment: datetime) -> str:
    """The day as people in the town say it (dd/mm/yyyy): at 00:30 on 1 January in Vitré,
    something done at 23:30 UTC the evening before was done on 01/01."""
    return in_town(moment).strftime("%d/%m/%Y")
