"""The web channel: residents report from the town's website (GET /signaler).

The same conversation as the chat channels, one step per page, server-rendered and
usable without JavaScript (routes.py); a browser session is the citizen (visit.py); the
replies are shown on the page and the notices leave by e-mail to a confirmed address
(follow.py, sender.py). See docs/web.md.
"""

from __future__ import annotations

from services.channels import Channel, Limits, register
from webhooks.web import follow  # noqa: F401  (its routes are on the blueprint)
from webhooks.web.inbound import CHANNEL, fetcher
from webhooks.web.routes import bp
from webhooks.web.sender import WebSender

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
        # No invite of its own: the launch kit's QR code to the public site and the menu
        # link "Signaler un problème" on every public page lead here.
    )
)
