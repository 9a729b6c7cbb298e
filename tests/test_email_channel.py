"""The e-mail channel against real servers: residents' messages through the MTA's pipe
(`webleads mail receive`) and a real IMAP mailbox (dovecot, tests/imap_support.py); the
answers through a real SMTP server (the `smtp` fixture)."""

from __future__ import annotations

import threading
import time
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import make_msgid

import pytest
from imapclient import SEEN
from PIL import Image

from app.cli import cli
from app.factory import create_app
from bot.outbox import OutboxWorker
from models.citizen import find_citizen
from models.report import get_report, media_of_report, report_events
from services import channels, reports
from services.launchkit import kit_for, poster_pdf
from tests.conftest import base_config
from tests.helpers import jpeg_with_gps
from tests.imap_support import Dovecot, dovecot_available
from tests.test_launchkit import read_pdf
from webhooks.email.imap import fetch_unseen, watch_mailbox
from webhooks.email.inbound import parse
from webhooks.email.sender import MailSender

TOWN = "signalements@vitre.example"
PUBLIC = "https://webleads.example.org"  # tests/conftest.py's PUBLIC_BASE_URL
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


def make_mail_app(url, tmp_path, smtp, imap_url=""):
    return create_app(
        {
            **base_config(url, tmp_path),
            "SMTP_URL": smtp.url,
            "MAIL_IMAP_URL": imap_url,
            "MAIL_FROM": f"Mairie de Vitré <{TOWN}>",
            "DEFAULT_LANGUAGE": "fr",
        }
    )


@pytest.fixture
def mail_app(database_url, tmp_path, smtp, imap_server, mailbox):
    """The e-mail channel on, its mailbox a folder of the IMAP server (both databases)."""
    app = make_mail_app(database_url, tmp_path, smtp, imap_server.url(mailbox))
    yield app
    app.extensions["webleads"].db.dispose()


@pytest.fixture
def mail_sqlite_app(sqlite_url, tmp_path, smtp, imap_server, mailbox):
    app = make_mail_app(sqlite_url, tmp_path, smtp, imap_server.url(mailbox))
    yield app
    app.extensions["webleads"].db.dispose()


def resident_mail(
    body: str,
    *,
    subject: str = "",
    sender: str = RESIDENT,
    answers: EmailMessage | None = None,
    photos: tuple[bytes, ...] = (),
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
    for n, photo in enumerate(photos, 2041):
        message.add_attachment(photo, maintype="image", subtype="jpeg", filename=f"IMG_{n}.jpg")
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
    """The plain-text part as a reader sees it (line ends and narrow spaces evened out)."""
    text = message.get_body(("plain",)).get_content()
    return text.replace("\r\n", "\n").replace("\u202f", " ")


def send_outbox(rt) -> None:
    """The worker's outbox round for the e-mail channel, until nothing is left."""
    worker = OutboxWorker(rt, {"email": MailSender(rt)}, limiters={})
    while worker.run_once():
        pass


def pipe(app, message: EmailMessage) -> str:
    """`webleads mail receive` with the message on standard input, as an alias pipe."""
    result = app.test_cli_runner().invoke(cli, ["mail", "receive"], input=bytes(message))
    assert result.exit_code == 0, result.output
    return result.output.strip()


class Mailbox:
    """The worker's mailbox loop running, and the resident's side of the conversation."""

    def __init__(self, rt, smtp, server, folder) -> None:
        self.rt, self.smtp, self.server, self.folder = rt, smtp, server, folder
        self.stop = threading.Event()
        self.loop = threading.Thread(target=watch_mailbox, args=(rt, self.stop), daemon=True)
        self.loop.start()

    def answer(self, message: EmailMessage) -> EmailMessage:
        """Delivers the resident's e-mail to the town's mailbox; returns the answer."""
        before = len(self.smtp.messages(RESIDENT))
        self.server.deliver(bytes(message), self.folder)
        deadline = time.monotonic() + 10
        while len(self.smtp.messages(RESIDENT)) <= before and time.monotonic() < deadline:
            send_outbox(self.rt)
            time.sleep(0.05)
        received = self.smtp.messages(RESIDENT)
        assert len(received) == before + 1, [plain(m) for m in received[before:]]
        return received[-1]

    def close(self) -> None:
        self.stop.set()
        self.loop.join(5)


def test_a_report_by_email_from_first_message_to_the_status_change(
    mail_app, smtp, imap_server, mailbox
):
    rt = mail_app.extensions["webleads"]
    first = resident_mail(
        "Le lampadaire devant le 12 rue de la Poterie clignote depuis lundi.",
        subject="Lampadaire qui clignote",
        photos=(jpeg_with_gps(), jpeg_with_gps(480, 640)),
    )
    # Through the MTA's pipe: one e-mail answers, in the resident's thread, in French.
    assert pipe(mail_app, first) == "message"
    send_outbox(rt)
    (question,) = smtp.wait_for(1, to=RESIDENT)
    assert question["From"] == f"Mairie de Vitré <{TOWN}>"
    assert question["Subject"] == "Re: Lampadaire qui clignote"
    assert question["In-Reply-To"] == first["Message-ID"]
    assert question["List-Unsubscribe"].endswith(f", <mailto:{TOWN}?subject=STOP>")
    assert "Lampadaire en panne, 12 Rue de la Poterie : c’est bien ça ?" in plain(question)
    assert "1. Oui\n" in plain(question)
    assert "Répondez avec le numéro de votre choix." in plain(question)
    assert "<ol><li>Oui</li>" in question.get_body(("html",)).get_content()

    # The replies come through the mailbox; quoted history and signatures are not read.
    box = Mailbox(rt, smtp, imap_server, mailbox)
    try:
        summary = box.answer(gmail_reply("1", question))
        assert "Photo : oui" in plain(summary)
        assert "Lieu : 12 Rue de la Poterie" in plain(summary)
        assert "06 12 34 56 78" not in plain(summary)
        done = box.answer(outlook_reply("1", summary))
        number = int(done["Subject"].split("[#")[1].split("]")[0])
        assert done["Subject"] == f"Re: [#{number}] Lampadaire qui clignote"
        assert f"#{number}" in plain(done)
        # A reply in the report's thread goes to that report.
        added = box.answer(gmail_reply("Il clignote encore ce soir.", done))
        assert plain(added).startswith(f"Ajouté à #{number}.")
    finally:
        box.close()
    with rt.db.transaction() as session:
        report = get_report(session, number)
        assert report.channel == "email"
        assert report.description.startswith("Lampadaire qui clignote\nLe lampadaire devant")
        photo, _ = media_of_report(session, number)
        kept = [e.public_message for e in report_events(session, number) if e.public_message]
        assert kept == ["Il clignote encore ce soir."]
        reports.change_status(session, number, "acknowledged", message="Un agent passe demain.")
    send_outbox(rt)
    notice = smtp.messages(RESIDENT)[-1]
    assert notice["Subject"] == f"Re: [#{number}] Lampadaire qui clignote"
    assert "Un agent passe demain." in plain(notice)
    thread = notice["References"].split()
    assert thread[0] == first["Message-ID"] and notice["In-Reply-To"] == thread[-1]
    stored = Image.open(rt.settings.MEDIA_DIR + "/" + photo.path)
    assert not stored.getexif()  # the GPS position the phone wrote is gone


def out_of_office(answers: EmailMessage) -> EmailMessage:
    reply = resident_mail("Je suis absent jusqu’au 4 janvier.", answers=answers)
    reply.replace_header("Subject", "Réponse automatique : absent")
    reply["Auto-Submitted"] = "auto-replied"
    return reply


def newsletter(_answers) -> EmailMessage:
    return resident_mail(
        "Les nouvelles du mois : le lampadaire de la rue de la Poterie...",
        subject="Lettre d’information",
        headers={"Precedence": "list", "List-Id": "<infos.example.org>"},
    )


def bounce(answers: EmailMessage) -> EmailMessage:
    """A delivery status notification (RFC 3464) for our answer, as Postfix writes it."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.org>"
    report["To"] = TOWN
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = make_msgid(domain="mx.example.org")
    report["Auto-Submitted"] = "auto-replied"
    report.attach(MIMEText("Your message could not be delivered: no such user.", "plain"))
    status = Message()
    status.set_type("message/delivery-status")
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = "dns; mx.example.org"
    per_recipient["Final-Recipient"] = f"rfc822; {RESIDENT}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.1.1"
    status.set_payload([per_message, per_recipient])
    report.attach(status)
    report.attach(MIMEMessage(answers))
    return report


@pytest.mark.parametrize(
    ("make", "outcome", "unreachable"),
    [
        pytest.param(out_of_office, "automatic", False, id="out-of-office"),
        pytest.param(newsletter, "automatic", False, id="mailing-list"),
        pytest.param(bounce, "bounce", True, id="bounce"),
    ],
)
def test_robots_are_never_answered_and_a_bounce_marks_the_address(
    mail_sqlite_app, smtp, make, outcome, unreachable
):
    rt = mail_sqlite_app.extensions["webleads"]
    pipe(mail_sqlite_app, resident_mail("Bonjour", subject="Question"))
    send_outbox(rt)
    (answer,) = smtp.wait_for(1, to=RESIDENT)

    robot = make(answer)
    assert pipe(mail_sqlite_app, robot) == outcome
    with rt.db.transaction() as session:
        assert find_citizen(session, "email", RESIDENT).unreachable is unreachable
    assert pipe(mail_sqlite_app, robot) == "duplicate"
    send_outbox(rt)
    assert len(smtp.messages(RESIDENT)) == 1
    with rt.db.transaction() as session:
        assert find_citizen(session, "email", "mailer-daemon@mx.example.org") is None


def test_stop_opts_out_and_a_mailbox_restart_answers_nothing_twice(
    mail_sqlite_app, smtp, imap_server, mailbox
):
    rt = mail_sqlite_app.extensions["webleads"]
    first = resident_mail("Bonjour", subject="Question")
    imap_server.deliver(bytes(first), mailbox)
    client = imap_server.client(mailbox)
    try:
        assert fetch_unseen(rt, client)
        assert imap_server.unseen(mailbox) == []
        # A crash after the message was stored, before \\Seen: read again, not answered twice.
        client.remove_flags(client.search(["ALL"]), [SEEN])
        assert fetch_unseen(rt, client)
    finally:
        client.logout()
    send_outbox(rt)
    (answer,) = smtp.wait_for(1, to=RESIDENT)

    def opted_out() -> bool:
        with rt.db.transaction() as session:
            return find_citizen(session, "email", RESIDENT).opted_out

    # The mail client's one-click "unsubscribe" (RFC 8058); a link checker's GET is not one.
    link = answer["List-Unsubscribe"].split(">")[0].removeprefix("<")
    path = link.removeprefix(PUBLIC)
    web = mail_sqlite_app.test_client()
    assert "Me désabonner" in web.get(path).get_data(as_text=True) and not opted_out()
    assert web.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert opted_out()
    send_outbox(rt)
    # START comes back; a client's mailto "unsubscribe" (subject STOP, no words) leaves again.
    pipe(mail_sqlite_app, resident_mail("START", subject="START"))
    assert not opted_out()
    send_outbox(rt)
    assert pipe(mail_sqlite_app, resident_mail("", subject="STOP")) == "message"
    assert opted_out()
    send_outbox(rt)
    pipe(mail_sqlite_app, gmail_reply("Il y a un trou rue de la Poterie", answer))
    send_outbox(rt)
    # The answer, each STOP's confirmation and START's welcome; nothing after STOP.
    later = [plain(m) for m in smtp.messages(RESIDENT)[1:]]
    assert len(later) == 3, later
    assert "Il y a un trou" not in later[-1]


def html_only(body_html: str, **kwargs) -> EmailMessage:
    message = resident_mail("", **kwargs)
    message.set_content(body_html, subtype="html")
    return message


@pytest.mark.parametrize(
    ("message", "said"),
    [
        pytest.param(
            resident_mail("Il y a un trou.\n\nEnvoyé de mon iPhone", subject="Nid-de-poule"),
            "Nid-de-poule\nIl y a un trou.",
            id="new-message-subject-and-body",
        ),
        pytest.param(
            html_only(
                "<div>Toujours pas réparé.</div><div><br></div><div>Cordialement,<br>Jean</div>"
                '<div id="divRplyFwdMsg"><b>De :</b> Mairie de Vitré<br><b>Envoyé :</b> lundi'
                "<br><b>À :</b> jean<br><b>Objet :</b> [#1042] Trou</div><div>Votre "
                "signalement</div>",
                subject="RE: [#1042] Trou",
            ),
            "Toujours pas réparé.",
            id="outlook-html-reply",
        ),
        pytest.param(resident_mail("STOP", subject="Re: Question"), "STOP", id="stop"),
        pytest.param(resident_mail("", subject="STOP"), "STOP", id="unsubscribe-mailto"),
    ],
)
def test_what_the_resident_wrote_is_read_without_history_or_signature(message, said):
    mail = parse(bytes(message))
    assert (mail.kind, mail.text) == ("message", said)


def test_the_poster_gives_the_towns_address_and_the_console_masks_residents(mail_sqlite_app):
    codes, text = read_pdf(poster_pdf(kit_for(mail_sqlite_app.extensions["webleads"])))
    assert f"mailto:{TOWN}?subject=Signalement" in codes
    assert f"Écrivez à {TOWN}." in " ".join(text.split())
    assert channels.label("email", "fr") == "Courriel"
    assert channels.mask("email", RESIDENT) == "j••••••••••@example.org"
    # The pilot's allowlist takes an address as typed by an admin.
    assert channels.identity_of("Jean.Dupont@Example.org", "FR") == ("email", RESIDENT)
