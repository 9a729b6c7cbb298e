"""Every text the bot can say exists in French, and the compiled catalog is current."""

from __future__ import annotations

import io
import re
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

    for message in read_po(PO.open("rb")):
        if message.id and message.string:
            assert set(re.findall(r"{\w+}", message.id)) == set(
                re.findall(r"{\w+}", message.string)
            ), message.id


CONSOLE_PO = (
    PO.parents[3].parent / "console" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
)
# What French typography leaves alone: placeholders, tags, links, addresses.
UNTYPESET = re.compile(
    r"%\([a-z_]+\)[a-z]|%[sd]|\{[^{}]*\}|<[^>]*>|https?://\S+|sms:\S+|\S+@\S+\.\w+"
)
NNBSP = "\u202f"


def typography_faults(text: str) -> list[str]:
    """What a French proofreader would mark: a ? ! : ; or » without the narrow no-break
    space before it, a « without one after, a straight apostrophe in a word."""
    text = UNTYPESET.sub("\x00", text)
    faults = []
    for match in re.finditer(r"(.)([?!:;])(?=\s|$|\x00|»)", text):
        if match.group(1) != NNBSP and match.group(1) not in '?!:;.…("«':
            faults.append(f"no narrow space before {match.group(2)!r}: …{match.group(0)}")
    faults += [f"plain space before {m!r}" for m in re.findall(r"[ \u00a0]([?!:;»])", text)]
    faults += ["« without a narrow space after" for _ in re.findall(r"«(?!\u202f)", text)]
    faults += ["» without a narrow space before" for _ in re.findall(r"(?<!\u202f)»", text)]
    faults += [f"straight apostrophe: {w}" for w in re.findall(r"\w+'\w*", text)]
    return faults


def test_french_typography() -> None:
    """Every French text of the bot and the console: narrow no-break spaces before ? ! : ;
    and inside « », curly apostrophes; so a ? never wraps alone onto a line in Telegram."""
    faults = {}
    for path in (PO, CONSOLE_PO):
        for message in read_po(path.open("rb")):
            if not message.id or not message.string:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            text = " ".join(strings)
            if message.id == "Which language?":
                text = text.removesuffix(" Which language?")  # its English half stays English
            if found := typography_faults(text):
                faults[message.id] = found
    assert faults == {}, faults
