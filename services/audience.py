"""Who sees what of a report: one rule for every path that shows one (docs/architecture.md).

Four audiences read a report:
- its **author**: everything they gave (the place as they typed it), the agents' words
  to them as written, "your report";
- a **follower who is not the author**: the public view's place (a geocoder's street,
  never typed text) and the agents' words redacted like the public site's, "the report
  you follow"; nothing at all once the report is hidden;
- the **public** (the site, the feeds, keyless Open311, `#N` from a stranger): the public
  view of services/public_view.py; a hidden report does not exist for it;
- an **agent**: the whole record, within their services and communes (the console's and
  the crews' rule: services/access.py).

A path that writes to a citizen about a report asks `ReportViews.for_audience` (or
`citizen_view`) and builds its words from the view it gets, never from the report's raw
fields; a view of None means: say nothing of it to that audience.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from sqlmodel import Session

from models.agent import agent_names
from models.catalog import Category, Service
from models.citizen import Citizen, citizens_by_id
from models.public_queries import people_of_reports, public_events
from models.report import Report, followers_of, is_follower
from services.public_view import Redaction, public_place_and_redaction


class Audience(StrEnum):
    AUTHOR = "author"
    FOLLOWER = "follower"  # follows it, did not file it
    PUBLIC = "public"
    AGENT = "agent"


# The audiences that read the report as the citizen who filed it did.
PRIVATE = frozenset({Audience.AUTHOR, Audience.AGENT})


class CitizenView:
    """What one audience may read of a report, in the words it may read.

    A view for a follower or the public takes its place and redaction from the public
    view, which reads the report's history: `derive` does that on the first reading of
    either, so a path that only asks whether, and as whom, someone may see the report
    (`#N`'s status) reads no history."""

    __slots__ = ("_derive", "_place", "_redaction", "audience", "ref")

    def __init__(
        self,
        audience: Audience,
        ref: str,
        place: str | None = None,  # the author's typed address, or the public street
        redaction: Redaction | None = None,  # None: the words as written
        *,
        derive: Callable[[], CitizenView] | None = None,
    ) -> None:
        self.audience, self.ref = audience, ref
        self._place, self._redaction, self._derive = place, redaction, derive

    def _derived(self) -> CitizenView:
        if self._derive is not None:
            public, self._derive = self._derive(), None
            self._place, self._redaction = public.place, public.redaction
        return self

    @property
    def place(self) -> str | None:
        """The place this audience may read; None: say none."""
        return self._derived()._place

    @property
    def redaction(self) -> Redaction | None:
        return self._derived()._redaction

    def __repr__(self) -> str:
        return f"CitizenView({self.audience!s}, {self.ref!r})"

    @property
    def is_author(self) -> bool:
        return self.audience in PRIVATE

    def words(self, text: str | None) -> str | None:
        """The agents' words as this audience may read them (None: nothing to show)."""
        if not text or not text.strip():
            return None
        if self.redaction is None:
            return text.strip()
        return self.redaction.remove(text)


def audience_of(session: Session, report: Report, citizen_id: int | None) -> Audience:
    """The audience a citizen belongs to for this report."""
    if citizen_id is None:
        return Audience.PUBLIC
    if report.citizen_id == citizen_id:
        return Audience.AUTHOR
    if is_follower(session, report.id, citizen_id):
        return Audience.FOLLOWER
    return Audience.PUBLIC


class ReportViews:
    """The views of one report for each audience; the redaction is derived once, and only
    when an audience other than the author asks."""

    def __init__(self, session: Session, report: Report, category: Category | None = None,
                 service: Service | None = None) -> None:  # fmt: skip
        self.session, self.report = session, report
        self.category, self.service = category, service
        self._public: CitizenView | None = None

    def for_audience(self, audience: Audience) -> CitizenView | None:
        report = self.report
        if audience in PRIVATE:
            return CitizenView(audience, report.ref, report.address)
        if report.hidden:
            return None
        return CitizenView(audience, report.ref, derive=self._public_view)

    def _public_view(self) -> CitizenView:
        if self._public is None:
            self._public = self._derive_public()
        return self._public

    def _derive_public(self) -> CitizenView:
        number = self.report.id
        events = public_events(self.session, [number])[number]
        names = agent_names(self.session, sorted({e.agent_id for e in events if e.agent_id}))
        label, redaction = public_place_and_redaction(
            self.report,
            self.category or self.session.get(Category, self.report.category_id),
            self.service or self.session.get(Service, self.report.service_id),
            events,
            people_of_reports(self.session, [number])[number],
            agents=sorted(names.values()),
        )
        return CitizenView(Audience.PUBLIC, self.report.ref, label, redaction)


def recipients(session: Session, report: Report) -> list[tuple[Citizen, Audience]]:
    """The followers who can receive news of the report, each with their audience; the
    non-author followers of a hidden report are left out (hiding ends their news)."""
    rows = followers_of(session, report.id)
    citizens = citizens_by_id(session, [citizen_id for citizen_id, _ in rows])
    found = []
    for citizen_id, is_author in rows:
        citizen = citizens.get(citizen_id)
        if citizen is None or not citizen.can_receive:
            continue
        audience = Audience.AUTHOR if is_author else Audience.FOLLOWER
        if audience is Audience.FOLLOWER and report.hidden:
            continue
        found.append((citizen, audience))
    return found


def citizen_view(session: Session, report: Report, citizen_id: int | None) -> CitizenView | None:
    """The view of a report for one citizen (the author, a follower, or anyone)."""
    return ReportViews(session, report).for_audience(audience_of(session, report, citizen_id))
