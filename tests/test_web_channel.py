"""The web channel (GET /signaler): the bot's conversation in a browser without JavaScript.

A resident is walked with a plain HTTP client (Flask's test client: forms, cookies, no
script) through a whole report on both databases, a real geocoder (addok) looking up the
typed address and a real SMTP server receiving the e-mails; then what can go wrong with
forms in a browser (back, reload, a double click, an expired session) and the abuse
guards (honeypot, per-client limit, sizes).
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import time_machine
from PIL import Image

from app.factory import create_app
from bot.outbox import OutboxWorker, channel_senders
from models.db import utcnow
from models.report import count_reports, get_report, media_of_report
from models.web_contact import web_contact
from services import reports
from services.media import MAX_PHOTO_BYTES, photo_store
from tests.conftest import base_config
from tests.helpers import jpeg_with_gps, run_jobs
from webhooks.web.routes import POSTS_PER_CLIENT
from webhooks.web.visit import SESSION_SECONDS

TOWN_MAIL = "mairie@vitre.example.org"
RESIDENT_MAIL = "marie@example.net"
LINK_RE = re.compile(r"https://webleads\.example\.org(/signaler/confirmer/\S+)")


@pytest.fixture
def web_app(database_url, tmp_path, addok, smtp):
    settings = {
        "GEOCODER": "ban",
        "GEOCODER_URL": addok.base_url,
        "SMTP_URL": smtp.url,
        "MAIL_FROM": TOWN_MAIL,
        # SMS is on, so the last page offers its follow link too (nothing is texted).
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM_NUMBER": "+33939000001",
    }
    app = create_app({**base_config(database_url, tmp_path), **settings})
    yield app
    app.extensions["webleads"].db.dispose()


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


class Browser:
    """A browser without JavaScript: it reads the page's form and submits it."""

    def __init__(self, app, **headers) -> None:
        self.rt = app.extensions["webleads"]
        self.client = app.test_client()
        self.headers = headers
        self.page = self.client.get("/signaler", headers=headers)

    @property
    def html(self) -> str:
        return self.page.get_data(as_text=True)

    @property
    def text(self) -> str:
        return text_of(self.page)

    def form(self) -> dict[str, str]:
        """The page form's hidden fields (its nonce and what it showed)."""
        return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', self.html))

    def choices(self) -> dict[str, str]:
        """The question's buttons: label -> value."""
        button = r'<button type="submit" name="choice" value="([^"]+)">([^<]+)<'
        found = re.findall(button, self.html)
        return {label: value for value, label in found}

    def submit(self, form: dict | None = None, *, photo: bytes | None = None, **fields):
        """Sends the page's form with these fields, follows the redirect like a browser
        (the worker runs in between, as `webleads run` does); returns the POST's answer."""
        data = {**(form if form is not None else self.form()), **fields}
        if photo is not None:
            data["photo"] = (io.BytesIO(photo), "photo.jpg", "image/jpeg")
        answer = self.client.post("/signaler", data=data, headers=self.headers,
                                  content_type="multipart/form-data")  # fmt: skip
        run_jobs(self.rt)
        self.page = answer if answer.status_code != 303 else self.client.get("/signaler")
        if "One moment" in self.text or "Un instant" in self.text:
            self.page = self.client.get("/signaler")
        return answer

    def choose(self, label: str):
        return self.submit(choice=self.choices()[label])


def deliver(rt) -> int:
    worker, total = OutboxWorker(rt, channel_senders(rt)), 0
    for _ in range(20):
        tried = worker.run_once()
        total += tried
        if not tried:
            break
    return total


def to_summary(browser: Browser) -> None:
    """Menu -> category -> description -> photo -> typed address, up to the summary."""
    browser.submit(command="menu")
    browser.choose("Nid-de-poule")
    assert "Décrivez le problème" in browser.text
    browser.submit(text="Un trou profond devant le numéro 12")
    assert '<input id="photo" name="photo" type="file"' in browser.html
    browser.submit(photo=jpeg_with_gps())
    assert "Adresse ou lieu" in browser.text  # the photo's EXIF place is not used
    browser.submit(text="12 rue de la Poterie")
    if "Oui" in "".join(browser.choices()):  # the geocoder's "is it here?"
        browser.choose(next(label for label in browser.choices() if label.startswith("Oui")))
    assert "Je l’envoie" in browser.text, browser.text


def test_a_whole_report_from_the_website_and_its_news_by_confirmed_email(web_app, smtp) -> None:
    rt = web_app.extensions["webleads"]
    browser = Browser(web_app)
    assert browser.page.headers["Cache-Control"] == "no-store"
    assert "Décrivez le problème en une phrase" in browser.text
    to_summary(browser)
    assert "Lieu : 12 Rue de la Poterie 35500 Vitré" in browser.text  # geocoded by addok
    browser.choose("Envoyer")
    assert "Votre signalement #1001 est enregistré" in browser.text
    with rt.db.reading() as session:
        report = get_report(session, 1001)
        assert report.channel == "web"
        author = report.citizen_id
        assert report.lat == pytest.approx(48.1246, abs=0.002)
        media = media_of_report(session, 1001)
    assert len(media) == 1  # through the worker's intake: re-encoded, no EXIF (no GPS)
    stored = Image.open(io.BytesIO(photo_store(rt.settings).get(media[0].path)))
    assert not stored.getexif()

    # No address yet: an agent's news is not sent anywhere, and the page says so; the
    # chat channels' follow links are offered too.
    assert "tant qu’elle n’est pas confirmée" in browser.text
    assert "Suivre sur SMS ou envoyez SUIVRE 1001" in browser.text
    with rt.db.transaction() as session:
        reports.change_status(session, 1001, "acknowledged", message="Nous passons demain.")
    deliver(rt)
    assert smtp.messages() == []
    assert "Nous passons demain." in text_of(browser.client.get("/signaler"))  # on the page

    answer = browser.client.post("/signaler/suivre", data={"email": RESIDENT_MAIL})
    assert f"Nous avons envoyé un lien à {RESIDENT_MAIL}" in text_of(answer)
    deliver(rt)
    (confirmation,) = smtp.wait_for(1, to=RESIDENT_MAIL)
    assert confirmation["Subject"] == "[#1001] Confirmez votre adresse e-mail"
    link = LINK_RE.search(confirmation.get_body(("plain",)).get_content()).group(1)
    assert "Confirmez" in text_of(browser.client.get(link))
    deliver(rt)
    assert len(smtp.messages()) == 1  # opening the link confirms nothing (mail scanners)
    assert "Votre adresse est confirmée" in text_of(browser.client.post(link))

    deliver(rt)  # the news that waited for the address, then a later one
    with rt.db.transaction() as session:
        reports.change_status(session, 1001, "in_progress", message="Les travaux commencent.")
    deliver(rt)
    news = smtp.wait_for(3, to=RESIDENT_MAIL)[1:]
    assert [m["Subject"] for m in news] == ["[#1001] Nouvelles du signalement #1001"] * 2
    plain = news[1].get_body(("plain",)).get_content()
    assert "votre signalement #1001" in plain and "Les travaux commencent." in plain
    assert "Les travaux commencent." in news[1].get_body(("html",)).get_content()

    # Erasing their data forgets the address too.
    browser.submit(text="effacer")
    browser.choose("Oui, supprimer")
    with rt.db.reading() as session:
        assert web_contact(session, author) is None


def test_back_reload_and_double_submit_file_once(web_app) -> None:
    rt = web_app.extensions["webleads"]
    browser = Browser(web_app)
    to_summary(browser)
    summary = browser.form()
    send = browser.choices()["Envoyer"]
    first = browser.client.post("/signaler", data={**summary, "choice": send})
    again = browser.client.post("/signaler", data={**summary, "choice": send})  # double click
    assert first.status_code == again.status_code == 303
    reload = browser.client.get("/signaler")
    assert "#1001 est enregistré" in text_of(reload)
    assert "#1001 est enregistré" in text_of(browser.client.get("/signaler"))  # shown again
    # Back to the summary page, a fresh nonce: the conversation has moved on, no new report.
    browser.client.post("/signaler", data={**summary, "nonce": "back1", "choice": send})
    with rt.db.reading() as session:
        assert count_reports(session) == 1

    # Another tab shares the session: the same conversation, the same page.
    assert "#1001 est enregistré" in text_of(browser.client.get("/signaler"))
    # The menu's language link is the conversation's own language choice.
    assert "I will speak English with you." in text_of(browser.client.get("/signaler?lang=en"))


@pytest.mark.parametrize(
    ("case", "fields", "status", "said"),
    [
        ("honeypot", {"website": "http://spam.example"}, 400, "laissez le champ"),
        ("too long", {"text": "trou " * 300}, 400, "au plus 1000 caractères"),
        ("photo", {"photo": b"\xff" * (MAX_PHOTO_BYTES + 99_000)}, 413, "limite est de 20 Mo"),
    ],
)
def test_refused_forms_say_why_politely(web_app, case, fields, status, said) -> None:
    browser = Browser(web_app)
    answer = browser.submit(**{"text": "Un lampadaire clignote", **fields})
    assert answer.status_code == status, case
    assert said in text_of(answer)
    with web_app.extensions["webleads"].db.reading() as session:
        assert count_reports(session) == 0


def test_one_client_posting_too_much_is_asked_to_wait(web_app) -> None:
    browser = Browser(web_app, **{"Accept-Language": "en-GB,en;q=0.8"})
    assert "Describe the problem in one sentence" in browser.text  # the browser's language
    for _ in range(POSTS_PER_CLIENT):
        spam = browser.client.post("/signaler", data={"website": "x"}, headers=browser.headers)
        assert spam.status_code == 400
    refused = browser.client.post("/signaler", data=browser.form(), headers=browser.headers)
    assert refused.status_code == 429
    assert "Please wait a few minutes" in text_of(refused)
    assert int(refused.headers["Retry-After"]) > 0


def test_an_expired_session_starts_again_politely_and_files_nothing(web_app) -> None:
    rt = web_app.extensions["webleads"]
    with time_machine.travel(utcnow(), tick=False) as clock:
        browser = Browser(web_app)
        to_summary(browser)
        summary, send = browser.form(), browser.choices()["Envoyer"]
        clock.shift(timedelta(seconds=SESSION_SECONDS + 60))
        late = browser.client.post("/signaler", data={**summary, "choice": send})
    assert late.status_code == 410
    assert "Votre session est terminée" in text_of(late)
    assert "Rien de ce qui n’était pas confirmé n’a été enregistré" in text_of(late)
    with rt.db.reading() as session:
        assert count_reports(session) == 0
    fresh = browser.client.get("/signaler")
    assert "Décrivez le problème en une phrase" in text_of(fresh)
