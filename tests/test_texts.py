"""Every text the bot can say exists in French, and the compiled catalog is current."""

from __future__ import annotations

import io
import subprocess
import sys

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from services.texts import TRANSLATIONS_DIR

PO = TRANSLATIONS_DIR / "fr" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def extracted_msgids(tmp_path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "t",
            "-k",
            "N_",
            "-k",
            "translate:2",
            "-k",
            "_",
            "--no-location",
            "-o",
            str(pot),
            ".",
        ],
        check=True,
        capture_output=True,
    )
    return {m.id for m in read_po(pot.open("rb")) if m.id}


def test_every_message_in_the_code_has_a_french_translation(tmp_path) -> None:
    french = {m.id: m.string for m in read_po(PO.open("rb")) if m.id}
    missing = sorted(msgid for msgid in extracted_msgids(tmp_path) if not french.get(msgid))
    assert missing == [], "run `make messages` and translate: " + repr(missing[:5])


def test_compiled_catalog_matches_the_po_file() -> None:
    po = {m.id: m.string for m in read_po(PO.open("rb")) if m.id and m.string}
    mo = {m.id: m.string for m in read_mo(io.BytesIO(MO.read_bytes())) if m.id}
    assert mo == po, "run `make messages` to recompile the catalog"


def test_placeholders_survive_translation() -> None:
    import re

    for message in read_po(PO.open("rb")):
        if message.id and message.string:
            assert set(re.findall(r"{\w+}", message.id)) == set(
                re.findall(r"{\w+}", message.string)
            ), message.id
