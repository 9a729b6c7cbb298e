"""Everything that speaks a provider's protocol: one package per channel, each registering
its `Channel` spec (services/channels.py). Adding a channel is a package and one line here."""

from webhooks import telegram  # noqa: F401  isort: skip
from webhooks import sms  # noqa: F401  isort: skip
from webhooks import whatsapp  # noqa: F401  isort: skip
from webhooks import dev  # noqa: F401  isort: skip
from webhooks import email  # noqa: F401  isort: skip
from webhooks import web  # noqa: F401  isort: skip
