"""The one-time page a channel without pins or photos sends (`/r/<token>`): the citizen
adds a photo and drops the pin (page.py), and later sees the photo of the work done
(after.py). The blueprint is registered by the channels that need it (SMS)."""

from webhooks.link import after  # noqa: F401  (its routes are on the page's blueprint)
from webhooks.link.page import bp

__all__ = ["bp"]
