"""The one e-mail sender, against a real SMTP server."""

import pytest

from services.mail import MailConfigError, MailRefused, SmtpServer, build_message, send_message


def test_a_message_reaches_the_server_with_its_thread_headers_and_both_parts(smtp):
    message = build_message(
        sender="Mairie de Vitré <signalements@vitre.example>",
        to="yann@example.org",
        subject="[#1042] Nid-de-poule",
        text="Votre signalement #1042 est pris en charge.",
        html="<p>Votre signalement <b>#1042</b> est pris en charge.</p>",
        in_reply_to="<first@example.org>",
        references=["<first@example.org>"],
    )
    message_id = send_message(smtp.url, message)

    (received,) = smtp.wait_for(1, to="yann@example.org")
    assert received["Subject"] == "[#1042] Nid-de-poule"
    assert received["Message-ID"] == message_id and message_id.endswith("@vitre.example>")
    assert received["In-Reply-To"] == "<first@example.org>"
    assert received["Auto-Submitted"] == "auto-replied"
    assert "pris en charge" in received.get_body(("plain",)).get_content()
    assert "<b>#1042</b>" in received.get_body(("html",)).get_content()


def test_an_address_the_server_refuses_is_a_refusal_not_a_retry(smtp):
    smtp.refuse("nobody@example.org")
    message = build_message(
        sender="signalements@vitre.example", to="nobody@example.org", subject="x", text="x"
    )
    with pytest.raises(MailRefused):
        send_message(smtp.url, message)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://relay.example", ("relay.example", 25, "plain", "", "")),
        ("smtps://u%40x:p%2Fw@mail.example", ("mail.example", 465, "tls", "u@x", "p/w")),
        ("smtp+starttls://u:p@mail.example:2525", ("mail.example", 2525, "starttls", "u", "p")),
    ],
)
def test_smtp_url_forms(url, expected):
    server = SmtpServer.from_url(url)
    assert (server.host, server.port, server.security, server.user, server.password) == expected


def test_a_wrong_smtp_url_says_what_it_should_look_like():
    with pytest.raises(MailConfigError, match="smtp://user:pass@host:port"):
        SmtpServer.from_url("http://mail.example")
