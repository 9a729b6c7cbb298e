"""The emergency numbers, said at once when someone may be in danger (a message read as
an emergency, a description that sounds like one, an urgent report of a danger to people)."""

from __future__ import annotations

from handlers.context import Ctx
from services.texts import N_

# The lines a citizen calls at once, whatever the town: France's numbers and the gas and
# electricity networks' emergency lines (Enedis: the number ends with the département).
EMERGENCY = N_(
    "If someone is in danger, call now: 112 (emergencies), 18 (fire brigade), 15 (medical "
    "help). Gas smell: GRDF 0 800 47 33 33. Fallen electric cable: Enedis 09 726 750 {dept}. "
    "Do not wait for an answer here."
)


def emergency_text(ctx: Ctx) -> str:
    """The emergency numbers, the département's electricity line included."""
    insee = ctx.catalog.town.citycode or ""
    department = insee[:3] if insee.startswith("97") else insee[:2]
    return ctx.t(EMERGENCY, dept=department or "")
