"""The web channel: residents report from the town's website (GET /signaler).

The same conversation as the chat channels, one step per page, server-rendered and
usable without JavaScript (routes.py); a browser session is the citizen (visit.py); the
replies are shown on the page and the notices leave by e-mail to a confirmed address
(follow.py, sender.py). See docs/web.md.
"""

from __future__ import annotations

from services.channels import Channel, Invite, Limits, register
from services.config import Settings
from webhooks.web import follow  # noqa: F401  (its routes are on the blueprint)
from webhooks.web.inbound import CHANNEL, fetcher
from webhooks.web.routes import bp
from webhooks.web.sender import WebSender


def _invite(settings: Settings, code: str | None) -> Invite | None:
    """The reporting page (whatever the code: the site needs none, and follows no report
    by link: its last page offers e-mail)."""
    url = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/signaler"
    return Invite("Site web", "Scannez, puis décrivez le problème sur le site.", url)


CHANNEL_SPEC = register(
    Channel(
        name=CHANNEL,
        labels={"en": "Website", "fr": "Site web"},
        can_show_buttons=True,  # choices are the form's submit buttons
        can_receive_photos=True,  # a file field, taken in like any channel's picture
        blueprints=(bp,),
        sender=WebSender,
        fetcher=fetcher,
        # Replies cost nothing (the page shows them); e-mails are paced for the SMTP server.
        limits=lambda settings: Limits(10.0),
        invite=_invite,
    )
)
