"""The town's logo for its printed documents: uploaded in the console (PNG or JPEG, up to
2 MB), made small for print, kept in the settings every node reads, audited."""

from __future__ import annotations

import base64
import hashlib
import io

from PIL import Image
from sqlmodel import Session

from models.settings import set_setting
from services import audit
from services.audit import Action, Actor, Thing

LOGO_SETTING = "town_logo_png"
LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_SIDE = 600  # px: crisp at the poster's size, small in the settings


class LogoError(ValueError):
    """The uploaded file is not a picture the kit can print."""


def logo_png(data: bytes) -> bytes:
    """A PNG or JPEG upload made into a small PNG for print; raises LogoError."""
    if not data or len(data) > LOGO_MAX_BYTES:
        raise LogoError("size")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as image:
            if image.width * image.height > 40_000_000:
                raise LogoError("pixels")
            image.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE))
            out = io.BytesIO()
            image.convert("RGBA").save(out, "PNG", optimize=True)
    except (OSError, Image.DecompressionBombError) as exc:
        raise LogoError("format") from exc
    return out.getvalue()


def town_logo(settings: dict) -> bytes | None:
    encoded = settings.get(LOGO_SETTING)
    return base64.b64decode(encoded) if encoded else None


def store_logo(session: Session, actor: Actor, png: bytes | None) -> None:
    """Keeps the town's logo (None: removes it) in the settings every node reads, audited."""
    digest = hashlib.sha256(png).hexdigest()[:12] if png else None
    set_setting(session, LOGO_SETTING, base64.b64encode(png).decode() if png else None)
    action = Action.UPDATED if png else Action.REMOVED
    audit.record(session, actor, Thing.LOGO, "launch kit", action, {"png": [None, digest]})
