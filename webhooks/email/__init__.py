"""The e-mail channel: residents write to the town's address (MAIL_FROM).

Inbound as an MTA delivers it (`webleads mail receive`, cli.py) or from the mailbox the
worker watches (MAIL_IMAP_URL, imap.py); both parse (inbound.py) and hand over
(receive.py) the same way. Outbound through services/mail.py (sender.py), every message
of a report in one thread; one-click unsubscribe (routes.py). Its `Channel` spec is
registered below.
"""

from __future__ import annotations

import re
from email.utils import parseaddr
from urllib.parse import quote

from services.channels import Channel, Invite, Limits, register
from services.config import Setting, Settings
from webhooks.email.cli import mail_cli
from webhooks.email.imap import watch_mailbox
from webhooks.email.inbound import CHANNEL
from webhooks.email.routes import bp
from webhooks.email.sender import MailSender

SETTINGS = (
    # The core's SMTP_URL and MAIL_FROM send (bodies get e-mails too); this one reads.
    Setting(
        "MAIL_IMAP_URL",
        secret=True,
        doc="E-mail: the mailbox the worker reads, imaps://user:pass@host/INBOX",
    ),
)
ADDRESS_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
SUBJECT = "Signalement"


def _enabled(settings: Settings) -> bool:
    return settings.mail_enabled


def mask_email(address: str) -> str:
    """Shows an address as j•••••@gmail.com: the first letter and the domain."""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "•" * len(address)
    return local[0] + "•" * max(len(local) - 1, 3) + "@" + domain


def email_identity(text: str, region: str) -> str | None:
    """An e-mail address typed by an admin in the pilot's allowlist, lowercased."""
    if "@" not in text:
        return None
    if not ADDRESS_RE.match(text.strip()):
        raise ValueError("not a valid e-mail address")
    return text.strip().lower()


def _invite(settings: Settings, code: str | None) -> Invite | None:
    """A new e-mail to the town's address (MAIL_FROM)."""
    address = parseaddr(settings.MAIL_FROM)[1]
    if not address:
        return None
    return Invite("E-mail", f"Écrivez à {address}.", f"mailto:{address}?subject={quote(SUBJECT)}")


CHANNEL_SPEC = register(
    Channel(
        name=CHANNEL,
        labels={"en": "E-mail", "fr": "Courriel"},
        can_receive_photos=True,  # attached pictures
        enabled=_enabled,
        settings=SETTINGS,
        blueprints=(bp,),
        sender=MailSender,
        # A town's SMTP relay: a few messages a second, no more to one resident at once.
        limits=lambda settings: Limits(5.0, per_recipient=1.0, recipient_burst=3),
        worker_loop=watch_mailbox,
        cli=mail_cli,
        mask=mask_email,
        identity=email_identity,
        typed_by_agent="email",  # at the counter, an agent may type a resident's address
        invite=_invite,
    )
)
