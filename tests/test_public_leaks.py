"""Nothing private leaks from the public site (issue 15): reports full of names, phone
numbers, chat ids, private descriptions, a typed address and a photo are filed through the
real Telegram and SMS webhooks and answered by an agent in the console with a personal
template; then every public page (both languages), the map's GeoJSON, the Atom feed and
Open311's keyless reads are crawled and searched for any of it."""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import re

from models.catalog import category_by_code
from models.console import ResponseTemplate
from models.report import media_of_report
from services import moderation, reports
from tests.helpers import admin_id, csrf_token, jpeg_with_gps, log_in_as
from tests.sms_support import Phone
from tests.telegram_support import CHAT, callback_update, deliver, payload, post, text_update

IDS = itertools.count(706001)
PUBLISHED = "Trou énorme, Yann Le Goff au 06 11 22 33 44 ou yann.legoff@example.org"
# In a category public by default, published once the agent opened it: a lowercase name,
# phone numbers and e-mail addresses in the spellings a first redaction let through.
BY_DEFAULT = (
    "Trou devant chez marie dupont, rappelez moi au 06/11/22/33/44 ou +33 (0)6 11 22 33 44 "
    "ou 0611 223 344, ecrire a yann.legoff at kermarrec.fr ou yann [at] kermarrec [dot] fr"
)
HIDDEN = "Ne publiez pas : SECRET-HIDDEN-PHRASE"
PRIVATE_SMS = "Lampadaire cassé, code du portail 73914, privé"
TYPED = "chez Hugo Lemoine 14 impasse Cachée"
TEMPLATE = "Bonjour {name}, votre signalement {ref} ({category}, {address}) est pris en charge."
# What must never be public: words (any case) and numbers (any spacing).
WORDS = ["Yann", "Goff", "yannlg", "legoff", "Hugo", "Lemoine", "impasse", "Cachée",
         "SECRET-HIDDEN", "portail", "privé", "Ne publiez pas", "marie", "dupont",
         "kermarrec"]  # fmt: skip
NUMBERS = ["611223344", "612345678", str(CHAT), "73914"]
DIGIT_RUNS = re.compile(r"\+?[\d(][\d ./()-]*\d")


def leaks(body: str, extra: list[str]) -> list[str]:
    text = html.unescape(body)
    with contextlib.suppress(ValueError):  # JSON escapes accents: read it back
        text += json.dumps(json.loads(body), ensure_ascii=False)
    found = [w for w in [*WORDS, *extra] if w.lower() in text.lower()]
    runs = [re.sub(r"\D", "", run) for run in DIGIT_RUNS.findall(text)]
    return found + [n for n in NUMBERS if any(n in run for run in runs)]


class TelegramUser:
    """Yann Le Goff (the fixtures' user, chat 3527065) on the real webhook."""

    def __init__(self, app, telegram) -> None:
        self.app, self.telegram, self.client = app, telegram, app.test_client()

    def send(self, update: dict) -> str:
        before = len(self.telegram.sent_messages(CHAT))
        assert post(self.client, update).status_code == 200
        deliver(self.app.extensions["webleads"])
        return "\n".join(m["text"] for m in self.telegram.sent_messages(CHAT)[before:])

    def says(self, text: str) -> str:
        return self.send(text_update(text, next(IDS), next(IDS)))

    def press(self, data: str) -> str:
        menu = [m for m in self.telegram.chat_messages(CHAT) if "reply_markup" in m][-1]
        return self.send(callback_update(menu, data, next(IDS)))

    def file(self, description: str, lat: float = 48.1246, lon: float = -1.2082) -> int:
        self.says("/start")
        self.press("cat:nid-de-poule")
        self.says(description)
        self.press("skip")
        location = {"latitude": lat, "longitude": lon}
        self.send(
            payload("location", location=location, message_id=next(IDS)) | {"update_id": next(IDS)}
        )
        done = self.press("yes")
        assert re.search(r"#(\d+)", done), self.telegram.sent_messages(CHAT)[-4:]
        return int(re.search(r"#(\d+)", done).group(1))


def file_by_sms_with_photo(phone: Phone) -> int:
    for body in ("Hello", "2", PRIVATE_SMS):
        phone.text(body)
    phone.mms(jpeg_with_gps())
    phone.text(TYPED)
    phone.text("1")
    done = "\n".join(phone.inbox())
    return int(re.search(r"#(\d+) is registered", done).group(1))


def test_no_public_answer_holds_private_data(both_app, telegram, twilio) -> None:
    rt = both_app.extensions["webleads"]
    yann = TelegramUser(both_app, telegram)
    published = yann.file(PUBLISHED)
    hidden = yann.file(HIDDEN, 48.1300, -1.2000)  # away from the first: not a duplicate
    with rt.db.transaction() as session:
        category_by_code(session, "nid-de-poule").description_public = True
    by_default = yann.file(BY_DEFAULT, 48.1200, -1.2150)
    phone = Phone(both_app, twilio)
    typed = file_by_sms_with_photo(phone)
    with rt.db.transaction() as session:
        session.add(ResponseTemplate(title="Pris en charge", body=TEMPLATE))
        photos = media_of_report(session, typed)
    assert photos, "the MMS photo is on the report"
    secrets = [p.sha256[:16] for p in photos] + [p.path for p in photos]

    # The agent answers each in the console with the personal template, publishes it as a
    # public note too, and moderates.
    agent = both_app.test_client()
    log_in_as(agent, admin_id(rt))
    token = csrf_token(agent)
    for number in (published, typed, hidden, by_default):
        page = agent.get(f"/console/reports/{number}").get_data(as_text=True)
        data = re.search(r'id="templates-data">(.*?)</script>', page).group(1)
        body = next(t["body"] for t in json.loads(data) if t["title"] == "Pris en charge")
        assert "Yann" in body or "Hugo" in body or "chez" in body or "…" not in body
        sent = agent.post(
            f"/console/reports/{number}/reply", data={"reply-message": body, "csrf_token": token}
        )
        assert sent.status_code == 303
        note = {"pubnote-text": body, "action": "publish", "csrf_token": token}
        assert agent.post(f"/console/reports/{number}/public-note", data=note).status_code == 303
    with rt.db.transaction() as session:
        reports.change_status(
            session, typed, "in_progress",
            message="Merci Hugo, on vous rappelle au 06 12 34 56 78.", note="Voir M. Lemoine",
        )  # fmt: skip
    for number, action in ((published, "publish"), (hidden, "hide")):
        assert (
            agent.post(
                f"/console/reports/{number}/public", data={"action": action, "csrf_token": token}
            ).status_code
            == 303
        )
    with rt.db.transaction() as session:
        moderation.publish(session, published, agent_id=None)

    # The data is really in the town's records (the console shows it to the agent).
    console_page = agent.get(f"/console/reports/{typed}").get_data(as_text=True)
    assert "portail" in console_page and "Hugo" in console_page

    public = both_app.test_client()
    urls = []
    for lang in ("", "?lang=en"):
        urls += [f"/{lang}", f"/reports{lang}", f"/reports.atom{lang}"]
        urls += [f"/reports/{n}{lang}" for n in (published, typed, by_default)]
        sep = "&" if lang else "?"
        urls += [f"/reports{lang}{sep}status=open", f"/reports{lang}{sep}category=lampadaire"]
    urls += ["/reports.geojson?bbox=-180,-90,180,90", "/reports.geojson?bbox=-1.3,48,-1.1,48.2"]
    for fmt in ("json", "xml"):
        urls += [f"/open311/v2/requests.{fmt}", f"/open311/v2/requests/{typed}.{fmt}"]
        urls += [f"/open311/v2/requests/{n}.{fmt}" for n in (published, by_default)]
    found = {}
    for url in urls:
        response = public.get(url)
        assert response.status_code == 200, url
        found[url] = leaks(response.get_data(as_text=True), secrets)
    assert {url: words for url, words in found.items() if words} == {}

    # The hidden report is nowhere; the published one shows its words without the person.
    assert public.get(f"/reports/{hidden}").status_code == 404
    assert public.get(f"/open311/v2/requests/{hidden}.json").status_code == 404
    page = public.get(f"/reports/{published}").get_data(as_text=True)
    assert "Trou énorme" in html.unescape(page)
    page = public.get(f"/reports/{by_default}").get_data(as_text=True)
    assert "Trou devant chez …, rappelez moi au … ou … ou …, ecrire a … ou …" in html.unescape(page)
    assert public.get(f"/reports/{typed}/photos/{photos[0].id}").status_code == 404
