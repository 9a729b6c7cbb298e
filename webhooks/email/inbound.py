"""Reads one RFC 5322 message into what the engine needs: who wrote, the words of this
message alone (no quoted history, no signature), the pictures attached, and the
thread it answers; or says it is automatic (an out-of-office, a list) or a bounce."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

from services import words

CHANNEL = "email"

MESSAGE, AUTOMATIC, BOUNCE, UNUSABLE = "message", "automatic", "bounce", "unusable"

# RFC 3834 and what mail systems write on what no person wrote.
AUTOMATIC_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
AUTOMATIC_HEADERS = ("List-Id", "List-Unsubscribe", "X-Autoreply", "X-Autorespond")
# Reply and forward prefixes of the usual clients (French and English, Outlook's "TR").
PREFIX_RE = re.compile(r"^\s*(?:(?:re|r[ée]f|fwd?|tr|aw|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
REFERENCE_RE = re.compile(r"\[#(\d{1,9})\]")
# "Sent from my iPhone" and their French twins, which no parser counts as a signature.
SENT_FROM_RE = re.compile(
    r"^\s*(?:sent from|envoy[ée] (?:de|depuis)|obtenir outlook|get outlook|"
    r"t[ée]l[ée]charger outlook)\b.*$",
    re.I | re.M,
)
# A picture pasted inside an HTML signature (a logo) is not the resident's photo.
SIGNATURE_IMAGE_BYTES = 20_000
PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".gif")
MAX_ADDRESS = 64  # Citizen.address
# Pictures kept from one message (a report's photos are a few, not an album).
MAX_PICTURES = 3

_REPLY_PARSER = EmailReplyParser(languages=["fr", "en"])


@dataclass
class Mail:
    kind: str
    message_id: str = ""
    sender: str = ""
    name: str | None = None
    subject: str = ""
    text: str = ""
    # In-Reply-To first, then References newest first: the messages this one answers.
    answers: list[str] = field(default_factory=list)
    tagged_report: int | None = None
    language: str | None = None  # Content-Language, when the client says it ("en-GB")
    pictures: list[bytes] = field(default_factory=list)
    bounced: list[str] = field(default_factory=list)

    @property
    def external_id(self) -> str:
        """The inbound log's key: Message-IDs can be longer than its column."""
        return hashlib.sha256(self.message_id.encode()).hexdigest()


def parse(raw: bytes, own_address: str = "") -> Mail:
    """Reads a message as the MTA or the mailbox handed it over."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    message_id = str(message.get("Message-ID") or "").strip()
    if not message_id:  # a client that sets none: the same bytes are the same message
        message_id = f"<{hashlib.sha256(raw).hexdigest()}@no-message-id>"
    if is_bounce(message):
        return Mail(BOUNCE, message_id=message_id, bounced=failed_recipients(message))
    sender = parseaddr(str(message.get("From") or ""))
    address = sender[1].strip().lower()
    if is_automatic(message) or address == own_address.lower():
        return Mail(AUTOMATIC, message_id=message_id, sender=address)
    if "@" not in address or len(address) > MAX_ADDRESS:
        return Mail(UNUSABLE, message_id=message_id, sender=address)
    raw_subject = " ".join(str(message.get("Subject") or "").split())
    tag = REFERENCE_RE.search(raw_subject)
    subject = PREFIX_RE.sub("", REFERENCE_RE.sub("", raw_subject)).strip()
    subject = PREFIX_RE.sub("", subject).strip()
    answers = _ids(message.get("In-Reply-To")) + _ids(message.get("References"))[::-1]
    replying = bool(answers) or PREFIX_RE.match(raw_subject) is not None
    body = own_words(body_text(message))
    return Mail(
        MESSAGE,
        message_id=message_id,
        sender=address,
        name=sender[0] or None,
        subject=subject,
        text=_what_was_said(subject, body, replying),
        answers=answers,
        tagged_report=int(tag.group(1)) if tag else None,
        pictures=pictures(message),
        language=str(message.get("Content-Language") or "").split(",")[0].strip() or None,
    )


def _what_was_said(subject: str, body: str, replying: bool) -> str:
    """The subject and the body as one sentence; a reply or a command is its body alone."""
    if not body:
        # A client's "unsubscribe" sends the subject STOP and nothing else; a reply's
        # subject is ours, not their words.
        return subject if not replying or words.parse(subject) is not None else ""
    if replying or not subject or words.parse(body) is not None:
        return body
    if body.lower().startswith(subject.lower()):
        return body
    return f"{subject}\n{body}"


def is_automatic(message: EmailMessage) -> bool:
    """An out-of-office, a list, a robot: never answered (RFC 3834)."""
    auto = str(message.get("Auto-Submitted") or "no").strip().lower()
    precedence = str(message.get("Precedence") or "").strip().lower()
    return (
        auto != "no"
        or precedence in AUTOMATIC_PRECEDENCE
        or any(message.get(name) is not None for name in AUTOMATIC_HEADERS)
        or str(message.get("Return-Path") or "").strip() == "<>"
    )


def is_bounce(message: EmailMessage) -> bool:
    """A delivery status notification (RFC 3464) saying a message could not be delivered."""
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == "delivery-status"
    )


def failed_recipients(message: EmailMessage) -> list[str]:
    """The addresses a DSN says failed for good ("Action: failed"), not the delayed ones."""
    failed = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in part.get_payload():
            if str(block.get("Action") or "").strip().lower() != "failed":
                continue
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient"))
            address = recipient.partition(";")[2].strip().lower()
            if "@" in address:
                failed.append(address)
    return failed


def body_text(message: EmailMessage) -> str:
    """The message's text: its plain part, else its HTML part as text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset
        content = part.get_payload(decode=True).decode("utf-8", "replace")
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    return content.replace("\r\n", "\n")


def own_words(text: str) -> str:
    """What the resident wrote in this message: no quoted history, no signature."""
    text = text.strip()
    if not text:
        return ""
    replies = _REPLY_PARSER.read(text=text).replies
    mine = replies[0].body if replies else text
    return SENT_FROM_RE.sub("", mine).strip()


def pictures(message: EmailMessage, limit: int = MAX_PICTURES) -> list[bytes]:
    """The pictures attached, in order (a small one pasted in a signature is a logo)."""
    found = []
    for part in message.walk():
        if part.is_multipart() or len(found) >= limit:
            continue
        name = (part.get_filename() or "").lower()
        is_picture = part.get_content_maintype() == "image" or (
            part.get_content_type() == "application/octet-stream"
            and name.endswith(PICTURE_SUFFIXES)
        )
        if not is_picture:
            continue
        data = part.get_payload(decode=True) or b""
        if part.get("Content-ID") and len(data) < SIGNATURE_IMAGE_BYTES:
            continue
        if data:
            found.append(data)
    return found


def _ids(header) -> list[str]:
    return re.findall(r"<[^<>\s]+>", str(header or ""))


class _Text(HTMLParser):
    """HTML to plain text: blocks become lines; quotes, styles and scripts are dropped."""

    SKIPPED = {"style", "script", "head", "blockquote"}
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag) -> None:
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    text = "".join(parser.parts)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()
