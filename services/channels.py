"""The channels citizens write from, as plug-ins: one `Channel` spec per webhooks/<name>/
package, registered in one registry that the app factory (blueprints, CLI), the worker
(senders, picture fetchers, rate limits, background loops), the console (labels, masks,
filters), the pilot (allowlists) and the launch kit (posters) iterate.

Handlers never ask a channel's name: they ask what it can do (`ctx.channel.can_show_buttons`).
Adding a channel is a new package that ends with `register(Channel(...))` and one import
line in webhooks/__init__.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import phonenumbers

from services.config import Setting, Settings, declare

if TYPE_CHECKING:
    from sqlmodel import Session

    from models.citizen import Citizen
    from models.messaging import Outbox
    from services.runtime import Runtime
    from services.types import Inbound


# --- what a channel's sender may answer (the outbox worker acts on each) -------------


class TemporaryFailure(Exception):
    """The provider may accept the message later (network, 5xx, 429)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The provider will never deliver to this citizen (blocked, unsubscribed, invalid)."""

    def __init__(self, reason: str, citizen_flag: str | None = None) -> None:
        super().__init__(reason)
        # "unreachable" or "opted_out": what it says about the citizen, if anything.
        self.citizen_flag = citizen_flag


class Held(Exception):
    """The channel cannot take this message now; it waits for the citizen's next message
    (WhatsApp outside its 24-hour window), listed in the console meanwhile."""


class Sender(Protocol):
    """What a channel's `sender` makes for the worker."""

    channel: str

    def send(self, message: Outbox) -> str | None:
        """Sends one message; returns the provider's message id."""


# --- the spec ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """How fast the worker may send on a channel (the provider's documented limits)."""

    per_second: float
    # At most one message per `per_recipient` seconds to one recipient, after a burst.
    per_recipient: float | None = None
    recipient_burst: int = 1


@dataclass(frozen=True)
class Invite:
    """How a resident starts a conversation, for posters and the public page."""

    label: str  # "Telegram", "SMS"
    instruction: str  # in French, as printed: "Scannez, puis appuyez sur Démarrer."
    url: str | None  # what the QR code opens (None: nothing to scan)


class InviteUnavailable(RuntimeError):
    """A channel is set up but cannot say how to reach it (its provider did not answer)."""


def keep_last(address: str, shown: int = 2) -> str:
    """Hides all but the last `shown` characters; a short address is hidden whole."""
    if len(address) <= 2 * shown:
        return "•" * len(address)
    return "•" * (len(address) - shown) + address[-shown:]


def mask_phone(number: str) -> str:
    """Shows a phone number with the middle hidden: +33 6 ** ** ** 78."""
    try:
        parsed = phonenumbers.parse(number, None)
        shown = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        shown = number
    groups = shown.split()
    if len(groups) < 3:
        digits = number[-2:] if len(number) > 4 else ""
        return "*" * max(0, len(number) - 2) + digits
    head, tail = groups[:2], groups[-1]
    middle = ["*" * len(g) for g in groups[2:-1]]
    return " ".join([*head, *middle, "*" * (len(tail) - 2) + tail[-2:]])


def unmasked(address: str) -> str:
    return address


def _no_identity(text: str, region: str) -> str | None:
    return None


@dataclass(frozen=True)
class Channel:
    """What the rest of the product knows of a channel; everything else is in its package."""

    name: str  # stored on citizens, reports and outbox rows
    labels: dict[str, str]  # as the console shows it, per language ("en" is the fallback)
    # What the handlers ask (never the name).
    can_show_buttons: bool = False  # choices as buttons; else a numbered list to type
    can_share_location: bool = False  # a pin from the app; else a typed address
    can_receive_photos: bool = False  # photos reach us through the channel
    can_show_photos: bool = False  # we can send a photo (`Reply.photo`) to the chat
    needs_link_for_pin: bool = False  # the one-time page (/r/...) adds the photo and the pin
    has_command_menu: bool = False  # the app shows the commands (Telegram's "/" menu)
    # A channel citizens use (False: the simulator, the Open311 API).
    for_citizens: bool = True
    enabled: Callable[[Settings], bool] = lambda settings: True
    blueprints: tuple[Any, ...] = ()
    # The worker: makes the sender of outbox messages (`send(message) -> provider id`).
    sender: Callable[[Runtime], Sender] | None = None
    # The worker: downloads a picture an Inbound names -> (StoredPhoto | None, why not).
    fetcher: Callable[[Any], Callable[[dict], tuple]] | None = None
    limits: Callable[[Settings], Limits] | None = None
    # `webleads run`: a loop to run beside the web server (Telegram long polling).
    background: Callable[[Any, Any], None] | None = None
    # The worker (and `webleads run`): a loop beside the outbox, given (runtime, stop event):
    # the e-mail channel's mailbox.
    worker_loop: Callable[[Any, Any], None] | None = None
    cli: Any = None  # a click group added to `webleads`
    # How the console shows an address; a channel that says nothing is masked strictly.
    mask: Callable[[str], str] = keep_last
    # The pilot's allowlist: an entry typed by an admin -> this channel's address.
    identity: Callable[[str, str], str | None] = _no_identity
    # Whose allowlist entries admit this channel's citizens (WhatsApp: the phone's, "sms").
    allowlist_as: str | None = None
    # Posters and the public page: how to start, with a QR code.
    invite: Callable[[Settings, str | None], Invite | None] | None = None
    # The console's simulator: how this channel would draw a Reply (its own shapes, as a
    # dict the simulator's page knows how to draw), given the citizen's language.
    preview: Callable[[Any, str], dict] | None = None
    # The console's counter (a resident who called or came to the desk): the kind of
    # address an agent may type for a resident on this channel, "phone" or "email", read
    # by `identity`; None: agents cannot type one.
    typed_by_agent: str | None = None
    # Its settings (env names, defaults, secrets, a one-line comment each, checks at
    # start), read by `load_settings` as the core's and listed in .env.example.
    settings: tuple[Setting, ...] = ()
    # Called by the engine right after the citizen is locked, in the message's transaction
    # (session, citizen, inbound): what the channel records of every message it receives
    # (WhatsApp: its 24-hour window opens, held messages go).
    on_inbound: Callable[[Session, Citizen, Inbound], None] | None = None

    def label(self, language: str = "en") -> str:
        return self.labels.get(language) or self.labels["en"]


_REGISTRY: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    """Adds a channel (its package calls this once, at import)."""
    existing = _REGISTRY.get(channel.name)
    if existing is not None and existing is not channel:
        raise ValueError(f"two channels are named {channel.name!r}")
    declare(channel.settings)
    _REGISTRY[channel.name] = channel
    return channel


def unregister(name: str) -> None:
    """Takes a channel out (tests that plug a throwaway channel in)."""
    _REGISTRY.pop(name, None)


def all_channels() -> Iterator[Channel]:
    return iter(list(_REGISTRY.values()))


def enabled_channels(settings: Settings) -> list[Channel]:
    return [c for c in all_channels() if c.enabled(settings)]


def reachable() -> list[Channel]:
    """The channels a resident starts a conversation on (each has an invite, which says
    whether it is set up): what the town's copy names (the launch kit, the pilot)."""
    return [c for c in all_channels() if c.for_citizens and c.invite is not None]


def on_allowlists() -> list[Channel]:
    """The channels whose residents an allowlist entry may name (read by their own
    `identity`, or by another's: WhatsApp's by the phone's)."""
    return [c for c in all_channels() if c.for_citizens and (reads_identity(c) or c.allowlist_as)]


def reads_identity(channel: Channel) -> bool:
    """It reads allowlist entries typed by an admin (`identity`)."""
    return channel.identity is not _no_identity


def get(name: str) -> Channel:
    """The channel of this name; an unknown one (an old row) can do nothing special and
    is masked like the others."""
    return _REGISTRY.get(name) or Channel(name=name, labels={"en": name})


def label(name: str, language: str = "en") -> str:
    return get(name).label(language)


def mask(name: str, address: str) -> str:
    return get(name).mask(address)


def identity_of(text: str, region: str) -> tuple[str, str] | None:
    """The (channel, address) an allowlist entry names, asking each channel in turn."""
    for channel in all_channels():
        address = channel.identity(text, region)
        if address is not None:
            return channel.name, address
    return None


# --- following a report from another channel (the public report page, the web channel) ---

# The words a citizen sends to follow a report (services/words.py knows both languages).
FOLLOW_WORDS = "SUIVRE {number}"


@dataclass(frozen=True)
class FollowWay:
    label: str
    url: str
    words: str | None  # what to send, when the link opens a message


def follow_ways(settings: Settings, number: int) -> list[FollowWay]:
    """A link per channel that starts following a report: a deep link, or a message to send."""
    ways = []
    for channel in enabled_channels(settings):
        if channel.invite is None or not channel.for_citizens:
            continue
        try:
            invite = channel.invite(settings, f"follow_{number}")
        except InviteUnavailable:
            continue  # the provider did not say how to reach it: that way is left out
        if invite is None or not invite.url:
            continue
        follow = follow_link(invite.url, number)
        if follow is not None:
            ways.append(FollowWay(invite.label, *follow))
    return ways


def follow_link(invite_url: str, number: int) -> tuple[str, str | None] | None:
    """The invite's link made to follow a report: a deep link keeps the code it was given
    (Telegram's `?start=follow_1042`); a link that opens a message (SMS `body=`, WhatsApp's
    click-to-chat `text=`) gets the words `SUIVRE 1042` instead of its greeting."""
    if "start" in {name for name, _ in parse_qsl(urlsplit(invite_url).query)}:
        return invite_url, None
    words = FOLLOW_WORDS.format(number=number)
    url = prepared(invite_url, words)
    return (url, words) if url is not None else None


def prepared(invite_url: str, words: str) -> str | None:
    """The invite's link with `words` as the message it prepares (SMS `body=`, WhatsApp's
    click-to-chat `text=`); None for a link that prepares none."""
    parts = urlsplit(invite_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = {name for name, _ in query}
    for field_name in ("body", "text"):
        if field_name in names:
            query = [(n, words if n == field_name else v) for n, v in query]
            return urlunsplit(parts._replace(query=urlencode(query)))
    return None
