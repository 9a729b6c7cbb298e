"""GSM-7 or UCS-2, segments, and shortening a text to fit (webhooks/sms/gsm.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.twilio_api import count_segments
from webhooks.sms import gsm

SEGMENTS = [
    ("empty", "", 1, "GSM-7"),
    ("160 GSM-7 characters", "a" * 160, 1, "GSM-7"),
    ("161 GSM-7 characters", "a" * 161, 2, "GSM-7"),
    ("306 GSM-7 characters", "a" * 306, 2, "GSM-7"),
    ("307 GSM-7 characters", "a" * 307, 3, "GSM-7"),
    ("é è à ù É are GSM-7", "éèàùÉ" * 32, 1, "GSM-7"),
    ("€ costs two septets", "€" * 80, 1, "GSM-7"),
    ("81 € is 162 septets", "€" * 81, 2, "GSM-7"),
    ("one ê turns 71 into UCS-2", "ê" + "a" * 70, 2, "UCS-2"),
    ("70 UCS-2 characters", "ê" * 70, 1, "UCS-2"),
    ("134 UCS-2 characters", "ê" * 134, 2, "UCS-2"),
    ("an emoji is two UTF-16 units", "👍" * 35, 1, "UCS-2"),
]


@pytest.mark.parametrize(("label", "text", "parts", "encoding"), SEGMENTS,
                         ids=[row[0] for row in SEGMENTS])  # fmt: skip
def test_segments_are_counted_like_twilio(label, text, parts, encoding) -> None:
    assert gsm.segments(text) == parts == count_segments(text), label
    assert gsm.encoding(text) == encoding


TRANSLITERATIONS = [
    ("Trottoir abîmé", "Trottoir abimé"),
    ("Dépôt sauvage", "Dépot sauvage"),
    ("ça, façade, Ça", "ca, facade, Ça"),  # the capital is GSM-7
    ("Noël, maïs, cœur, Œuvre", "Noel, mais, coeur, OEuvre"),
    ("l’école « en face »", 'l\'école " en face "'),
    ("Merci\u00a0! Votre signalement\u202f: oui…", "Merci ! Votre signalement : oui..."),
    ("Crête, fenêtre, août, flûte", "Crete, fenetre, aout, flute"),
    ("Cafe ☕ ok 👍🏽", "Cafe  ok "),
    ("Vitré, où, là, É", "Vitré, où, là, É"),
    ("Dvořák, Ångström, São", "Dvorak, Ångström, Sao"),  # å and ö are GSM-7
]


@pytest.mark.parametrize(("text", "expected"), TRANSLITERATIONS)
def test_french_is_written_in_gsm7(text, expected) -> None:
    assert gsm.to_gsm7(text) == expected
    assert gsm.is_gsm7(gsm.to_gsm7(text))


def test_a_script_without_gsm7_form_stays_and_is_sent_in_ucs2() -> None:
    text = gsm.to_gsm7("Улица Ленина, 12")
    assert text == "Улица Ленина, 12" and gsm.encoding(text) == "UCS-2"


def test_fit_shortens_the_longest_line_in_its_middle_and_keeps_the_tail() -> None:
    first = "Hello, your report #1042 (Pothole, " + "very long address " * 20 + ") was fixed."
    text = f"{first}\nTheir message: Thank you."
    short = gsm.fit(text, 2, fixed_tail="1 Yes\n2 No")
    assert count_segments(short) <= 2
    head, message, yes, no = short.split("\n")
    assert head.startswith("Hello, your report #1042 (Pothole,") and head.endswith("was fixed.")
    assert gsm.ELLIPSIS in head
    assert (message, yes, no) == ("Their message: Thank you.", "1 Yes", "2 No")


def test_fit_leaves_a_short_text_alone() -> None:
    assert gsm.fit("Hello\nWorld", 1, fixed_tail="1 A") == "Hello\nWorld\n1 A"


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from([*"abcdeéèàêîôç’«» \n€{}[]#12345", "👍", "Ж"]),
        max_size=1200,
    ),
    st.integers(min_value=1, max_value=3),
)
def test_fit_always_fits(text, parts) -> None:
    assert count_segments(gsm.fit(gsm.to_gsm7(text), parts)) <= parts
