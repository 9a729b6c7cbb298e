"""Names an admin types (a zone's) are shown as text in the browser, never run as HTML;
and no console script hands a string from the server to innerHTML."""

from __future__ import annotations

import re
from pathlib import Path

from models.zone import PILOT, Zone
from tests.browser.support import log_in

STATIC = Path(__file__).resolve().parents[2] / "console" / "static" / "console"
TRAP = '<img src="x" onerror="document.title=\'pwned\'"><b>Centre</b>'
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-1.215, 48.120], [-1.200, 48.120], [-1.200, 48.128], [-1.215, 48.128],
                     [-1.215, 48.120]]],
}  # fmt: skip


def test_a_zone_named_like_html_shows_as_text_on_the_map(page, live) -> None:
    with live.rt.db.transaction() as session:
        session.add(Zone(name=TRAP, kind=PILOT, geometry=SQUARE))
    log_in(page, live, "admin@vitre.example", live.admin_password)
    page.goto(f"{live.url}/console/admin/zones")
    outline = page.locator("#zones-map path.leaflet-interactive").last
    outline.hover()
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    assert tooltip.inner_text() == TRAP  # the characters the admin typed
    assert tooltip.locator("img, b").count() == 0  # no element made of them
    assert page.title() != "pwned"


def test_no_console_script_assigns_a_value_to_inner_html() -> None:
    """Emptying a node (innerHTML = "") is fine; anything else must go through textContent."""
    for script in STATIC.glob("*.js"):
        source = script.read_text(encoding="utf-8")
        assigned = re.findall(r"\.innerHTML\s*=\s*([^;]+);", source)
        assert all(value.strip() in ('""', "''") for value in assigned), (script.name, assigned)
        # Leaflet puts a string given to bindTooltip/bindPopup/setContent in innerHTML: they
        # get a node, made by asText() or held in a variable.
        call = r"\.(?:bindTooltip|bindPopup|setContent)\(\s*(asText\([^)]*\)|[^,)]+)"
        given = re.findall(call, source)
        nodes = [v for v in given if re.fullmatch(r"asText\(.*\)|[A-Za-z_]\w*", v.strip())]
        assert nodes == given, (script.name, given)
