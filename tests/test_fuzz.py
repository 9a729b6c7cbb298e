"""Bad input at the webhooks: generated updates never get a 5xx nor leave half a state."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update as sql_update

from models.citizen import Conversation, find_citizen
from models.messaging import messages_for_citizen
from models.report import reports_of_citizen
from services import crew_links, reports
from tests.helpers import TalkingCitizen, consistent, make_agent
from tests.mutate import json_combos
from tests.telegram_support import CHAT, LOCATION_IN_TOWN, SECRET, is_update, payload, post
from tests.test_fuzz_sms import HUGE_WORDS, failures_logged

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
        )
        | st.sampled_from(HUGE_WORDS),
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
def test_generated_telegram_updates(tg_client, tg_rt, caplog, body) -> None:
    seen = len(caplog.records)
    response = post(tg_client, body)
    # 400 only for what is no update at all: Telegram retries anything but a 2xx.
    assert response.status_code == (200 if is_update(body) else 400), (response.status_code, body)
    assert failures_logged(caplog, seen) == [], body
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


# --- callback data of any shape and size, in every state and from a crew's chat -----------

HUGE = "99999999999999999999"
# The prefixes of the bot's buttons (handlers/), each followed by anything below.
PREFIXES = ["crew:take:", "crew:done:", "crew:nophoto:", "crew:back:", "crew:", "fixed:",
            "follow:", "add:", "place:", "cat:", "lang:", ""]  # fmt: skip
numbers = st.one_of(
    st.integers(0, 10**40).map(str),
    st.sampled_from([HUGE, "9223372036854775808", "-1", "0", "²", "٣", "፩", "1e9", ""]),
    st.text(alphabet="0123456789²٣፩-: ", max_size=30),
)
endings = st.sampled_from(["", ":yes", ":no", ":partly", ":", "::", f":{HUGE}"]) | st.text(
    max_size=8
)
# Telegram carries 1 to 64 bytes of callback_data, whatever a client puts there.
callback_data = (
    st.one_of(
        st.builds(lambda p, n, e: p + n + e, st.sampled_from(PREFIXES), numbers, endings),
        st.text(min_size=1, max_size=64),
        st.sampled_from(
            ["cat:nid-de-poule", "skip", "yes", "no", "mine", "idea", "new", "place:0"]
        ),
    )
    .map(lambda data: data.encode()[:64].decode(errors="ignore"))
    .filter(bool)
)
AGENT_CHAT = 7000222
# The states a real conversation goes through (location_confirm needs a geocoder's answer).
STATE_NAMES = ["menu", "description", "photo", "location", "nearby", "confirm", "idle",
               "add_to_report", "erase_confirm", "is_fixed", "feedback_words"]  # fmt: skip
update_ids = itertools.count(5_000_000)


def states_of_a_real_conversation(rt) -> dict[str, tuple[str, dict]]:
    """Walks the fixtures' chat through a report, snapshotting (state, draft) at each step."""
    TalkingCitizen(rt, "neighbour").file_report()  # an open pothole where Yann reports his
    talker = TalkingCitizen(rt, str(CHAT), channel="telegram", language_code="en")
    seen = {}

    def say(*args, **kwargs) -> None:
        talker.say(*args, **kwargs)
        conversation = talker.conversation
        seen.setdefault(conversation.state, (conversation.state, dict(conversation.draft)))

    for said in ["/start", {"choice": "cat:nid-de-poule"}, "Un trou profond", {"choice": "skip"},
                 {"location": LOCATION_IN_TOWN}, {"choice": "no"}, {"choice": "yes"},
                 "Il est encore plus profond", "/annuler", "/supprimer", "non"]:  # fmt: skip
        if isinstance(said, dict):
            say(**said)
        else:
            say(said)
    with rt.db.transaction() as session:
        number = max(report_ids_of(session, talker.citizen.id))
        reports.change_status(session, number, "resolved", message="Rebouché")
    parked = talker.conversation  # the notice asks "is it fixed?"
    seen[parked.state] = (parked.state, dict(parked.draft))
    say(choice=f"fixed:{number}:no")
    return seen


def report_ids_of(session, citizen_id: int) -> list[int]:
    return [r.id for r in reports_of_citizen(session, citizen_id)]


def put_back(rt, chat: int, state: str, draft: dict) -> None:
    with rt.db.transaction() as session:
        citizen = find_citizen(session, "telegram", str(chat))
        session.execute(
            sql_update(Conversation)
            .where(Conversation.citizen_id == citizen.id)
            .values(state=state, draft=draft, waiting_on=None)
        )


def answered(rt, chat: int, callback_id: str) -> bool:
    """Whether the engine handled the press (its spinner's answer is queued with the rest)."""
    with rt.db.reading() as session:
        citizen = find_citizen(session, "telegram", str(chat))
        rows = messages_for_citizen(session, citizen.id)
    return any(row.payload.get("answer_callback") == callback_id for row in rows)


@pytest.fixture
def conversation_states(tg_rt):
    states = states_of_a_real_conversation(tg_rt)
    assert set(STATE_NAMES) <= set(states)
    agent_id = make_agent(tg_rt, "paul@ville.fr")
    with tg_rt.db.transaction() as session:
        code = crew_links.issue_code(session, agent_id, tg_rt.settings.SECRET_KEY)
    crew = TalkingCitizen(tg_rt, str(AGENT_CHAT), channel="telegram", language_code="en")
    assert "Linked" in crew.texts(f"/agent {code}")
    return states


@settings(FUZZ, max_examples=150)
@given(where=st.sampled_from([*STATE_NAMES, "crew"]), data=callback_data)
def test_callback_data_of_any_shape_in_every_state(
    tg_client, tg_rt, conversation_states, where, data
) -> None:
    chat = AGENT_CHAT if where == "crew" else CHAT
    if where != "crew":
        put_back(tg_rt, chat, *conversation_states[where])
    update_id = next(update_ids)
    update = payload("callback_query", data=data)
    update["update_id"], update["callback_query"]["id"] = update_id, f"cbq-{update_id}"
    update["callback_query"]["from"]["id"] = update["callback_query"]["message"]["chat"]["id"] = (
        chat
    )
    response = post(tg_client, update)
    assert response.status_code == 200
    # Handled, not a failure acknowledged by the webhook's guard (which logs and drops it).
    assert answered(tg_rt, chat, f"cbq-{update_id}"), (where, data)
    consistent(tg_rt)
