"""Reports an agent files for a resident who came to the town hall's desk or called it.

The resident gets what the chat's users get: the report's number, its news on the channel
they chose (an SMS number, an e-mail address: the channels whose spec says an agent may
type one, `typed_by_agent`), or nothing when they want none. The report comes in through
the counter or a phone call (its `channel`: registered below as channels for no citizen,
so the console's labels and the dashboard's split name them); its `created` event names
the agent who filed it, which puts it in the audit log.

The place is looked up before any transaction (`find_place`): the console waits on the
geocoder the way the worker does, never with a write lock held.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from models.citizen import lock_citizen
from models.jobs import JobKind, queue_job
from models.messaging import PRIORITY_REPLY, queue_messages
from models.report import Report
from models.scope import AgentScope
from services import access, channels, links, reports
from services.catalog import CategoryInfo, Snapshot
from services.channels import Channel, register
from services.config import Settings
from services.geo import SURE_SCORE, GeocoderUnavailable, geocoder_enabled
from services.texts import N_, translate

# How the report came in: at the desk, or by a call (the report's channel).
COUNTER, PHONE_CALL = "counter", "phone_call"
for _name, _labels in (
    (COUNTER, {"en": "Counter", "fr": "Guichet"}),
    (PHONE_CALL, {"en": "Phone call", "fr": "Appel téléphonique"}),
):
    register(Channel(name=_name, labels=_labels, for_citizens=False))
WAYS_IN = (COUNTER, PHONE_CALL)

MAX_DESCRIPTION = 4000  # as Open311's: a resident's account, typed by an agent
MIN_PLACE = 3
CANDIDATES = 3

# The acknowledgement, as the chat's users get it when their report is filed.
FILED = N_(
    "Thank you! Your report {ref} is registered. You will get its updates here; send {ref} "
    "at any time to see its status."
)
FILED_IN = N_(
    "Thank you! Your report {ref} in {commune} is registered. You will get its updates "
    "here; send {ref} at any time to see its status."
)
IDEA_FILED = N_("Thank you! Your idea {ref} is registered. You will hear from us here.")
ADD_PHOTO = N_(
    "Add a photo and pin the exact place of {ref} on a map (link valid for 24 hours, "
    "single use): {link}"
)


class CounterError(ValueError):
    """Why the report cannot be filed as given: `text` an English msgid the console says in
    the agent's language, with `values`; `field` the form's field it is about."""

    def __init__(self, field: str, text: str, **values) -> None:
        self.field, self.text, self.values = field, text, values
        super().__init__(text % values if values else text)


@dataclass(frozen=True)
class Place:
    """Where the problem is, as it will be filed."""

    lat: float | None
    lon: float | None
    address: str | None
    geolocated: bool


@dataclass
class Lookup:
    """What the geocoder made of a typed place: one `place` to file, or `choices` to pick
    from, or why not (`problem`: "not_found", "outside", "elsewhere"; `area` names it)."""

    place: Place | None = None
    choices: list[Place] = field(default_factory=list)
    problem: str | None = None
    area: str = ""
    unavailable: bool = False


def contact_channels(settings: Settings) -> list[Channel]:
    """The channels an agent may type a resident's address for, in the registry's order."""
    return [c for c in channels.enabled_channels(settings) if c.typed_by_agent and c.for_citizens]


def read_contact(settings: Settings, channel_name: str, text: str) -> str:
    """The resident's address on that channel, normalised (an E.164 number); CounterError
    when it cannot be one."""
    spec = next((c for c in contact_channels(settings) if c.name == channel_name), None)
    if spec is None:
        raise CounterError("contact", N_("Choose how the resident gets the news."))
    text = (text or "").strip()
    if not text:
        raise CounterError(f"address_{spec.name}", _missing(spec))
    try:
        address = spec.identity(text, settings.DEFAULT_REGION)
    except ValueError:
        address = None
    if not address:
        raise CounterError(f"address_{spec.name}", _invalid(spec))
    return address


def _missing(spec: Channel) -> str:
    if spec.typed_by_agent == "email":
        return N_("Type the resident's e-mail address.")
    return N_("Type the resident's mobile number.")


def _invalid(spec: Channel) -> str:
    if spec.typed_by_agent == "email":
        return N_("This is not an e-mail address.")
    return N_("This is not a mobile number (for example: 06 12 34 56 78).")


def pinned(snapshot: Snapshot, lat: float, lon: float) -> Place:
    """A place picked on the map; CounterError outside the area the service covers."""
    area = snapshot.zones.refusal(lat, lon, snapshot.area_name)
    if area:
        raise CounterError(
            "place", N_("This place is outside the area the service covers (%(area)s)."), area=area
        )
    return Place(lat, lon, None, True)


def named(rt, place: Place) -> Place:
    """A pin with the address the geocoder gives it (no transaction open), if any."""
    if not geocoder_enabled(rt):
        return place
    try:
        found = rt.geocoder.reverse(place.lat, place.lon)
    except GeocoderUnavailable:
        return place  # the pin is what matters; agents see the map
    return Place(place.lat, place.lon, found.label[:255] if found else None, True)


def find_place(rt, snapshot: Snapshot, text: str) -> Lookup:
    """Looks a typed place up, with no transaction open (the geocoder may be remote).

    One sure answer inside the area is taken, as the bot's place_unlocated does; a few
    less sure ones are offered to pick from; a geocoder that does not answer keeps the
    place as typed, for the worker to place later (services/placing.py)."""
    text = text.strip()[:255]
    if not geocoder_enabled(rt):
        return Lookup(place=typed(text))
    try:
        found = rt.geocoder.search(text, snapshot.town)
    except GeocoderUnavailable:
        return Lookup(place=typed(text), unavailable=True)
    inside = [p for p in found.places if snapshot.zones.refusal(p.lat, p.lon) is None]
    sure = [p for p in inside if p.score >= SURE_SCORE]
    if len(sure) == 1:
        return Lookup(place=Place(sure[0].lat, sure[0].lon, sure[0].label[:255], True))
    if inside:
        return Lookup(choices=[Place(p.lat, p.lon, p.label[:255], True)
                               for p in inside[:CANDIDATES]])  # fmt: skip
    if found.places:
        area = snapshot.zones.refusal(found.places[0].lat, found.places[0].lon,
                                      snapshot.area_name)  # fmt: skip
        return Lookup(problem="outside", area=area or "")
    if found.elsewhere:
        return Lookup(problem="elsewhere", area=found.elsewhere)
    return Lookup(problem="not_found")


def typed(text: str) -> Place:
    """The place kept as typed, flagged for the agents as a place to be confirmed."""
    return Place(None, None, text.strip()[:255], False)


@dataclass(frozen=True)
class Filed:
    report: Report
    reached: bool  # an acknowledgement is on its way to the resident
    opted_out: bool  # the resident's number said STOP: nothing will reach them


def file_for_resident(
    session: Session,
    settings: Settings,
    snapshot: Snapshot,
    *,
    agent_id: int,
    scope: AgentScope,
    way_in: str,
    category: CategoryInfo,
    description: str,
    place: Place | None,
    contact: tuple[str, str] | None,
    upload: str | None = None,
) -> Filed:
    """Files the report for the resident, in the caller's transaction: found or created on
    their channel (`contact`: channel, address), acknowledged there with the number, the
    photo's decoding queued. CounterError (nothing kept) outside the agent's scope."""
    if way_in not in WAYS_IN:
        raise CounterError("way_in", N_("Say how the resident reached the town hall."))
    citizen = None
    if contact is not None:
        citizen, _conversation, _created = lock_citizen(
            session, contact[0], contact[1], display_name=None,
            language=settings.DEFAULT_LANGUAGE,
        )  # fmt: skip
    lat, lon = (place.lat, place.lon) if place else (None, None)
    draft = {"description": description, "lat": lat, "lon": lon,
             "address": place.address if place else None,
             "geolocated": bool(place and place.geolocated)}  # fmt: skip
    commune = snapshot.zones.commune_at(lat, lon)
    report = reports.file_report(session, citizen, draft, category, commune,
                                 channel=way_in, agent_id=agent_id)  # fmt: skip
    if not access.sees(scope, report):
        raise CounterError(
            "category", N_("This report would go to a service or commune outside yours.")
        )
    if upload is not None:
        # Decoded by the worker as the link page's photos are; the agent took it, so it is
        # nobody's message and a refusal is told to nobody.
        queue_job(session, JobKind.LINK_PHOTO, {"upload": upload}, report_id=report.id)
    reached = citizen is not None and citizen.can_receive
    if reached:
        _acknowledge(session, settings, snapshot, report, citizen, category, upload is not None)
    opted_out = citizen is not None and not citizen.can_receive
    return Filed(report, reached, opted_out)


def _acknowledge(session, settings, snapshot, report, citizen, category, photo: bool) -> None:
    """Queues the number and how to follow it, in the resident's language, on their channel."""
    lang = citizen.language
    commune = snapshot.zones.commune_name(report.commune) if snapshot.several_communes else None
    if category.is_idea:
        texts = [translate(lang, IDEA_FILED, ref=report.ref)]
    elif commune:
        texts = [translate(lang, FILED_IN, ref=report.ref, commune=commune)]
    else:
        texts = [translate(lang, FILED, ref=report.ref)]
    if channels.get(citizen.channel).needs_link_for_pin and not (report.geolocated and photo):
        link = links.report_link(settings.PUBLIC_BASE_URL, settings.SECRET_KEY, report.id,
                                 citizen.id)  # fmt: skip
        texts.append(translate(lang, ADD_PHOTO, ref=report.ref, link=link))
    queue_messages(
        session,
        [
            {
                "citizen_id": citizen.id,
                "channel": citizen.channel,
                "address": citizen.address,
                "payload": {"text": text},
                "priority": PRIORITY_REPLY,
                "report_id": report.id,
            }
            for text in texts
        ],
    )
