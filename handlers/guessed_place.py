"""The place a message read as a report named (handlers/sentence.py): found as such,
looked up by the worker, or chosen among what the geocoder found; then what is missing."""

from __future__ import annotations

from handlers import location
from handlers.context import Ctx
from models.citizen import State
from services.geo import Found, Place, geocoder_enabled, needs_network
from services.texts import fold
from services.types import Inbound, Outcome, Reply, go_on


def place_guess(ctx: Ctx, place: dict | None) -> Outcome:
    """Goes on with the place the message named: found, looked up, or asked for."""
    if not place:
        return _then(ctx)
    if place.get("lat") is not None:  # a landmark with its own coordinates
        ctx.draft.update(lat=place["lat"], lon=place["lon"], address=place["label"],
                         geolocated=True)  # fmt: skip
        return _then(ctx)
    query = f"{place['number']} {place['street']}" if place.get("number") else place["street"]
    if not geocoder_enabled(ctx.rt):
        ctx.draft.update(address=query, geolocated=False)
        return _then(ctx)
    if needs_network(ctx.rt.geocoder):
        return Outcome([], State.GUESS, wait=location.look_up(query))
    return _placed(ctx, query, location.search(ctx, query))


def placed(ctx: Ctx, msg: Inbound) -> Outcome:
    """Goes on with the place the worker found for the guessed street."""
    event = msg.event or {}
    if event.get("unavailable"):
        return _placed(ctx, event["text"], None)
    places = [Place(**place) for place in event.get("places", [])]
    return _placed(ctx, event["text"], Found(places, event.get("elsewhere")))


def _placed(ctx: Ctx, query: str, found: Found | None) -> Outcome:
    """The place confirmed with the guess, when the geocoder finds that very address;
    otherwise the citizen picks among what it found, as for a typed address."""
    places = [
        p for p in (found.places if found else []) if not location.zone_refusal(ctx, p.lat, p.lon)
    ]
    if places and fold(places[0].label).startswith(fold(query)):
        best = places[0]
        ctx.draft.update(lat=best.lat, lon=best.lon, address=best.label, geolocated=True)
        return _then(ctx)
    return location.found_places(ctx, query, found)


def _then(ctx: Ctx) -> Outcome:
    """What is still missing after the questions: the photo (on SMS: by the link at the
    end), the place..."""
    if ctx.channel.needs_link_for_pin and not ctx.draft.get("media_ids"):
        # Every exchange is a paid SMS, and most French numbers receive no MMS: the done
        # message brings the link to add a photo, so it is not asked for here.
        note = Reply(ctx.t("You can add a photo with the link you will get once it is sent."))
        return go_on(State.PHOTO, [note])
    return go_on(State.QUESTION)
