"""The Content-Security-Policy of a page that draws a map (the console's pages, the public
site's): our own files only, the tiles from the configured tile server, if any.

Below both the console and the public site, which know nothing of each other."""

from __future__ import annotations

from services.config import Settings
from services.maps import map_tiles


def content_security_policy(settings: Settings) -> str:
    """Only our own files; map tiles from the configured tile server, if any."""
    images = ["'self'", "data:"]
    tile_origin = _origin(map_tiles(settings).url)
    if tile_origin:
        images.append(tile_origin)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {' '.join(images)}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _origin(url: str) -> str:
    """Turns `https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png` into an origin CSP accepts."""
    if not url or "://" not in url:
        return ""
    scheme, rest = url.split("://", 1)
    host = rest.split("/", 1)[0].replace("{s}", "*")
    return f"{scheme}://{host}"
