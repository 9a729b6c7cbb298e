"""One sentence: a free message read as a report (category and place), confirmed in one
question; a greeting gets the welcome, an emergency the emergency numbers at once.

The guess is services/nlu's (a few milliseconds, inline). Yes makes the message the
description and asks only what is missing: the photo (on SMS, the link at the end
brings it), the place when none was found, nearby reports, the summary.
"""

from __future__ import annotations

from handlers import description, location, menu, photo, pilot_gate
from handlers.context import Ctx
from models.citizen import State
from models.jobs import JobKind
from models.report import open_reports_of_citizen
from services.geo import Found, GeocoderUnavailable, Place, geocoder_enabled, needs_network
from services.nlu import reader
from services.nlu.reader import Verdict
from services.texts import N_, fold
from services.types import Inbound, Outcome, Reply, Wait

YES, OTHER, MORE, REPORT = "guess:yes", "guess:no", "guess:more", "guess:report"
# The lines a citizen calls at once, whatever the town: France's numbers and the gas and
# electricity networks' emergency lines (Enedis: the number ends with the département).
EMERGENCY = N_(
    "If someone is in danger, call now: 112 (emergencies), 18 (fire brigade), 15 (medical "
    "help). Gas smell: GRDF 0 800 47 33 33. Fallen electric cable: Enedis 09 726 750 {dept}. "
    "Do not wait for an answer here."
)


def read(ctx: Ctx, msg: Inbound) -> Outcome:
    """Reads a first message as a possible report (a photo's caption too, the photo kept);
    anything else gets the welcome."""
    _keep_captioned_photo(ctx, msg)
    return _read(ctx, msg) or menu.welcome(ctx, msg)


def read_at_menu(ctx: Ctx, msg: Inbound) -> Outcome:
    """Reads a message typed at the menu, unless it names a category ('lampadaire')."""
    if _names_a_category(ctx, msg.text or ""):
        return menu.choose_text(ctx, msg)
    return _read(ctx, msg) or menu.choose_text(ctx, msg)


def read_idle(ctx: Ctx, msg: Inbound) -> Outcome:
    """Reads a message from a citizen with no open report; with one, offers to add to it."""
    captioned = msg.photo is not None and bool(msg.text)
    if (msg.kind != "text" and not captioned) or open_reports_of_citizen(
        ctx.session, ctx.citizen.id
    ):
        from handlers import idle

        return idle.free_message(ctx, msg)
    _keep_captioned_photo(ctx, msg)
    return _read(ctx, msg) or Outcome(menu.ask(ctx), State.MENU)


def _keep_captioned_photo(ctx: Ctx, msg: Inbound) -> None:
    """A photo sent with words (an e-mail's attachment, a caption) joins the draft first."""
    if msg.photo is not None and msg.text:
        photo.keep_photo(ctx, msg)


def add_choice(ctx: Ctx, msg: Inbound) -> Outcome:
    """Adds the pending message to an open report; "new report" reads it as one."""
    from handlers import idle

    pending = ctx.draft.get("pending_text") or ""
    if msg.choice == idle.NEW and pending:
        read = _read(ctx, Inbound(msg.channel, msg.sender, text=pending))
        if read is not None:
            return read
    return idle.add_choice(ctx, msg)


def _read(ctx: Ctx, msg: Inbound) -> Outcome | None:
    text = (msg.text or "").strip()
    if len(text) < description.MIN_LENGTH:
        return None
    reading = reader.read(ctx.session, ctx.catalog, text)
    if reading.verdict == Verdict.NONE:
        return None
    media = ctx.draft.get("media_ids")
    ctx.reset_draft(**({"media_ids": media} if media else {}))
    ctx.draft["sentence"] = text[: description.MAX_LENGTH]
    ctx.draft["guess"] = {
        "verdict": str(reading.verdict),
        "ranked": [[code, round(p, 3)] for code, p in reading.ranked[:3]],
        "place": reading.place.to_dict() if reading.place else None,
        "version": reading.version,
    }
    if reading.verdict == Verdict.EMERGENCY:
        ctx.draft["pick_all"] = True
        return Outcome([Reply(_emergency_text(ctx)), *ask_pick(ctx)], State.GUESS_PICK)
    if reading.verdict == Verdict.SURE:
        return Outcome(ask(ctx), State.GUESS)
    return Outcome(ask_pick(ctx), State.GUESS_PICK)


def _emergency_text(ctx: Ctx) -> str:
    insee = ctx.catalog.town.citycode or ""
    department = insee[:3] if insee.startswith("97") else insee[:2]
    return ctx.t(EMERGENCY, dept=department or "")


def _names_a_category(ctx: Ctx, text: str) -> bool:
    """Whether the menu's own matching takes it (handlers/menu.py choose_text)."""
    said = fold(text)
    for category in ctx.catalog.categories:
        names = (fold(category.name_fr), fold(category.name_en), fold(category.code))
        if said and any(said == n or (len(said) >= 4 and said in n) for n in names):
            return True
    return False


def _place_label(ctx: Ctx) -> str | None:
    place = (ctx.draft.get("guess") or {}).get("place")
    if not place:
        return None
    return f"{place['number']} {place['label']}" if place.get("number") else place["label"]


def ask(ctx: Ctx) -> list[Reply]:
    """Asks whether the guess (category, and place when found) is right."""
    ranked = (ctx.draft.get("guess") or {}).get("ranked") or []
    category = ctx.catalog.by_code.get(ranked[0][0]) if ranked else None
    name = category.name(ctx.lang) if category else "?"
    place = _place_label(ctx)
    text = (
        ctx.t("{category}, {place}: is that right?", category=name, place=place)
        if place
        else ctx.t("{category}: is that right?", category=name)
    )
    return [Reply(text, choices=[(YES, ctx.t("Yes")), (OTHER, ctx.t("Another category"))])]


def ask_pick(ctx: Ctx) -> list[Reply]:
    """Offers the likeliest categories and 'other' (or, asked for, every category)."""
    if ctx.draft.get("pick_all"):
        codes = [c.code for c in (*ctx.catalog.offered_problems, *ctx.catalog.offered_ideas)]
        text = (
            ctx.t("If you also want to report it to the town, choose what it is about:")
            if (ctx.draft.get("guess") or {}).get("verdict") == Verdict.EMERGENCY
            else ctx.t("What is it about?")
        )
        more = []
    else:
        codes = [code for code, _ in (ctx.draft.get("guess") or {}).get("ranked", [])]
        codes = [c for c in codes if c not in ctx.draft.get("refused", [])]
        text, more = ctx.t("Is it one of these?"), [(MORE, ctx.t("Something else"))]
    choices = [
        (f"cat:{code}", ctx.catalog.by_code[code].name(ctx.lang))
        for code in codes
        if code in ctx.catalog.by_code
    ]
    return [Reply(text, choices=[*choices, *more])]


def confirm(ctx: Ctx, msg: Inbound) -> Outcome:
    """Takes the guess (yes), or offers the other likely categories."""
    ranked = (ctx.draft.get("guess") or {}).get("ranked") or []
    if msg.choice == YES and ranked:
        return accept(ctx, ranked[0][0])
    if msg.choice == OTHER and ranked:
        ctx.draft["refused"] = [ranked[0][0]]
        return Outcome(ask_pick(ctx), State.GUESS_PICK)
    return Outcome([Reply(ctx.t("Sorry, I did not understand your choice.")), *ask(ctx)],
                   State.GUESS)  # fmt: skip


def pick(ctx: Ctx, msg: Inbound) -> Outcome:
    """Takes the category chosen among those offered, or offers them all."""
    choice = msg.choice or ""
    if choice.startswith("cat:"):
        return accept(ctx, choice.removeprefix("cat:"))
    if choice in (MORE, REPORT):
        ctx.draft["pick_all"] = True
        return Outcome(ask_pick(ctx), State.GUESS_PICK)
    return Outcome([Reply(ctx.t("Sorry, I did not understand your choice.")), *ask_pick(ctx)],
                   State.GUESS_PICK)  # fmt: skip


def accept(ctx: Ctx, code: str) -> Outcome:
    """Makes the message the report's description in that category, then the place."""
    category = ctx.catalog.by_code.get(code)
    if category is None:  # deactivated meanwhile
        return Outcome([Reply(ctx.t("Sorry, this category is no longer available.")),
                        *menu.ask(ctx)], State.MENU)  # fmt: skip
    if not ctx.catalog.offers(category):
        return Outcome([pilot_gate.service_refusal(ctx), *menu.ask(ctx)], State.MENU)
    guess = ctx.draft.pop("guess", None) or {}
    text = ctx.draft.pop("sentence", "")
    for key in ("pick_all", "refused"):
        ctx.draft.pop(key, None)
    ctx.draft.update(category=code, description=text)
    place = guess.get("place")
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
        return Outcome([], State.GUESS, wait=Wait(JobKind.FIND_ADDRESS, {"text": query}))
    try:
        found = ctx.rt.geocoder.search(query, ctx.catalog.town)
    except GeocoderUnavailable:
        found = None
    return _placed(ctx, query, found)


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
    """What is still missing: the photo (on SMS: by the link at the end), the place..."""
    if ctx.channel.needs_link_for_pin and not ctx.draft.get("media_ids"):
        # Every exchange is a paid SMS, and most French numbers receive no MMS: the done
        # message brings the link to add a photo, so it is not asked for here.
        outcome = location.next_step(ctx)
        note = Reply(ctx.t("You can add a photo with the link you will get once it is sent."))
        return Outcome([note, *outcome.replies], outcome.state, wait=outcome.wait)
    return photo.next_step(ctx)
