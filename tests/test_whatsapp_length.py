"""Every message the bot can send on WhatsApp fits WhatsApp's limits, in French and English.

The SMS length test's walk (tests/test_sms_length.py: the longest category, a 1,990-
character description, a 255-character address, long agent messages) is taken by a
WhatsApp citizen; each message is shaped by the real sender's `shape` and its content is
created at the Twilio stand-in, which refuses (400) list pickers and quick replies over
the Content API's limits.
"""

from __future__ import annotations

import itertools

import pytest

from models.catalog import Service, category_by_code
from models.citizen import Citizen
from models.messaging import messages_for_citizen
from models.report import Report, ReportEvent
from services import notify
from services.types import Reply
from tests.helpers import LONG_CATEGORY_NAMES
from tests.test_sms_length import LONG_ADDRESS, LONG_AGENT_MESSAGE, views_of, walk
from tests.whatsapp_support import make_wa_app
from webhooks.twilio.client import make_client
from webhooks.whatsapp import content
from webhooks.whatsapp.content import ContentCache, shape


@pytest.fixture
def length_app(database_url, tmp_path, twilio, addok):
    app = make_wa_app(database_url, tmp_path, twilio, GEOCODER="ban",
                      GEOCODER_URL=addok.base_url)  # fmt: skip
    yield app
    app.extensions["webleads"].db.dispose()


def fits(shaped: content.Shape) -> bool:
    if shaped.kind == content.TEXT:
        return 0 < len(shaped.body) <= content.BODY_CHARS
    ok = 0 < len(shaped.body) <= content.CONTENT_BODY_CHARS
    if shaped.kind == content.QUICK_REPLY:
        return ok and len(shaped.buttons) <= 3 and all(len(t) <= 20 for _, t in shaped.buttons)
    return (
        ok
        and len(shaped.rows) <= 10
        and all(len(t) <= 24 and len(d) <= 72 for _, t, d in shaped.rows)
        and len(shaped.button) <= 20
    )


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_message_of_a_whole_conversation_fits(length_app, addok, twilio, lang) -> None:
    rt = length_app.extensions["webleads"]
    me = walk(rt, lang, addok, channel="whatsapp")
    with rt.db.reading() as session:
        rows = messages_for_citizen(session, me.citizen.id)
    assert len(rows) > 80  # the walk went everywhere
    client = make_client(twilio.account_sid, twilio.auth_token, twilio.base_url)
    cache = ContentCache()
    kinds = set()
    for row in rows:
        reply = Reply.from_payload(row.payload)
        shaped = shape(reply, lang)
        kinds.add(shaped.kind)
        assert fits(shaped), (lang, reply.text[:60])
        if shaped.kind != content.TEXT:
            cache.sid_for(client, shaped, lang)  # the stand-in answers 400 over a limit
        # Every choice can still be chosen: as a button, a row, or its number typed.
        for n, (value, label) in enumerate(reply.choices, 1):
            ids = [i for i, _ in shaped.buttons] + [i for i, _, _ in shaped.rows]
            assert value in ids or f"{n}. {label}" in shaped.body, (lang, label)
    assert kinds == {content.TEXT, content.QUICK_REPLY, content.LIST_PICKER}


def test_every_notification_fits_with_long_values(sqlite_app) -> None:
    templates = [*notify.STATUS_TEMPLATES, "reply", "reminder"]
    with sqlite_app.extensions["webleads"].db.reading() as session:
        category = category_by_code(session, "dechets")
        service = session.get(Service, category.service_id)
        for lang in ("fr", "en"):
            citizen = Citizen(channel="whatsapp", address="+33612345678", language=lang,
                              display_name="Marie-Charlotte de La Tour d'Auvergne")  # fmt: skip
            report = Report(id=104_217, category_id=category.id, service_id=service.id,
                            channel="whatsapp", description="x", address=LONG_ADDRESS,
                            duplicate_of_id=104_218)  # fmt: skip
            for template, view in itertools.product(templates, views_of(report)):
                to_status = template if template in notify.STATUS_TEMPLATES else None
                event = ReportEvent(report_id=report.id, kind=template, to_status=to_status,
                                    public_message=LONG_AGENT_MESSAGE)  # fmt: skip
                text = notify.personalised_text(citizen, view, report, event, category, service)
                choices = [tuple(c) for c in notify.fixed_choices(report.id, lang)]
                for reply in (Reply(text), Reply(text, choices=choices)):
                    shaped = shape(reply, lang)
                    assert fits(shaped) and "#104217" in shaped.body, (lang, template)


def test_long_and_many_choices() -> None:
    names = LONG_CATEGORY_NAMES
    reply = Reply("Que souhaitez-vous signaler ?",
                  choices=[(f"v{i}", name) for i, name in enumerate(names)])  # fmt: skip
    listed = shape(reply, "fr")
    assert listed.kind == content.LIST_PICKER and fits(listed) and listed.button == "Choisir"
    assert listed.rows[0][2].startswith("Voirie : nid-de-poule, chaussée")
    eleven = Reply("Choose", choices=[(f"v{i}", f"Choice {i}") for i in range(11)])
    numbered = shape(eleven, "en")
    assert numbered.kind == content.TEXT and "\n11. Choice 10" in numbered.body
    four = shape(Reply("Which?", choices=[(f"v{i}", f"C{i}") for i in range(4)]), "en")
    assert four.kind == content.LIST_PICKER  # more than 3 buttons: a list
    same = shape(Reply("?", choices=[("a", "x" * 21 + "1"), ("b", "x" * 21 + "2")]), "en")
    assert same.kind == content.LIST_PICKER  # shortened titles would be the same buttons
