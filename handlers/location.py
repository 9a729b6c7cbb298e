"""The location: a pin, or a typed address (geocoded and confirmed when possible)."""

from __future__ import annotations

from handlers.context import Ctx
from models.citizen import State
from models.db import read_number
from models.jobs import JobKind
from services.geo import Found, GeocoderUnavailable, Place, geocoder_enabled, needs_network
from services.texts import fold
from services.types import Inbound, Outcome, Reply, Wait, WorkerEvent, go_on

SKIP = "skip"
KEEP = "keep"  # keep the place as the citizen typed it (a landmark the geocoder does not know)
SKIP_WORDS = {"skip", "passer", "passe", "aucun", "none", "non", "no"}
MIN_ADDRESS = 3


def given(ctx: Ctx) -> bool:
    """The place step is answered: a pin or an address is already in the draft."""
    return "lat" in ctx.draft or "address" in ctx.draft


def ask(ctx: Ctx) -> list[Reply]:
    """Asks where it is: a pin (Telegram button) or an address."""
    category = ctx.category
    if category is not None and category.is_idea:
        return [
            Reply(
                ctx.t(
                    "Is your idea about a particular place? Share it or type the address, "
                    "or choose Skip."
                ),
                choices=[(SKIP, ctx.t("Skip"))],
                request_location=True,
            )
        ]
    return [
        Reply(
            ctx.t(
                "Where is it? Share your location, or type the address "
                "(for example: 12 rue de la Poterie)."
            ),
            request_location=True,
        )
    ]


def take_pin(ctx: Ctx, msg: Inbound) -> Outcome:
    """Stores the shared location and moves on (once the pin has a name)."""
    refusal = zone_refusal(ctx, *msg.location)  # type: ignore[misc]
    if refusal:
        return Outcome([refusal, *ask(ctx)], State.LOCATION)
    wait = place_pin(ctx, msg)
    if wait is not None:
        return Outcome([], State.LOCATION, wait=wait)
    return go_on(State.LOCATION)


def place_pin(ctx: Ctx, msg: Inbound) -> Wait | None:
    """Keeps a pin inside the zones; names it now, or returns the lookup to wait for."""
    lat, lon = msg.location  # type: ignore[misc]
    ctx.draft.update(lat=lat, lon=lon, address=None, geolocated=True)
    if not geocoder_enabled(ctx.rt):
        return None
    if needs_network(ctx.rt.geocoder):
        return Wait(JobKind.NAME_PIN, {"lat": lat, "lon": lon})
    try:
        place = ctx.rt.geocoder.reverse(lat, lon)
    except GeocoderUnavailable:
        place = None  # the pin is what matters; agents see the map
    name_pin(ctx, {"lat": lat, "lon": lon, "label": place.label if place else None})
    return None


def name_pin(ctx: Ctx, event: dict) -> None:
    """Gives the draft's pin the address found for it, if it is still the same pin."""
    if (ctx.draft.get("lat"), ctx.draft.get("lon")) == (event["lat"], event["lon"]):
        ctx.draft["address"] = event.get("label")


def looked_up(ctx: Ctx, msg: Inbound) -> Outcome:
    """Goes on with what the worker found: the pin's address, or the typed address's."""
    event = msg.event or {}
    if event.get("kind") == WorkerEvent.PIN_NAMED:
        name_pin(ctx, event)
        return go_on(State.LOCATION)
    if event.get("unavailable"):
        return found_places(ctx, event["text"], None)
    places = [Place(**place) for place in event.get("places", [])]
    return found_places(ctx, event["text"], Found(places, event.get("elsewhere")))


def zone_refusal(ctx: Ctx, lat: float, lon: float) -> Reply | None:
    outside = ctx.catalog.zones.refusal(lat, lon, ctx.catalog.area_name)
    if outside is None:
        return None
    return Reply(
        ctx.t(
            "This place is outside the area the service covers ({area}). "
            "Please give a place in {area}.",
            area=outside,
        )
    )


def skip(ctx: Ctx, msg: Inbound) -> Outcome:
    """Goes on without a place (ideas only), or with the place kept as typed; any other
    button is out of date."""
    category = ctx.category
    if msg.choice == SKIP and category is not None and category.is_idea:
        return go_on(State.LOCATION)
    if msg.choice == KEEP and ctx.draft.get("typed"):
        return keep_unlocated(ctx, ctx.draft["typed"])
    return Outcome([Reply(ctx.t("That button is no longer active.")), *ask(ctx)], State.LOCATION)


def take_address(ctx: Ctx, msg: Inbound) -> Outcome:
    """Geocodes a typed address and asks the citizen to confirm it."""
    text = (msg.text or "").strip()
    category = ctx.category
    if fold(text) in SKIP_WORDS and category is not None and category.is_idea:
        return go_on(State.LOCATION)
    if len(text) < MIN_ADDRESS:
        return Outcome(
            [Reply(ctx.t("Please type an address, or share your location."))], State.LOCATION
        )
    if not geocoder_enabled(ctx.rt):
        return keep_unlocated(ctx, text)
    if needs_network(ctx.rt.geocoder):
        return Outcome([], State.LOCATION, wait=look_up(text))
    return found_places(ctx, text, search(ctx, text))


def look_up(text: str) -> Wait:
    """The worker's lookup of a typed address; it comes back as an ADDRESS_FOUND event."""
    return Wait(JobKind.FIND_ADDRESS, {"text": text})


def search(ctx: Ctx, text: str) -> Found | None:
    """Looks an address up in the town now (a local geocoder); None: it did not answer."""
    try:
        return ctx.rt.geocoder.search(text, ctx.catalog.town)
    except GeocoderUnavailable:
        return None


def found_places(ctx: Ctx, text: str, found: Found | None) -> Outcome:
    """Asks the citizen to confirm what the geocoder found (None: it did not answer)."""
    if found is None:
        note = Reply(
            ctx.t(
                "I cannot check addresses right now: I keep yours as you wrote it, "
                "and the service will place it on the map."
            )
        )
        return keep_unlocated(ctx, text).led_by(note)
    places = [p for p in found.places if zone_refusal(ctx, p.lat, p.lon) is None][:3]
    if found.places and not places:  # found, but outside the boundary or the pilot zones
        refusal = zone_refusal(ctx, found.places[0].lat, found.places[0].lon)
        return Outcome([refusal, *ask(ctx)], State.LOCATION)
    town = ctx.catalog.area_name or ctx.t("the town")
    if not places and found.elsewhere:
        return Outcome(
            [
                Reply(
                    ctx.t(
                        "This address is in {city}, outside {town}. Please give a place in "
                        "{town}, or share your location.",
                        city=found.elsewhere,
                        town=town,
                    ),
                    request_location=True,
                )
            ],
            State.LOCATION,
        )
    if not places:
        return Outcome(not_found(ctx, text, town), State.LOCATION)
    ctx.draft["candidates"] = [[p.label, p.lat, p.lon] for p in places]
    return Outcome(ask_candidates(ctx), State.LOCATION_CONFIRM)


def not_found(ctx: Ctx, text: str, town: str) -> list[Reply]:
    """Offers a way on for a place the geocoder does not know ("devant l'église"): type it
    again, share a pin where the channel can, or keep it as written for the agents."""
    ctx.draft["typed"] = text[:255]
    pin = ctx.channel.can_share_location or ctx.channel.needs_link_for_pin
    if pin:
        ask_again = ctx.t(
            'I could not find "{place}" in {town}. Type the address again, share your '
            "location, or keep the place as you wrote it: the service will place it on the map.",
            place=text,
            town=town,
        )
    else:
        ask_again = ctx.t(
            'I could not find "{place}" in {town}. Type the address again, or keep the '
            "place as you wrote it: the service will place it on the map.",
            place=text,
            town=town,
        )
    choices = [(KEEP, ctx.t("Keep it as written"))]
    return [Reply(ask_again, choices=choices, request_location=pin)]


def keep_unlocated(ctx: Ctx, text: str) -> Outcome:
    """Keeps the address as typed, flagged for the agents as a place to be confirmed."""
    ctx.draft.pop("typed", None)
    ctx.draft.update(address=text[:255], geolocated=False)
    return go_on(State.LOCATION)


def ask_candidates(ctx: Ctx) -> list[Reply]:
    candidates = ctx.draft.get("candidates", [])
    if len(candidates) == 1:
        return [
            Reply(
                ctx.t("Is it {address}?", address=candidates[0][0]),
                choices=[("place:0", ctx.t("Yes")), ("no", ctx.t("No, another address"))],
            )
        ]
    choices = [(f"place:{i}", c[0]) for i, c in enumerate(candidates)]
    choices.append(("no", ctx.t("None of these")))
    return [Reply(ctx.t("Which of these addresses is it?"), choices=choices)]


def confirm_candidate(ctx: Ctx, msg: Inbound) -> Outcome:
    """Takes the confirmed address, or asks for another one."""
    choice = msg.choice or ""
    candidates = ctx.draft.get("candidates", [])
    if choice.startswith("place:"):
        index = read_number(choice.removeprefix("place:") or "0")
        if index is not None and index < len(candidates):
            label, lat, lon = candidates[index]
            ctx.draft.pop("candidates", None)
            ctx.draft.update(lat=lat, lon=lon, address=label, geolocated=True)
            return go_on(State.LOCATION)
    ctx.draft.pop("candidates", None)
    return Outcome(
        [
            Reply(
                ctx.t("Then type the address again, or share your location."), request_location=True
            )
        ],
        State.LOCATION,
    )


def retype(ctx: Ctx, msg: Inbound) -> Outcome:
    """Takes a new address typed instead of answering the confirmation."""
    ctx.draft.pop("candidates", None)
    return take_address(ctx, msg)
