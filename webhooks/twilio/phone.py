"""Phone numbers as Twilio sends them and as the town's people type and read them.

Two parsers on purpose: an inbound number is taken if it is possible at all (Twilio
already delivered it), a number an admin types must be a valid one.
"""

from __future__ import annotations

import phonenumbers


def normalise_phone(raw: str, region: str) -> str | None:
    """Writes a phone number in E.164 (+33612345678); None when it is not one."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_identity(text: str, region: str) -> str | None:
    """A phone number typed by an admin, in E.164; ValueError when it cannot be one."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national(number: str, region: str) -> str:
    """A number as the town's residents write it (06 12 34 56 78 in France)."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return number
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(parsed) == region
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)
