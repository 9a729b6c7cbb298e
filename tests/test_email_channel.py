"""The e-mail channel against real servers: residents' messages through the MTA's pipe
(`webleads mail receive`) and a real IMAP mailbox (dovecot, tests/imap_support.py); the
answers through a real SMTP server (the `smtp` fixture)."""

from __future__ import annotations

import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from bot.app import create_app
from bot.outbox import OutboxWorker
from tests.conftest import base_config
from tests.helpers import jpeg_with_gps
from tests.imap_support import Dovecot, dovecot_available
from webhooks.email.cli import mail_cli
from webhooks.email.imap import watch_mailbox
from webhooks.email.sender import MailSender

TOWN = "signalements@vitre.example"
RESIDENT = "jean.dupont@example.org"


@pytest.fixture(scope="session")
def imap_server():
    """A real IMAP server (dovecot) for the session; each test takes its own folder."""
    if not dovecot_available():
        pytest.skip("dovecot not installed: apt-get install dovecot-imapd")
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(imap_server) -> str:
    """A folder of its own on the session's IMAP server."""
    return imap_server.make_folder(f"test{time.monotonic_ns()}")


@pytest.fixture
def mail_app(database_url, tmp_path, smtp, imap_server, mailbox):
    app = create_app(
        {
            **base_config(database_url, tmp_path),
            "SMTP_URL": smtp.url,
            "MAIL_IMAP_URL": imap_server.url(mailbox),
            "MAIL_FROM": f"Mairie de Vitré <{TOWN}>",
            "DEFAULT_LANGUAGE": "fr",
        }
    )
    yield app
    app.extensions["webleads"].db.dispose()


def resident_mail(
    body: str,
    *,
    subject: str = "",
    sender: str = RESIDENT,
    answers: EmailMessage | None = None,
    photo: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """An e-mail as a resident's client writes it (a reply names the one it answers)."""
    message = EmailMessage()
    message["From"] = f"Jean Dupont <{sender}>"
    message["To"] = TOWN
    message["Message-ID"] = make_msgid(domain="example.org")
    if answers is not None:
        message["Subject"] = "Re: " + str(answers["Subject"]).removeprefix("Re: ")
        message["In-Reply-To"] = answers["Message-ID"]
        message["References"] = " ".join(
            [*str(answers.get("References") or "").split(), answers["Message-ID"]]
        )
    else:
        message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if photo is not None:
        message.add_attachment(photo, maintype="image", subtype="jpeg", filename="IMG_2041.jpg")
    return message


def gmail_reply(answer: str, to: EmailMessage) -> EmailMessage:
    """A reply typed above Gmail's quoted history, with a signature."""
    quoted = "\n".join(f"> {line}" for line in plain(to).splitlines())
    body = (
        f"{answer}\n\n-- \nJean Dupont\n06 12 34 56 78\n\n"
        f"Le lun. 7 déc. 2026 à 10:12, Mairie de Vitré <{TOWN}> a écrit :\n{quoted}\n"
    )
    return resident_mail(body, answers=to)


def outlook_reply(answer: str, to: EmailMessage) -> EmailMessage:
    """A reply above Outlook's header block, signed "Cordialement"."""
    body = (
        f"{answer}\n\nCordialement,\nJean Dupont\n\n"
        f"De : Mairie de Vitré <{TOWN}>\nEnvoyé : lundi 7 décembre 2026 10:12\n"
        f"À : {RESIDENT}\nObjet : {to['Subject']}\n\n{plain(to)}"
    )
    return resident_mail(body, answers=to)


def plain(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def send_outbox(rt) -> None:
    """The worker's outbox round for the e-mail channel, until nothing is left."""
    worker = OutboxWorker(rt, {"email": MailSender(rt)}, limiters={})
    while worker.run_once():
        pass


def pipe(app, message: EmailMessage) -> str:
    """`webleads mail receive` with the message on standard input, as an alias pipe."""
    result = app.test_cli_runner().invoke(mail_cli, ["receive"], input=bytes(message))
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_a_report_by_email_from_first_message_to_the_status_change(
    mail_app, smtp, imap_server, mailbox
):
    rt = mail_app.extensions["webleads"]
    folder = mailbox
    first = resident_mail(
        "Le lampadaire devant le 12 rue de la Poterie clignote depuis lundi.\n\nJean",
        subject="Lampadaire qui clignote",
        photo=jpeg_with_gps(),
    )
    assert pipe(mail_app, first) == "message"
    send_outbox(rt)
    for m in smtp.wait_for(1, to=RESIDENT):
        print(m["Subject"], m["In-Reply-To"], plain(m))
    question = smtp.messages(RESIDENT)[-1]
    assert question["In-Reply-To"] == first["Message-ID"]

    stop = threading.Event()
    loop = threading.Thread(target=watch_mailbox, args=(rt, stop), daemon=True)
    loop.start()
    try:
        imap_server.deliver(bytes(gmail_reply("1", question)), folder)
        deadline = time.monotonic() + 10
        while len(smtp.messages(RESIDENT)) < 2 and time.monotonic() < deadline:
            send_outbox(rt)
            time.sleep(0.05)
        for m in smtp.messages(RESIDENT):
            print(m["Subject"], plain(m))
    finally:
        stop.set()
        loop.join(5)
