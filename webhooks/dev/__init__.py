"""The dev channel: a citizen in a terminal (`webleads chat`) or the console simulator.

It speaks the same engine and outbox as the real channels; its "provider" is whoever
drains the outbox for that citizen and shows the messages: services/simulated.py.
"""

from __future__ import annotations

from services.channels import Channel, register, unmasked
from services.simulated import CHANNEL

# The simulator's names are made up on the spot, so the console shows them.
CHANNEL_SPEC = register(
    Channel(
        name=CHANNEL,
        labels={"en": "Simulator", "fr": "Simulateur"},
        for_citizens=False,
        can_receive_photos=True,  # `webleads chat --photo FILE`, the simulator's upload
        mask=unmasked,
    )
)
