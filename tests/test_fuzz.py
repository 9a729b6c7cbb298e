"""Bad input at the webhooks: generated updates never get a 5xx nor leave half a state."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import consistent
from tests.mutate import json_combos
from tests.telegram_support import SECRET, is_update, post

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
coordinate = st.floats(-1000, 1000, allow_nan=False)
private_chat = st.integers(1, 10**12).map(lambda i: {"id": i, "type": "private", "first_name": "A"})
citizen = st.fixed_dictionaries(
    {"id": st.integers(1, 10**12), "is_bot": st.just(False), "first_name": st.text(max_size=20)},
    optional={"language_code": st.sampled_from(["fr", "en", "de", "", "x" * 20])},
)
photo_size = st.fixed_dictionaries(
    {
        "file_id": st.text(min_size=1, max_size=10),
        "file_unique_id": st.text(max_size=5),
        "width": st.integers(0, 10**5),
        "height": st.integers(0, 10**5),
    },
    optional={"file_size": st.integers(0, 2**35)},
)
# Well-formed updates with odd contents: these reach the engine.
message = st.fixed_dictionaries(
    {
        "message_id": st.integers(1, 2**31),
        "date": st.integers(0, 2**32),
        "chat": private_chat,
        "from": citizen,
    },
    optional={
        "text": st.text(max_size=300)
        | st.sampled_from(
            ["/start", "/start XYZ", "/suivi 99999999999", "#0", "STOP", "aide", "1", "oui"]
        ),
        "caption": st.text(max_size=50),
        "location": st.fixed_dictionaries({"latitude": coordinate, "longitude": coordinate}),
        "venue": st.fixed_dictionaries(
            {
                "location": st.fixed_dictionaries(
                    {"latitude": coordinate, "longitude": coordinate}
                ),
                "title": st.text(max_size=20),
                "address": st.text(max_size=40),
            }
        ),
        "photo": st.lists(photo_size, max_size=3),
        "sticker": st.just(
            {
                "file_id": "s",
                "file_unique_id": "u",
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
            }
        ),
    },
)
callback = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=10),
        "from": citizen,
        "chat_instance": st.text(),
        "data": st.text(max_size=80)
        | st.sampled_from(
            ["cat:nid-de-poule", "skip", "yes", "no", "fixed:1001:no", "lang:en", "follow:x"]
        ),
    },
    optional={"message": message},
)
well_formed = st.fixed_dictionaries(
    {"update_id": st.integers(0, 2**40)},
    optional={"message": message, "edited_message": message, "callback_query": callback},
)
# And junk: the right keys with values of any kind.
junk = st.fixed_dictionaries(
    {"update_id": anything},
    optional={"message": anything, "callback_query": anything, "my_chat_member": anything},
)
# Well-formed updates with some fields changed to any other JSON value, removed, added.
damaged = well_formed.flatmap(json_combos).map(lambda mutant: mutant.body)
update = st.one_of(well_formed, well_formed, damaged, junk)


@FUZZ
@given(body=update)
def test_generated_telegram_updates(tg_client, tg_rt, body) -> None:
    response = post(tg_client, body)
    # 400 only for what is no update at all: Telegram retries anything but a 2xx.
    assert response.status_code == (200 if is_update(body) else 400), (response.status_code, body)
    consistent(tg_rt)


@FUZZ
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_generated_bytes_at_the_telegram_webhook(tg_client, tg_rt, raw) -> None:
    response = post(tg_client, raw)
    assert response.status_code in (200, 400), response.status_code
    consistent(tg_rt)


def test_oversized_body_is_refused_before_it_is_read(tg_client) -> None:
    huge = json.dumps({"update_id": 1, "message": {"text": "x" * (2 * 1024 * 1024)}})
    response = tg_client.post(
        "/webhooks/telegram",
        data=huge,
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status_code == 413
