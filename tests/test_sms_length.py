"""Every SMS the bot can send fits in two segments, in French and in English.

The conversation is walked by an SMS citizen with realistic worst cases (the longest
category, a 1,990-character description, a 255-character address typed while the
geocoder is down, a long agent message), each message goes through the real SmsSender
composer, and its cost is counted by the composer and by the Twilio stand-in's own
counter. Every notification template is also filled with the same long values.
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import update

from models.catalog import Category, Service, category_by_code
from models.citizen import Citizen
from models.messaging import messages_for_citizen
from models.report import Report, ReportEvent, reports_of_citizen
from services import notify, reports
from services.audience import Audience, CitizenView
from services.types import Reply
from tests.fakes.twilio_api import count_segments
from tests.helpers import LONG_CATEGORY_NAMES, TalkingCitizen, make_report
from tests.sms_support import make_sms_app
from webhooks.sms import gsm
from webhooks.sms.sender import SmsSender, render

PHONE = "+33612345678"
POTERIE = (48.1246, -1.2082)
LONG_ADDRESS = (
    "Parking de la salle polyvalente, derrière le gymnase municipal, à côté de l'arrêt de "
    "bus des Rochers, en face de la boulangerie, sur le chemin piéton qui longe le ruisseau "
    "jusqu'au lotissement des Tertres Noirs, juste avant le grand chêne près du lavoir ancien"
)[:255]
LONG_DESCRIPTION = (
    "Depuis la tempête de la semaine dernière, un grand dépôt de sacs, de cartons et de "
    "meubles cassés s'est formé au pied des conteneurs. Les poubelles débordent, les "
    "goélands éventrent les sacs et tout s'envole sur la chaussée. "
) * 9
LONG_AGENT_MESSAGE = (
    "Bonjour, nous avons bien pris en compte votre signalement. L'équipe de la propreté "
    "urbaine passera jeudi matin avec un camion-benne pour enlever les encombrants, puis "
    "nettoiera les abords des conteneurs. Si d'autres dépôts apparaissent d'ici là, vous "
    "pouvez nous écrire ici. Nous avons aussi demandé à la police municipale de surveiller "
    "le site, car ce n'est pas la première fois. Merci pour votre vigilance et votre patience."
) * 2
SHORT_AGENT_MESSAGE = "Une équipe passe jeudi matin pour tout enlever. Merci de votre patience."
LONG_MARKERS = (LONG_ADDRESS[:30], LONG_DESCRIPTION[:30], LONG_AGENT_MESSAGE[:30])
WORDS = {
    "fr": {"hello": "Bonjour", "help": "aide", "mine": "mes demandes", "skip": "passer",
           "yes": "oui", "no": "non", "cancel": "annuler", "language": "langue",
           "erase": "supprimer", "maybe": "peut-être", "more": "Il y a aussi des sacs"},
    "en": {"hello": "Hello", "help": "help", "mine": "my reports", "skip": "skip",
           "yes": "yes", "no": "no", "cancel": "cancel", "language": "language",
           "erase": "delete", "maybe": "maybe", "more": "There are bags too"},
}  # fmt: skip


@pytest.fixture
def length_app(database_url, tmp_path, twilio, addok):
    app = make_sms_app(database_url, tmp_path, twilio, GEOCODER="ban",
                       GEOCODER_URL=addok.base_url)  # fmt: skip
    yield app
    app.extensions["webleads"].db.dispose()


def walk(rt, lang: str, addok, channel: str = "sms") -> TalkingCitizen:
    """An SMS (or WhatsApp) citizen through every step, wrong turns included."""
    w = WORDS[lang]
    with rt.db.transaction() as session:
        # A category that needs a photo, and three open reports near 12 rue de la Poterie.
        session.execute(update(Category).where(Category.code == "graffiti")
                        .values(photo_required=True))  # fmt: skip
        for _ in range(3):
            make_report(session, "dechets", lat=POTERIE[0], lon=POTERIE[1])
    rt.catalog.invalidate()
    me = TalkingCitizen(rt, PHONE, channel=channel, name=None, language_code=lang)
    for text in (w["hello"], w["help"], w["mine"], "42", "5", "ok", "x" * 2100,
                 LONG_DESCRIPTION[:1990], "9", w["more"]):  # fmt: skip
        me.say(text)
    for error in ("too_big", "not_image", "download_failed"):
        me.say(photo_error=error, meta={"limit_mb": 5})
    for text in (w["skip"], "ab", "xqzvw blorf", "rue de Vitré", "rue de", w["no"],
                 "12 rue de la Poterie", w["yes"], w["no"], w["maybe"], "1"):  # fmt: skip
        me.say(text)
    number = max(r for r in _numbers(me))
    for text in (f"#{number}", "suivi 99999", w["cancel"], "menu", "2", w["cancel"],
                 w["language"], "1", w["language"], "2" if lang == "fr" else "1",
                 "Le trou s'agrandit encore", "1"):  # fmt: skip
        me.say(text)
    me.say("english" if lang == "en" else "francais")
    # An idea, then a category that needs a photo.
    for text in ("menu", "8", "Un banc et un abri au square", w["skip"], w["skip"], "1",
                 "menu", "6", "Tag sur la façade de l'école", w["skip"]):  # fmt: skip
        me.say(text)
    # The geocoder down: a 255-character address is kept as typed.
    addok.pause()
    try:
        for text in (LONG_ADDRESS, "1"):
            me.say(text)
    finally:
        addok.resume()
    long_one = max(r for r in _numbers(me))
    for i, choice in enumerate(("2", "3")):  # two more reports, placed by pin
        for text in ("menu", choice, "Bordure cassée", w["skip"]):
            me.say(text)
        me.say(location=(48.11 + 0.004 * i, -1.205))
        me.say("1")
    me.say(w["mine"])
    # The town answers: every status, the agent's words short and long.
    with rt.db.transaction() as session:
        reports.change_status(session, long_one, "acknowledged", message=SHORT_AGENT_MESSAGE)
        reports.change_status(session, long_one, "in_progress", message=LONG_AGENT_MESSAGE)
        reports.reply(session, long_one, LONG_AGENT_MESSAGE)
        reports.change_status(session, long_one, "resolved", message=LONG_AGENT_MESSAGE)
        reports.change_status(session, long_one, "closed", message=LONG_AGENT_MESSAGE)
        reports.change_status(session, number, "duplicate", duplicate_of=long_one)
    for text in (w["erase"], w["no"], "STOP", "START"):
        me.say(text)
    return me


def _numbers(me: TalkingCitizen) -> list[int]:
    """The numbers of the citizen's own reports."""
    with me.rt.db.reading() as session:
        return [r.id for r in reports_of_citizen(session, me.citizen.id, limit=50)]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_sms_of_a_whole_conversation_fits_in_two_segments(length_app, addok, lang) -> None:
    rt = length_app.extensions["webleads"]
    me = walk(rt, lang, addok)
    sender = SmsSender(rt)
    with rt.db.reading() as session:
        rows = messages_for_citizen(session, me.citizen.id)
    assert len(rows) > 80  # the walk went everywhere
    elided = []
    for row in rows:
        source = row.payload["text"]
        body = sender.compose(row)
        where = f"{lang}: {source[:60]!r}"
        assert gsm.segments(body) <= 2 and count_segments(body) <= 2, where
        assert gsm.encoding(body) == "GSM-7", where
        if gsm.ELLIPSIS in body and gsm.ELLIPSIS not in gsm.to_gsm7(source):
            # Only the citizen's or the agent's own long words are ever shortened...
            assert any(marker in source for marker in LONG_MARKERS), where
            elided.append(body)
        # ...and what the message is about survives: its report number, its question.
        for ref in {w for w in source.split() if w.startswith("#") and w[1:5].isdigit()}:
            assert ref.rstrip(".,:;!?)") in body, where
        for _, label in row.payload.get("choices", []):
            assert gsm.to_gsm7(label)[:8] in body or label.upper() in source, where
    assert elided  # the long values did need it


def views_of(report: Report) -> list[CitizenView]:
    """The author's and a follower's views, both with the long address and unredacted words
    (the longest either can read)."""
    return [CitizenView(audience, report.ref, LONG_ADDRESS) for audience in Audience
            if audience in (Audience.AUTHOR, Audience.FOLLOWER)]  # fmt: skip


def test_every_notification_template_fits_with_long_values(sqlite_app):
    """All templates (status, reply, reminder), for the author and a follower, long address
    and long agent message."""
    templates = [*notify.STATUS_TEMPLATES, "reply", "reminder"]
    with sqlite_app.extensions["webleads"].db.reading() as session:
        category = category_by_code(session, "dechets")
        service = session.get(Service, category.service_id)
        for lang in ("fr", "en"):
            citizen = Citizen(channel="sms", address=PHONE, language=lang)
            report = Report(id=104_217, category_id=category.id, service_id=service.id,
                            channel="sms", description="x", address=LONG_ADDRESS,
                            duplicate_of_id=104_218)  # fmt: skip
            for template, view in itertools.product(templates, views_of(report)):
                for words in (None, SHORT_AGENT_MESSAGE, LONG_AGENT_MESSAGE):
                    event = ReportEvent(report_id=report.id, kind=template,
                                        to_status=template if template in
                                        notify.STATUS_TEMPLATES else None,
                                        public_message=words)  # fmt: skip
                    text = notify.personalised_text(citizen, view, report, event, category, service)
                    body = render(Reply(text))
                    assert count_segments(body) <= 2, (lang, template, view.audience, text[:80])
                    assert "#104217" in body and gsm.encoding(body) == "GSM-7"
                    if words == SHORT_AGENT_MESSAGE:
                        assert SHORT_AGENT_MESSAGE[-25:].replace("è", "e")[:10] in body


def test_a_menu_of_long_category_names_is_shortened_to_fit() -> None:
    names = LONG_CATEGORY_NAMES
    reply = Reply("Que souhaitez-vous signaler ?",
                  choices=[(f"v{i}", name) for i, name in enumerate(names)])  # fmt: skip
    body = render(reply)
    assert count_segments(body) <= 2
    lines = body.split("\n")
    assert lines[0] == "Que souhaitez-vous signaler ?"
    for number, (line, name) in enumerate(zip(lines[1:], names, strict=True), 1):
        assert line.startswith(f"{number} {gsm.to_gsm7(name)[:10]}")
