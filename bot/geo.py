"""Geocoding and the town's zones (the geocoders are filled in by the geo issue)."""

from __future__ import annotations

from dataclasses import dataclass


class GeocoderUnavailable(RuntimeError):
    """The geocoder is down or too slow: the conversation goes on without it."""


@dataclass(frozen=True)
class Place:
    label: str
    lat: float
    lon: float
    score: float = 1.0


class NoGeocoder:
    """GEOCODER=none: typed addresses are kept as text, flagged 'not geolocated'."""

    enabled = False

    def search(self, text: str) -> list[Place]:
        return []

    def reverse(self, lat: float, lon: float) -> Place | None:
        return None


def make_geocoder(settings) -> NoGeocoder:
    return NoGeocoder()
