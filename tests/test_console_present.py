"""What an agent sees of a citizen's address: masked by channel, and masked when unknown."""

from __future__ import annotations

import pytest

from console.present import mask_address
from models.citizen import Citizen
from models.messaging import mark_dead, messages_for_citizen, queue_messages
from tests.helpers import admin_id, log_in_as

MASKS = [
    # label, channel, address, what the agent sees
    ("sms phone", "sms", "+33612345678", "+33 6 ** ** ** 78"),
    ("foreign sms phone", "sms", "+447911123456", "+44 7911 ****56"),
    ("telegram chat id", "telegram", "3527065", "••••065"),
    ("dev simulator name", "dev", "marie", "marie"),
    ("whatsapp phone", "whatsapp", "+33612345678", "+33 6 ** ** ** 78"),
    ("unknown: prefixed phone", "signal", "signal:+33612345678", "•" * 17 + "78"),
    ("unknown: any string", "carrier-pigeon", "rooftop-7 Q!x", "•" * 11 + "!x"),
    ("unknown: short", "carrier-pigeon", "abcd", "••••"),
    ("unknown: empty", "carrier-pigeon", "", ""),
]


@pytest.mark.parametrize(("label", "channel", "address", "shown"), MASKS,
                         ids=[m[0] for m in MASKS])  # fmt: skip
def test_addresses_are_masked_by_channel(label, channel, address, shown) -> None:
    assert mask_address(channel, address) == shown


@pytest.mark.parametrize("address", ["whatsapp:+33612345678", "x7$kQ9-zz:Lm02", "123456789012"])
def test_an_unknown_channel_shows_only_the_last_two_characters(address) -> None:
    shown = mask_address("not-a-channel", address)
    assert shown.endswith(address[-2:]) and len(shown) == len(address)
    assert set(shown[:-2]) == {"•"}  # nothing else of the address shows


def test_the_undelivered_page_masks_an_address_of_an_unknown_channel(app) -> None:
    rt = app.extensions["webleads"]
    with rt.db.transaction() as session:
        citizen = Citizen(channel="signal", address="whatsapp:+33612345678", display_name="Zoé")
        session.add(citizen)
        session.flush()
        queue_messages(
            session,
            [
                {
                    "citizen_id": citizen.id,
                    "channel": "signal",
                    "address": citizen.address,
                    "payload": {"text": "Votre signalement avance."},
                }
            ],
        )
        (message,) = messages_for_citizen(session, citizen.id)
        mark_dead(session, message.id, "63016: outside the 24 h window")
    client = app.test_client()
    log_in_as(client, admin_id(rt))
    page = client.get("/console/messages").get_data(as_text=True)
    row = page.split(f'data-message="{message.id}"')[1].split("</tr>")[0]
    assert "•" * 19 + "78" in row
    assert "612345678" not in page and "whatsapp:+33" not in page
