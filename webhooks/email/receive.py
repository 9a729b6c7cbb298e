"""One e-mail in, from the MTA's pipe (`webleads mail receive`) or the mailbox (imap.py):
parsed, placed in its thread, handed to the engine; a bounce marks its address."""

from __future__ import annotations

import logging
from dataclasses import asdict
from email.utils import parseaddr

from bot import engine
from models.citizen import find_citizen, lock_citizen, update_citizen
from models.mail_thread import remember_mail, report_thread, thread_of
from models.messaging import cancel_queued_for, record_inbound
from models.report import is_follower
from services.media import MAX_PHOTO_BYTES, PhotoError, store_photo
from services.runtime import Runtime
from services.storage import StoreUnavailable
from services.texts import pick_language
from services.types import Inbound
from webhooks.email.inbound import BOUNCE, CHANNEL, MESSAGE, Mail, parse

log = logging.getLogger(__name__)

BOUNCED = "the address bounced (a delivery status notification)"
# What a later delivery of the same message may not meet: the MTA is asked to deliver it
# again (exit 75), the mailbox leaves it unseen.
TRY_LATER = (*engine.TRANSIENT, StoreUnavailable)


def receive(rt: Runtime, raw: bytes) -> str:
    """Handles one message; returns what it was ("message", "automatic", "bounce",
    "unusable", "duplicate"). A database or photo store that is away raises TRY_LATER
    (the MTA or the mailbox loop tries again later); a redelivered message has no second
    effect."""
    own = rt.settings.MAIL_FROM
    mail = parse(raw, own_address=_address_of(own))
    if mail.kind != MESSAGE:
        with rt.db.transaction() as session:
            if not record_inbound(session, CHANNEL, mail.external_id):
                return "duplicate"
            if mail.kind == BOUNCE:
                _mark_unreachable(session, mail.bounced)
        log.info("e-mail %s from %r not answered: %s", mail.message_id, mail.sender, mail.kind)
        return mail.kind
    inbound = _inbound(rt, mail)
    replied = _place_in_thread(rt, mail)
    if replied is not None:
        inbound.meta["replied_report"] = replied
    with engine.acknowledged(rt, CHANNEL, mail.external_id):
        if engine.handle(inbound, rt).duplicate:
            return "duplicate"
    return MESSAGE


def _inbound(rt: Runtime, mail: Mail) -> Inbound:
    """The engine's message: the words, and the picture taken in as every channel's."""
    inbound = Inbound(
        CHANNEL,
        mail.sender,
        external_id=mail.external_id,
        text=mail.text or None,
        display_name=mail.name,
        language_code=mail.language,
        meta={"limit_mb": MAX_PHOTO_BYTES // (1024 * 1024)},
    )
    kept, refused = [], None
    for picture in mail.pictures:
        try:
            kept.append(store_photo(picture, rt.settings))
        except PhotoError as exc:
            refused = refused or exc.reason
    if kept:
        inbound.photo = kept[0]
        # The steps keep these with the first one (handlers/photo.py keep_photo).
        inbound.meta["more_photos"] = [asdict(photo) for photo in kept[1:]]
    elif refused:
        inbound.photo_error = refused
    return inbound


def _place_in_thread(rt: Runtime, mail: Mail) -> int | None:
    """Records the message in its thread before the engine answers it, so the answer
    finds its thread; returns the report the thread is about, if any.

    The citizen is created here when new (as the engine would), so the thread row can
    name them; a redelivery records nothing twice.
    """
    language = pick_language(mail.language, rt.settings.DEFAULT_LANGUAGE)
    with rt.db.transaction() as session:
        citizen, _, _ = lock_citizen(
            session, CHANNEL, mail.sender, display_name=mail.name, language=language
        )
        known = thread_of(session, citizen.id, mail.answers)
        report_id = known.report_id if known is not None else None
        tagged = mail.tagged_report
        # A client that kept the subject but not the headers: "[#1042]" says it.
        if known is None and tagged is not None and is_follower(session, tagged, citizen.id):
            report_id = tagged
            known = report_thread(session, citizen.id, report_id)
        remember_mail(
            session,
            message_id=mail.message_id,
            citizen_id=citizen.id,
            root=known.root if known is not None else mail.message_id,
            report_id=report_id,
            subject=known.subject if known is not None and known.subject else mail.subject,
            outbound=False,
        )
    return report_id


def _mark_unreachable(session, addresses: list[str]) -> None:
    """A bounce: the address cannot receive, like a chat that blocked the bot."""
    for address in addresses:
        citizen = find_citizen(session, CHANNEL, address)
        if citizen is not None:
            update_citizen(session, citizen.id, unreachable=True)
            cancel_queued_for(session, citizen.id, BOUNCED)


def _address_of(sender: str) -> str:
    return parseaddr(sender)[1]
